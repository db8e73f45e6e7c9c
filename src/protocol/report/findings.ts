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
 */
import type { Observation, Resource } from '@medplum/fhirtypes';
import type { ClinicalFinding } from '../eligibility';

export const FINDING_SYSTEM = 'urn:trialbridge:finding';
export const FINDING_VALUE_SYSTEM = 'urn:trialbridge:finding-value';

const GRADES = {
  ascites: ['none', 'mild', 'moderate-severe'],
  'hepatic-encephalopathy': ['none', 'grade-1-2', 'grade-3-4'],
} as const;

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
