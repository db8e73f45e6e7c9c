/**
 * FHIR write-back: a flag becomes a resource in the patient's chart at a
 * connected site that allows it (`fhir.writeBack`). A Flag (FHIR R4
 * flag.html) with the trial's ResearchStudy as context (extension
 * workflow-researchStudy), or for dose deviations a DetectedIssue
 * (detectedissue.html). Created on raise (conditionally, on an identifier
 * holding the flag id, so a retry after a lost answer finds the first); on
 * resolve the same resource is updated: Flag.status `inactive`,
 * DetectedIssue.status `cancelled` (ObservationStatus: the issue no longer stands).
 */
import type { DetectedIssue, Flag, Reference, Resource } from '@medplum/fhirtypes';
import type { SiteClient } from '../connect/types';
import type { Alert } from './alert';
import { isDoseCode } from './fanout';

/** Identifier system of written-back resources: the value is the trialbridge flag id. */
export const FLAG_IDENTIFIER_SYSTEM = 'urn:trialbridge:flag';
/** Code system of trialbridge flag codes (eligible, potential-candidate, visit-missed ...). */
export const FLAG_CODE_SYSTEM = 'urn:trialbridge:flag-code';
export const WORKFLOW_RESEARCH_STUDY = 'http://hl7.org/fhir/StructureDefinition/workflow-researchStudy';

export interface WriteBackInput {
  readonly alert: Alert;
  readonly patientId: string;
  /** The site's ResearchStudy id for the trial; null = referenced by its identifier (the trial key). */
  readonly researchStudyId: string | null;
  readonly now: Date;
}

const studyRef = (i: WriteBackInput): Reference => (i.researchStudyId ? { reference: `ResearchStudy/${i.researchStudyId}` } : { identifier: { value: i.alert.trial }, display: i.alert.trial });

/** The chart text: code, trial and the workbench link; no values (they are in the workbench). */
const text = (a: Alert) => `trialbridge ${a.code} (${a.trial}${a.visit ? `, visit ${a.visit}` : ''}): ${a.link}`;

export function flagResource(i: WriteBackInput): Flag | DetectedIssue {
  const a = i.alert;
  const identifier = [{ system: FLAG_IDENTIFIER_SYSTEM, value: String(a.flag) }];
  const code = { coding: [{ system: FLAG_CODE_SYSTEM, code: a.code }], text: text(a) };
  const extension = [{ url: WORKFLOW_RESEARCH_STUDY, valueReference: studyRef(i) }];
  if (isDoseCode(a.code)) {
    return { resourceType: 'DetectedIssue', identifier, extension, status: 'final', code, severity: 'moderate', patient: { reference: `Patient/${i.patientId}` }, identifiedDateTime: i.now.toISOString(), detail: text(a) };
  }
  return {
    resourceType: 'Flag',
    identifier,
    extension,
    status: 'active',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/flag-category', code: 'research', display: 'Research' }] }],
    code,
    subject: { reference: `Patient/${i.patientId}` },
    period: { start: i.now.toISOString() },
  };
}

/** Creates the resource (conditional create on the identifier); returns what the EHR stored. */
export async function writeRaised(client: SiteClient, i: WriteBackInput): Promise<Flag | DetectedIssue> {
  const r = flagResource(i);
  return client.create(r, { ifNoneExist: `identifier=${encodeURIComponent(`${FLAG_IDENTIFIER_SYSTEM}|${i.alert.flag}`)}` });
}

/** Marks the stored resource resolved; returns the new version (null when the EHR no longer has it). */
export async function writeResolved(client: SiteClient, ref: { resourceType: 'Flag' | 'DetectedIssue'; resourceId: string }, now: Date): Promise<Resource | null> {
  const current = (await client.read(`${ref.resourceType}/${ref.resourceId}`)) as Flag | DetectedIssue | null;
  if (!current) return null;
  const next: Flag | DetectedIssue =
    current.resourceType === 'Flag' ? { ...current, status: 'inactive', period: { ...current.period, end: now.toISOString() } } : // R4 binds DetectedIssue.status to ObservationStatus (detectedissue.html); the R5-based types list another set.
        ({ ...current, status: 'cancelled' as DetectedIssue['status'] });
  return client.update(next, current.meta?.versionId ? { ifMatch: current.meta.versionId } : {});
}
