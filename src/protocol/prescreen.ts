/**
 * Pre-screening (pure): does a patient who is not enrolled look like a
 * candidate for a trial, from routine labs alone? (README "Pre-screening and alerts")
 *
 * The patient is evaluated exactly as an enrolled subject would be: a synthetic
 * ResearchSubject (status `candidate`, `period.start` = today at the site) goes
 * through the subject report builder (report/build.ts), with CRF values from
 * the same mapping rules the map worker applies (src/mapping mapResource), so
 * the pre-screen and the eligibility checklist cannot disagree.
 *
 * Only lab-computable criteria decide: age, lab thresholds, ULN multiples,
 * scores, HBsAg duration, and any-of / all-of made only of those. Judgement
 * criteria, and pre-onset criteria (they need the clinician-recorded onset of
 * liver failure, clinical-reference §1.1 E2), are what the investigator must
 * check. A patient is a potential candidate when every lab-computable inclusion
 * is met and no lab-computable exclusion is met; missing data make a criterion
 * unknown, and unknown is never potential (clinical-reference §0 "Missing or
 * unknown data"). A trial whose eligibility is not configured (trial unknowns:
 * eligibility, NCT03945487 §1.4), or that has no inclusion criterion on labs,
 * never yields a potential candidate: nothing auto-passes.
 */
import type { Observation, Patient, ResearchSubject } from '@medplum/fhirtypes';
import { itemUnits, mapResource, ruleCodes, type ItemUnits, type MappingSet } from '../mapping';
import { ageOn } from './eligibility';
import { buildSubjectReport, type CrfEntry } from './report/build';
import { referenceHigh } from './report/from-resources';
import { localDateOf } from './schedule/dates';
import type { Criterion, CriterionRule, Trial } from './trials';

/** One stored lab Observation of the patient (latest version), with where it came from. */
export interface PrescreenObservation {
  readonly resource: Observation;
  /** The inbound row that stored this version (evidence points back to it). */
  readonly inboundId?: number | null;
  /** A DiagnosticReport's effective time the sender's Bundle gave (inbound context). */
  readonly fallbackEffective?: string | null;
}

export interface PrescreenInput {
  readonly trial: Trial;
  readonly mappings: MappingSet;
  readonly site: { readonly id: string; readonly timeZone: string };
  /** Logical id of the Patient at the site. */
  readonly patientId: string;
  /** Only birthDate and gender are read (minimum necessary). */
  readonly patient: Pick<Patient, 'birthDate' | 'gender'> | null;
  readonly observations: readonly PrescreenObservation[];
  /** Now (ISO instant): the screening date is its calendar date at the site. */
  readonly now: string;
}

/** A value a criterion's verdict rests on: CRF item and unit, the source's date, and where it is stored. */
export interface EvidenceValue {
  readonly item: string;
  readonly value: number | string;
  readonly unit: string | null;
  readonly effective: string;
  /** Calendar date at the site. */
  readonly localDate: string | null;
  /** `Observation/<id>`. */
  readonly ref: string;
  readonly inbound: number | null;
}

/** One lab-computable criterion, decided. */
export interface CriterionEvidence {
  readonly criterion: string;
  readonly type: 'inclusion' | 'exclusion';
  readonly text: string;
  readonly verdict: 'met' | 'not-met' | 'unknown';
  readonly reason: string;
  /** Source references the verdict rests on (Observation/..., Patient/...). */
  readonly refs: readonly string[];
  readonly values: readonly EvidenceValue[];
}

/** A criterion no routine lab decides: the investigator checks it. */
export interface ToCheck {
  readonly id: string;
  readonly type: 'inclusion' | 'exclusion';
  readonly text: string;
}

interface Common {
  readonly trial: string;
  /** The site-local screening date (today). */
  readonly screeningDate: string;
  /** Completed years on the screening date; null when the birth date is missing or too partial. */
  readonly ageYears: number | null;
  /** Every lab-computable criterion with its verdict and values. */
  readonly evidence: readonly CriterionEvidence[];
  readonly toCheck: readonly ToCheck[];
}

export type PrescreenResult =
  | (Common & { readonly kind: 'potential' })
  | (Common & {
      readonly kind: 'none';
      /** Why not, PHI-free apart from lab values (stored with the candidate, never logged). */
      readonly reason: string;
      /** The lab-computable criteria that failed or are unknown. */
      readonly blocking: readonly CriterionEvidence[];
    });

/** Rule kinds read from labs (age alone selects nobody: every adult would qualify). */
const LAB_KINDS = new Set<CriterionRule['kind']>(['lab-threshold', 'tbil-uln-multiple', 'score-range', 'hbsag-duration']);

/** True when the rule is decided from the patient's labs and birth date alone, without any clinician input. */
export function labComputable(rule: CriterionRule): boolean {
  switch (rule.kind) {
    case 'judgement':
    case 'pre-onset':
      return false;
    case 'any-of':
    case 'all-of':
      return rule.rules.every(labComputable);
    case 'age-range':
    case 'lab-threshold':
    case 'score-range':
    case 'hbsag-duration':
    case 'tbil-uln-multiple':
      return true;
  }
}

function readsLabs(rule: CriterionRule): boolean {
  if (rule.kind === 'any-of' || rule.kind === 'all-of') return rule.rules.some(readsLabs);
  return LAB_KINDS.has(rule.kind);
}

/** The criteria pre-screening decides, and the ones left to the investigator. */
export function splitCriteria(trial: Trial): { computable: Criterion[]; toCheck: ToCheck[] } {
  const computable = trial.eligibility.filter((c) => labComputable(c.rule));
  const toCheck = trial.eligibility.filter((c) => !labComputable(c.rule)).map((c) => ({ id: c.id, type: c.type, text: c.text }));
  return { computable, toCheck };
}

/**
 * Why `trial` can never yield a potential candidate, or null when it can.
 * Boot uses it to warn; the engine answers `none` with this reason.
 */
export function neverPotential(trial: Trial): string | null {
  if (trial.unknowns.includes('eligibility')) {
    return `${trial.key}: the protocol's eligibility criteria are not configured (trial unknowns: eligibility); nothing auto-passes`;
  }
  const { computable } = splitCriteria(trial);
  if (!computable.some((c) => c.type === 'inclusion' && readsLabs(c.rule))) {
    return `${trial.key}: no inclusion criterion is decided by labs; pre-screening cannot select patients`;
  }
  return null;
}

/** A lab result as the quick check reads it: CRF item, source value and unit. */
interface QuickValue {
  readonly value: number;
  readonly unit: string;
}

/**
 * A necessary condition of `prescreen` giving `potential`, cheap enough to run on
 * every lab that arrives (README "Pre-screening and alerts"): every lab-computable
 * inclusion made of lab thresholds (alone, or in any-of / all-of) must have at
 * least one result of its item that meets it, in the source value converted by
 * the one converter (the engine compares at the same source precision). Other
 * rules (age, scores, ULN multiples, HBsAg history) count as possible, and
 * exclusions are not looked at, so `false` only ever means the engine would
 * answer `none`; `true` means run the engine.
 */
export function couldQualify(trial: Trial, mappings: MappingSet, site: string, observations: readonly { readonly resource: Observation }[]): boolean {
  if (neverPotential(trial)) return true;
  const units = itemUnits(mappings, trial.key);
  const byItem = new Map<string, QuickValue[]>();
  for (const { resource: o } of observations) {
    const q = o.valueQuantity;
    if (!q || typeof q.value !== 'number' || !Number.isFinite(q.value)) continue;
    for (const code of ruleCodes(mappings, o, site)) {
      for (const rule of mappings.rulesForCode(trial.key, code.loinc)) {
        const unit = q.code ?? q.unit ?? rule.analyte.impliedUnits.get(code.loinc);
        if (!unit) continue;
        const list = byItem.get(rule.item) ?? [];
        list.push({ value: q.value, unit });
        byItem.set(rule.item, list);
      }
    }
  }
  return splitCriteria(trial).computable.filter((c) => c.type === 'inclusion').every((c) => possible(c.rule, byItem, units));
}

function possible(rule: CriterionRule, byItem: ReadonlyMap<string, readonly QuickValue[]>, units: ItemUnits): boolean {
  switch (rule.kind) {
    case 'lab-threshold':
      return (byItem.get(rule.item) ?? []).some((v) => {
        const x = units.convert(rule.item, v.value, v.unit, rule.unit);
        return x !== null && meets(x, rule.op, rule.value);
      });
    case 'any-of':
      return rule.rules.some((r) => possible(r, byItem, units));
    case 'all-of':
      return rule.rules.every((r) => possible(r, byItem, units));
    default:
      return true;
  }
}

/** Float comparisons with the tolerance of clinical-reference §0, loosened so the quick check never refuses what the engine accepts. */
function meets(v: number, op: '>=' | '>' | '<=' | '<', t: number): boolean {
  const eps = 1e-6 * Math.max(1, Math.abs(t));
  switch (op) {
    case '>=': return v >= t - eps;
    case '>': return v > t - eps;
    case '<=': return v <= t + eps;
    case '<': return v < t + eps;
  }
}

/** CRF values of the patient for this trial: the map worker's mapping (mapResource), per Observation. */
function crfOf(input: PrescreenInput): CrfEntry[] {
  const out: CrfEntry[] = [];
  for (const o of input.observations) {
    const source = `Observation/${o.resource.id}`;
    for (const r of mapResource(input.mappings, input.trial.key, o.resource, { fallbackEffective: o.fallbackEffective ?? undefined, site: input.site.id })) {
      if (r.kind !== 'value') continue;
      out.push({
        form: r.form, item: r.item, value: r.value, unit: r.unit, effective: r.effective, source, status: 'auto', code: r.code,
        referenceHigh: referenceHigh(o.resource), original: { value: r.originalValue, unit: r.originalUnit, code: r.code },
      });
    }
  }
  return out;
}

/** Evaluates every lab-computable criterion of `input.trial` for the patient as of `input.now`. */
export function prescreen(input: PrescreenInput): PrescreenResult {
  const { trial, site } = input;
  const instant = Date.parse(input.now);
  if (Number.isNaN(instant)) throw new Error('prescreen: now must be an ISO instant');
  const today = localDateOf(instant, site.timeZone);
  const patientRef = `Patient/${input.patientId}`;
  // Minimum necessary: the report builder sees the birth date and sex, nothing else of the Patient.
  const patient: Patient = { resourceType: 'Patient', id: input.patientId, birthDate: input.patient?.birthDate, gender: input.patient?.gender };
  const researchSubject: ResearchSubject = {
    resourceType: 'ResearchSubject', id: 'prescreen', status: 'candidate', period: { start: today },
    study: { identifier: { value: trial.key } }, individual: { reference: patientRef },
  };
  const crf = crfOf(input);
  const { report } = buildSubjectReport({
    trial, site, subject: 'prescreen', patient, researchSubject,
    resources: input.observations.map((o) => o.resource), crf, units: itemUnits(input.mappings, trial.key), reviews: [], asOf: input.now,
  });
  const inboundOf = new Map(input.observations.map((o) => [`Observation/${o.resource.id}`, o.inboundId ?? null]));
  const verdicts = new Map(report.eligibility.criteria.map((c) => [c.id, c]));
  const { computable, toCheck } = splitCriteria(trial);
  const evidence: CriterionEvidence[] = computable.map((c) => {
    const v = verdicts.get(c.id)!;
    const refs = new Set(v.evidence);
    const values = report.crf.filter((x) => refs.has(x.source)).map((x) => ({
      item: x.item, value: x.value, unit: x.unit, effective: x.effective, localDate: x.localDate, ref: x.source, inbound: inboundOf.get(x.source) ?? null,
    }));
    return { criterion: c.id, type: c.type, text: c.text, verdict: v.verdict, reason: v.reason, refs: [...refs], values };
  });
  const common = { trial: trial.key, screeningDate: today, ageYears: ageOn(input.patient?.birthDate, today), evidence, toCheck };
  const never = neverPotential(trial);
  if (never) return { ...common, kind: 'none', reason: never, blocking: [] };
  const blocking = evidence.filter((e) => e.verdict !== (e.type === 'inclusion' ? 'met' : 'not-met'));
  if (!blocking.length) return { ...common, kind: 'potential' };
  return { ...common, kind: 'none', reason: blocking.map(describe).join('; '), blocking };
}

/** e.g. "I2a not met: TBIL 4.9 mg/dL < 5 ...", "I2b unknown: no INR result ...". */
function describe(e: CriterionEvidence): string {
  const what = e.type === 'exclusion' && e.verdict === 'met' ? 'exclusion met' : e.verdict === 'unknown' ? 'unknown' : 'not met';
  return `${e.criterion} ${what}: ${e.reason}`;
}
