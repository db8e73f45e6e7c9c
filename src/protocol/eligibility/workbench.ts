/**
 * Investigators' workbench answers to judgement criteria, weighed against the
 * EHR's coded answers (answers.ts): the later one decides, as between the
 * records themselves; an answer at the same local time as a date-only record
 * is later (the investigator answered having seen it). A not-applicable answer
 * never blocks: an inclusion counts as met, an exclusion as not met.
 */
import { isComputable, type Criterion } from '../trials';
import { toTimePoint, type TimePoint } from '../schedule';
import { judgementFromRecords } from './answers';
import { laterFirst, type EvalContext, type Outcome } from './context';
import type { WorkbenchAnswer } from './types';

/** Reason of a criterion an investigator answered not applicable. */
export const NOT_APPLICABLE_REASON = 'not applicable (investigator)';

/** The workbench answer that may decide `criterion`: only criteria no data can compute are answered. */
export function answerFor(ctx: EvalContext, criterion: Criterion): WorkbenchAnswer | undefined {
  if (isComputable(criterion.rule)) return undefined;
  return ctx.facts.clinicianAnswers?.find((a) => a.criterion === criterion.id);
}

/**
 * The outcome of a criterion with a workbench answer: the answer's, unless a
 * later EHR record decides (then `ehr`, the records' outcome, saying so).
 * `citeReason` is false for the fixed not-applicable reason.
 */
export function decideWithAnswer(ctx: EvalContext, criterion: Criterion, answer: WorkbenchAnswer, ehr: Outcome): { outcome: Outcome; citeReason: boolean } {
  const at: TimePoint | null = toTimePoint(answer.at, ctx.timeZone);
  const records = criterion.rule.kind === 'judgement' ? judgementFromRecords(ctx, criterion.rule).latest : null;
  if (records && at && laterFirst(records, at) < 0) {
    return { outcome: { ...ehr, reason: `${ehr.reason}; recorded after the investigator's answer of ${at.date}` }, citeReason: true };
  }
  if (answer.answer === 'not-applicable') {
    return { outcome: { verdict: criterion.type === 'inclusion' ? 'met' : 'not-met', reason: NOT_APPLICABLE_REASON, evidence: [] }, citeReason: false };
  }
  const when = at ? ` on ${at.date}` : '';
  return { outcome: { verdict: answer.answer, reason: `investigator answered ${answer.answer === 'met' ? 'yes' : 'no'}${when} (${answer.by})`, evidence: [] }, citeReason: true };
}
