/**
 * HBsAg positive for more than 6 months (clinical-reference §1.3 I2, §7.6): two positive
 * results >= minDays (183) apart, or a chronic hepatitis B Condition (ICD-10 B18.0/B18.1
 * from the trial file, SNOMED CT 61977001 [K]) with onset >= minDays before screening.
 *
 * Decisions [A]:
 *  - Results up to the screening date count, whatever their age (this is history, not a
 *    screening lab). Only CRF values 'POS' and 'NEG' are read.
 *  - The positives must follow the latest negative: a negative between two positives
 *    breaks the run, so only the positives after it are paired.
 *  - A single positive, or positives < minDays apart, gives UNKNOWN, never not-met.
 *  - NOT-MET only when the latest result is negative and dated within minDays before
 *    screening: the subject was then not HBsAg-positive throughout the last 6 months. An
 *    older negative proves nothing about today (UNKNOWN). A chronic HBV Condition whose
 *    onset predates such a recent negative conflicts with it: UNKNOWN, for review.
 */
import { daysBetween, toTimePoint } from '../schedule';
import type { HbsagDurationRule } from '../trials';
import type { Dated, EvalContext, Outcome } from './context';
import { conditionMeaning, hasCoding } from './answers';
import { CHRONIC_HBV_EXTRA_CODES, type LabFact } from './types';

type Result = Dated<LabFact> & { readonly positive: boolean };

/** POS/NEG results dated on or before the screening date, oldest first. */
function results(ctx: EvalContext, item: string): Result[] {
  const out: Result[] = [];
  for (const lab of ctx.labs) {
    if (lab.item !== item || lab.at.date > ctx.screening || typeof lab.value !== 'string') continue;
    const v = lab.value.trim().toUpperCase();
    if (v === 'POS' || v === 'NEG') out.push({ ...lab, positive: v === 'POS' });
  }
  return out.sort((a, b) => (a.at.date === b.at.date ? (a.at.instant ?? 0) - (b.at.instant ?? 0) : a.at.date < b.at.date ? -1 : 1));
}

/** Present chronic HBV Conditions with a full onset date, and how many days before screening each began. */
function chronicConditions(ctx: EvalContext, rule: HbsagDurationRule) {
  const codes = [...rule.conditionCodes, ...CHRONIC_HBV_EXTRA_CODES];
  const found: { ref: string; onset: string | null; days: number | null }[] = [];
  for (const fact of ctx.answers) {
    if (fact.resourceType !== 'Condition' || !hasCoding(fact, codes) || conditionMeaning(fact) !== 'met') continue;
    const at = toTimePoint(fact.date ?? null, ctx.timeZone);
    found.push({ ref: fact.ref, onset: at?.date ?? null, days: at ? daysBetween(at.date, ctx.screening) : null });
  }
  return found;
}

export function evaluateHbsagDuration(ctx: EvalContext, rule: HbsagDurationRule): Outcome {
  const all = results(ctx, rule.item);
  const latestNeg = [...all].reverse().find((r) => !r.positive) ?? null;
  const run = all.filter((r) => r.positive && (latestNeg === null || r.at.date > latestNeg.at.date));
  const span = run.length >= 2 ? daysBetween(run[0].at.date, run[run.length - 1].at.date) : null;
  const runText = run.length === 0 ? 'no positive HBsAg' : run.length === 1 ? `a single positive HBsAg (${run[0].at.date})` : `positive HBsAg ${run[0].at.date} and ${run[run.length - 1].at.date}, ${span} days apart`;

  if (span !== null && span >= rule.minDays) {
    return { verdict: 'met', reason: `${runText} (>= ${rule.minDays} days)`, evidence: [run[0].ref, run[run.length - 1].ref] };
  }

  const conditions = chronicConditions(ctx, rule);
  const old = conditions.filter((c) => c.days !== null && c.days >= rule.minDays);
  const recentNeg = latestNeg !== null && all[all.length - 1] === latestNeg && daysBetween(latestNeg.at.date, ctx.screening) < rule.minDays ? latestNeg : null;
  if (old.length > 0) {
    const c = old[0];
    if (recentNeg) {
      return { verdict: 'unknown', reason: `chronic hepatitis B Condition (onset ${c.onset}) conflicts with a negative HBsAg on ${recentNeg.at.date}`, evidence: [c.ref, recentNeg.ref] };
    }
    return { verdict: 'met', reason: `chronic hepatitis B Condition with onset ${c.onset}, ${c.days} days (>= ${rule.minDays}) before screening on ${ctx.screening}`, evidence: [c.ref] };
  }
  if (recentNeg) {
    return { verdict: 'not-met', reason: `latest HBsAg negative on ${recentNeg.at.date}, ${daysBetween(recentNeg.at.date, ctx.screening)} days (< ${rule.minDays}) before screening`, evidence: [recentNeg.ref] };
  }
  const parts = [runText + (span !== null ? ` (< ${rule.minDays})` : '')];
  if (conditions.length > 0) parts.push(`chronic hepatitis B Condition ${conditions.map((c) => (c.onset ? `onset ${c.onset}, ${c.days} days before screening` : 'without onset date')).join('; ')}`);
  return { verdict: 'unknown', reason: `HBsAg positive > 6 months not shown: ${parts.join('; ')}`, evidence: [...run.map((r) => r.ref), ...conditions.map((c) => c.ref)] };
}
