/**
 * Which MedicationAdministrations are study drug. A study-drug administration (MSC or
 * placebo, which share one blinded code, clinical-reference §0 Blinding) sets Day 0 and
 * counts as a dose; everything else is concomitant medication and never does.
 */
import type { CodeableConcept, Medication, MedicationAdministration, Reference, ResearchStudy } from '@medplum/fhirtypes';
import type { Coding, Trial } from '../trials';

/** R4 workflow extension linking an event to the ResearchStudy it belongs to. */
export const WORKFLOW_RESEARCH_STUDY_URL = 'http://hl7.org/fhir/StructureDefinition/workflow-researchStudy';

/** A site as the schedule needs it; src/config.ts SiteConfig fits. */
export interface SiteRef {
  readonly id: string;
}

/** The study-drug codes in force at a site: its override if configured, else the trial's codes. */
export function studyDrugCodes(trial: Trial, site: string | SiteRef): readonly Coding[] {
  const id = typeof site === 'string' ? site : site.id;
  return Object.prototype.hasOwnProperty.call(trial.studyDrug.siteOverrides, id) ? trial.studyDrug.siteOverrides[id] : trial.studyDrug.codes;
}

/**
 * True when the administration is this trial's study drug at this site: its medication
 * code is one the trial lists for the site, or it carries the workflow-researchStudy
 * extension pointing at the trial's ResearchStudy. The dose and product never matter.
 */
export function isStudyDrug(trial: Trial, ma: MedicationAdministration, site: string | SiteRef): boolean {
  return hasStudyDrugCode(studyDrugCodes(trial, site), ma) || referencesTrial(trial, ma);
}

function hasStudyDrugCode(codes: readonly Coding[], ma: MedicationAdministration): boolean {
  const concept = medicationConcept(ma);
  return (concept?.coding ?? []).some((c) => codes.some((k) => k.system === c.system && k.code === c.code));
}

/** medicationCodeableConcept, or the code of a contained Medication the reference points at. */
function medicationConcept(ma: MedicationAdministration): CodeableConcept | undefined {
  if (ma.medicationCodeableConcept) return ma.medicationCodeableConcept;
  const ref = ma.medicationReference?.reference;
  if (!ref?.startsWith('#')) return undefined;
  const med = (ma.contained ?? []).find((r) => r.resourceType === 'Medication' && r.id === ref.slice(1)) as Medication | undefined;
  return med?.code;
}

function referencesTrial(trial: Trial, ma: MedicationAdministration): boolean {
  const ids = new Set([trial.key, ...trial.studyDrug.researchStudyIds]);
  return (ma.extension ?? [])
    .filter((e) => e.url === WORKFLOW_RESEARCH_STUDY_URL && e.valueReference)
    .some((e) => studyNames(e.valueReference!, ma).some((n) => ids.has(n)));
}

/** Everything a ResearchStudy reference can name it by: identifier, literal id, contained identifiers. */
function studyNames(ref: Reference, ma: MedicationAdministration): string[] {
  const names: string[] = [];
  if (ref.identifier?.value) names.push(ref.identifier.value);
  const literal = ref.reference ?? '';
  if (literal.startsWith('#')) {
    const contained = (ma.contained ?? []).find((r) => r.resourceType === 'ResearchStudy' && r.id === literal.slice(1)) as ResearchStudy | undefined;
    for (const id of contained?.identifier ?? []) if (id.value) names.push(id.value);
  } else {
    const m = /(?:^|\/)ResearchStudy\/([^/]+)$/.exec(literal);
    if (m) names.push(m[1]);
  }
  return names;
}
