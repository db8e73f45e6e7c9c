/**
 * Clinician answers and history (coded Observations and Conditions): judgement criteria,
 * the date of onset of liver failure, and which Conditions count.
 *
 * A judgement criterion is UNKNOWN unless one of the answers its trial file names is
 * recorded (clinical-reference §0; §1 type (b) criteria). Meaning of an answer [A]:
 *  - Observation: the answer to the criterion's question, "does the criterion hold?".
 *    valueBoolean true or a Yes coding -> met; false or a No coding -> not-met; any other
 *    value (Unknown, text, none) -> unknown. Only status final/amended/corrected (or no
 *    status) counts.
 *  - Condition: a recorded diagnosis means the criterion holds (met) when it is active
 *    (clinicalStatus active/recurrence/relapse, or none given) and confirmed (or no
 *    verificationStatus); verificationStatus refuted -> not-met; inactive, resolved,
 *    unconfirmed, provisional, differential or entered-in-error do not decide.
 * Of the Observation answers the latest dated one wins (undated ones count as oldest);
 * answers of the same time that disagree are a conflict -> unknown. A Condition is the
 * current state, so an answer and a Condition that disagree -> unknown, for review.
 */
import { toTimePoint, type TimePoint } from '../schedule';
import type { AnswerRef, Coding, JudgementRule } from '../trials';
import { laterFirst, pickLatest, type Dated, type EvalContext, type Outcome } from './context';
import type { CodedFact, Verdict } from './types';

/** Yes/No answer codes [K]: LOINC answer list LA33-6/LA32-8, SNOMED CT, HL7 v2 table 0136. */
const YES: readonly Coding[] = [
  { system: 'http://loinc.org', code: 'LA33-6' },
  { system: 'http://snomed.info/sct', code: '373066001' },
  { system: 'http://terminology.hl7.org/CodeSystem/v2-0136', code: 'Y' },
];
const NO: readonly Coding[] = [
  { system: 'http://loinc.org', code: 'LA32-8' },
  { system: 'http://snomed.info/sct', code: '373067005' },
  { system: 'http://terminology.hl7.org/CodeSystem/v2-0136', code: 'N' },
];

const USABLE_OBSERVATION_STATUS = new Set(['final', 'amended', 'corrected']);
const ACTIVE_CLINICAL_STATUS = new Set(['active', 'recurrence', 'relapse']);

const sameCoding = (a: Coding, b: Coding): boolean => a.system === b.system && a.code === b.code;
export const hasCoding = (fact: CodedFact, codes: readonly Coding[]): boolean => fact.codings.some((c) => codes.some((k) => sameCoding(c, k)));

/** Facts of `ref.resourceType` coded with `ref`'s system and code. */
function matching(facts: readonly CodedFact[], refs: readonly AnswerRef[]): CodedFact[] {
  return facts.filter((f) => refs.some((r) => r.resourceType === f.resourceType && hasCoding(f, [r])));
}

/** What a Condition says, per the module comment: 'met' (present), 'not-met' (refuted), or null (does not decide). */
export function conditionMeaning(fact: CodedFact): 'met' | 'not-met' | null {
  const verification = fact.verificationStatus ?? null;
  if (verification === 'refuted') return 'not-met';
  if (verification !== null && verification !== 'confirmed') return null;
  const clinical = fact.status ?? null;
  return clinical === null || ACTIVE_CLINICAL_STATUS.has(clinical) ? 'met' : null;
}

/** What an Observation answer says, or null when it does not decide. */
function observationMeaning(fact: CodedFact): 'met' | 'not-met' | null {
  if (fact.status && !USABLE_OBSERVATION_STATUS.has(fact.status)) return null;
  const v = fact.value;
  if (!v) return null;
  if (v.kind === 'boolean') return v.value ? 'met' : 'not-met';
  if (v.kind !== 'coding') return null;
  const yes = v.codings.some((c) => YES.some((k) => sameCoding(c, k)));
  const no = v.codings.some((c) => NO.some((k) => sameCoding(c, k)));
  return yes === no ? null : yes ? 'met' : 'not-met';
}

/** Undated answers sort as the oldest possible time. */
const OLDEST: TimePoint = { date: '0000-01-01', instant: null };

function answerTime(fact: CodedFact, tz: string): TimePoint {
  return toTimePoint(fact.date, tz) ?? OLDEST;
}

interface Said {
  readonly meaning: 'met' | 'not-met';
  readonly text: string;
  readonly ref: string;
}

/** A judgement criterion, decided only by a recorded answer named in the trial file. */
export function evaluateJudgement(ctx: EvalContext, rule: JudgementRule): Outcome {
  return judgementFromRecords(ctx, rule).outcome;
}

/**
 * The EHR's answer to a judgement criterion and the time of its latest decisive
 * record (null when no record decides): a workbench answer is weighed against
 * that time (latest wins, as between the records themselves). A Condition is
 * timed by its onset or recorded date, else as the oldest possible time.
 */
export function judgementFromRecords(ctx: EvalContext, rule: JudgementRule): { outcome: Outcome; latest: TimePoint | null } {
  const question = `clinician judgement "${rule.question}"`;
  const observations: Dated<CodedFact & { readonly meaning: 'met' | 'not-met' }>[] = [];
  const said: Said[] = [];
  const times: TimePoint[] = [];
  for (const fact of matching(ctx.answers, rule.answers)) {
    if (fact.resourceType === 'Condition') {
      const meaning = conditionMeaning(fact);
      if (meaning) {
        said.push({ meaning, text: meaning === 'met' ? 'active Condition recorded' : 'Condition refuted', ref: fact.ref });
        times.push(answerTime(fact, ctx.timeZone));
      }
    } else {
      const meaning = observationMeaning(fact);
      if (meaning) observations.push({ ...fact, meaning, at: answerTime(fact, ctx.timeZone) });
    }
  }
  const pick = pickLatest(observations, (a, b) => a.meaning === b.meaning);
  if (pick.kind === 'conflict') {
    return { outcome: { verdict: 'unknown', reason: `${question}: conflicting answers recorded at the same time`, evidence: pick.values.map((v) => v.ref) }, latest: pick.values[0].at };
  }
  if (pick.kind === 'one') {
    const a = pick.value;
    said.unshift({ meaning: a.meaning, text: `answered ${a.meaning === 'met' ? 'yes' : 'no'}${a.at === OLDEST ? '' : ` on ${a.at.date}`}`, ref: a.ref });
    times.push(a.at);
  }
  const latest = times.length ? times.reduce((x, y) => (laterFirst(x, y) <= 0 ? x : y)) : null;
  const evidence = said.map((x) => x.ref);
  const texts = [...new Set(said.map((x) => x.text))].join('; ');
  if (said.length === 0) {
    const named = rule.answers.map((a) => `${a.resourceType} ${a.system}|${a.code}`).join(' or ');
    return { outcome: { verdict: 'unknown', reason: `${question}: no decisive answer recorded (${named})`, evidence }, latest };
  }
  // A Condition is the current state, not a dated answer: when it disagrees with the answer, review.
  if (said.some((x) => x.meaning !== said[0].meaning)) return { outcome: { verdict: 'unknown', reason: `${question}: records disagree (${texts})`, evidence }, latest };
  const verdict: Verdict = said[0].meaning;
  return { outcome: { verdict, reason: `${question}: ${texts}`, evidence }, latest };
}

export type Onset =
  | { readonly kind: 'one'; readonly at: TimePoint; readonly ref: string }
  | { readonly kind: 'none' }
  /** Answers giving different onset dates. */
  | { readonly kind: 'conflict'; readonly refs: readonly string[] };

/**
 * The date of onset of liver failure: facts.liverFailureOnset when given, else the usable
 * answers named by the rule (an Observation's valueDateTime, or a present Condition's
 * onset). Answers that give different dates are a conflict.
 */
export function findOnset(ctx: EvalContext, onset: AnswerRef): Onset {
  const given = ctx.facts.liverFailureOnset;
  if (given) {
    const at = toTimePoint(given.date, ctx.timeZone);
    return at ? { kind: 'one', at, ref: given.ref } : { kind: 'none' };
  }
  const found: { at: TimePoint; ref: string }[] = [];
  for (const fact of matching(ctx.answers, [onset])) {
    const raw = fact.resourceType === 'Condition' ? (conditionMeaning(fact) === 'met' ? fact.date : null) : usableDateValue(fact);
    const at = toTimePoint(raw ?? null, ctx.timeZone);
    if (at) found.push({ at, ref: fact.ref });
  }
  if (found.length === 0) return { kind: 'none' };
  const same = found.every((f) => f.at.date === found[0].at.date && f.at.instant === found[0].at.instant);
  return same ? { kind: 'one', ...found[0] } : { kind: 'conflict', refs: found.map((f) => f.ref) };
}

function usableDateValue(fact: CodedFact): string | null {
  if (fact.status && !USABLE_OBSERVATION_STATUS.has(fact.status)) return null;
  return fact.value?.kind === 'dateTime' ? fact.value.value : null;
}
