/**
 * Test-only builders for the eligibility tests (not exported from index.ts). Trials and
 * their CRF unit converters are the SHIPPED files (mappings/trials, mappings/crf), loaded once.
 */
import { DEFAULT_MAPPINGS_DIR, itemUnits, loadMappings, type ItemUnits } from '../../mapping';
import { loadTrials, type Trial } from '../trials';
import { evaluateEligibility } from './evaluate';
import type { ClinicalFinding, CodedFact, CriterionResult, EligibilityFacts, EligibilityOptions, LabFact } from './types';

const shipped = loadTrials();
const mappings = loadMappings(DEFAULT_MAPPINGS_DIR);

/** The shipped CRF unit converter of a trial. */
export function unitsOf(key: string): ItemUnits {
  return itemUnits(mappings, key);
}

/** Facts built without a trial get this converter; criterion() swaps in the evaluated trial's. */
const DEFAULT_UNITS = unitsOf('NCT05985863');

export function trial(key: string): Trial {
  const t = shipped.get(key);
  if (!t) throw new Error(`shipped trial ${key} not found`);
  return t;
}

/** Screening on 1 June 2024 in a UTC+8 site. */
export const SCREENING = '2024-06-01';
export const TZ = 'Asia/Shanghai';
/** A result two days before screening, 08:00 local. */
export const RECENT = '2024-05-30T08:00:00+08:00';
export const ANSWER_SYSTEM = 'urn:trialbridge:eligibility';

export function facts(over: Partial<EligibilityFacts> = {}): EligibilityFacts {
  return { screeningDate: SCREENING, timeZone: TZ, patient: { birthDate: '1980-01-15', gender: 'male', ref: 'Patient/p1' }, labs: [], answers: [], findings: [], units: DEFAULT_UNITS, ...over };
}

let counter = 0;

export function lab(item: string, value: number | string, unit: string | null, effective = RECENT, extra: Partial<LabFact> = {}): LabFact {
  counter += 1;
  return { item, value, unit, effective, ref: `Observation/${item.toLowerCase()}-${counter}`, ...extra };
}

/** A clinician answer Observation (urn:trialbridge:eligibility|<code>) with a boolean value. */
export function answer(code: string, value: boolean, extra: Partial<CodedFact> = {}): CodedFact {
  return { resourceType: 'Observation', codings: [{ system: ANSWER_SYSTEM, code }], value: { kind: 'boolean', value }, status: 'final', date: RECENT, ref: `Observation/ans-${code}`, ...extra };
}

export function condition(system: string, code: string, onset: string | null, extra: Partial<CodedFact> = {}): CodedFact {
  return { resourceType: 'Condition', codings: [{ system, code }], date: onset, status: 'active', verificationStatus: 'confirmed', ref: `Condition/${code}`, ...extra };
}

/** Every Observation-answered judgement criterion answered favourably: inclusion yes, exclusion no. */
export function favourableAnswers(t: Trial): CodedFact[] {
  const out: CodedFact[] = [];
  for (const c of t.eligibility) {
    if (c.rule.kind !== 'judgement') continue;
    const obs = c.rule.answers.find((a) => a.resourceType === 'Observation');
    if (obs) out.push(answer(obs.code, c.type === 'inclusion'));
  }
  return out;
}

export function finding(kind: ClinicalFinding['kind'], value: ClinicalFinding['value'], effective = RECENT): ClinicalFinding {
  counter += 1;
  return { kind, value, effective, ref: `Observation/${kind}-${counter}` } as ClinicalFinding;
}

/** The result of one criterion. */
export function criterion(key: string, f: EligibilityFacts, id: string, options?: EligibilityOptions): CriterionResult {
  const result = evaluateEligibility(trial(key), f.units === DEFAULT_UNITS ? { ...f, units: unitsOf(key) } : f, options);
  const c = result.criteria.find((x) => x.id === id);
  if (!c) throw new Error(`${key} has no criterion ${id}`);
  return c;
}
