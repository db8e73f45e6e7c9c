/**
 * Clinician findings the scores need and lab feeds do not carry: ascites and
 * hepatic encephalopathy (Child-Pugh, clinical-reference §4.4) and dialysis
 * (MELD, §4.1). There is no one standard code for a graded CTP ascites or HE
 * finding, so trialbridge reads them from Observations coded as below [A];
 * a site maps its own documentation codes to these (or sends them from a
 * form), exactly like the eligibility answers of the trial files.
 *
 *   code urn:trialbridge:finding|ascites                 valueCodeableConcept urn:trialbridge:finding-value|none|mild|moderate-severe
 *   code urn:trialbridge:finding|hepatic-encephalopathy  valueCodeableConcept urn:trialbridge:finding-value|none|grade-1-2|grade-3-4
 *   code urn:trialbridge:finding|dialysis                valueBoolean (>= 2 sessions or 24 h CVVHD in the 7 days before)
 *   code urn:trialbridge:finding|circulation             valueCodeableConcept urn:trialbridge:finding-value|map-70-or-more|map-below-70|vasopressors
 *   code urn:trialbridge:finding|respiration             valueCodeableConcept urn:trialbridge:finding-value|pf-above-300|pf-201-300|pf-200-or-less|mechanical-ventilation
 *
 * Circulation and respiration are the CLIF-C OF bands 1, 2, 3 of clinical-reference §5
 * (PaO2/FiO2 > 300, 201-300, <= 200, or the SpO2/FiO2 equivalents > 357, 215-357, <= 214;
 * mechanical ventilation not for HE is band 3): vitals and ventilation are not lab feeds.
 */
import type { Observation, Resource } from '@medplum/fhirtypes';
import type { ClinicalFinding } from '../eligibility';

export const FINDING_SYSTEM = 'urn:trialbridge:finding';
export const FINDING_VALUE_SYSTEM = 'urn:trialbridge:finding-value';

const GRADES = {
  ascites: ['none', 'mild', 'moderate-severe'],
  'hepatic-encephalopathy': ['none', 'grade-1-2', 'grade-3-4'],
} as const;

/** CLIF-C OF band (1-3) of each circulation / respiration finding value (§5 table). */
const BANDS: Readonly<Record<'circulation' | 'respiration', Readonly<Record<string, 1 | 2 | 3>>>> = {
  circulation: { 'map-70-or-more': 1, 'map-below-70': 2, vasopressors: 3 },
  respiration: { 'pf-above-300': 1, 'pf-201-300': 2, 'pf-200-or-less': 3, 'mechanical-ventilation': 3 },
};

/** Findings recorded as Observations (final, amended or corrected only). */
export function clinicalFindings(resources: readonly Resource[]): ClinicalFinding[] {
  const out: ClinicalFinding[] = [];
  for (const r of resources) {
    if (r.resourceType !== 'Observation') continue;
    const o = r as Observation;
    if (!['final', 'amended', 'corrected'].includes(o.status)) continue;
    const code = o.code?.coding?.find((c) => c.system === FINDING_SYSTEM)?.code;
    const effective = o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.issued;
    if (!code || !effective) continue;
    const ref = `Observation/${o.id}`;
    const value = o.valueCodeableConcept?.coding?.find((c) => c.system === FINDING_VALUE_SYSTEM)?.code;
    if (code === 'ascites' && (GRADES.ascites as readonly string[]).includes(value ?? '')) {
      out.push({ kind: 'ascites', value: value as (typeof GRADES.ascites)[number], effective, ref });
    } else if (code === 'hepatic-encephalopathy' && (GRADES['hepatic-encephalopathy'] as readonly string[]).includes(value ?? '')) {
      out.push({ kind: 'encephalopathy', value: value as (typeof GRADES)['hepatic-encephalopathy'][number], effective, ref });
    } else if (code === 'dialysis' && typeof o.valueBoolean === 'boolean') {
      out.push({ kind: 'dialysis', value: o.valueBoolean, effective, ref });
    } else if (code === 'circulation' && value && Object.hasOwn(BANDS.circulation, value)) {
      out.push({ kind: 'circulation', value: BANDS.circulation[value], effective, ref });
    } else if (code === 'respiration' && value && Object.hasOwn(BANDS.respiration, value)) {
      out.push({ kind: 'respiration', value: BANDS.respiration[value], effective, ref });
    }
  }
  return out;
}

/** The latest finding of a kind dated within [from, to] (local dates, inclusive), by its effective time. */
export function latestFinding<K extends ClinicalFinding['kind']>(findings: readonly ClinicalFinding[], kind: K, within: (effective: string) => boolean): Extract<ClinicalFinding, { kind: K }> | undefined {
  return findings
    .filter((f): f is Extract<ClinicalFinding, { kind: K }> => f.kind === kind && within(f.effective))
    .sort((a, b) => Date.parse(a.effective) - Date.parse(b.effective))
    .pop();
}
