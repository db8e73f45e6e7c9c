/**
 * evaluateEligibility: every criterion of a loaded trial against one subject's facts, and
 * the overall verdict (pure: no I/O, no clock; the caller passes the screening date).
 *
 * A judgement criterion an investigator answered in the workbench is decided by
 * that answer unless a later EHR record decides it (workbench.ts).
 *
 * Overall (clinical-reference §0 "Missing or unknown data"; design.md habit 7):
 *  - ineligible: some inclusion is not-met or some exclusion is met;
 *  - eligible: every inclusion is met and every exclusion is not-met;
 *  - needs-review: anything else, i.e. some criterion is unknown. Also when the trial file
 *    says its eligibility is not known (unknowns: 'eligibility', NCT03945487 §1.4) or has
 *    no criterion at all: nothing auto-passes.
 */
import type { AllOfRule, AnyOfRule, Criterion, CriterionRule, PreOnsetRule, Trial } from '../trials';
import { evaluateAgeRange } from './age';
import { evaluateJudgement, findOnset } from './answers';
import { screeningContext, unknownOutcome, type EvalContext, type Outcome } from './context';
import { evaluateHbsagDuration } from './hbsag';
import { evaluateLabThreshold, evaluateTbilUlnMultiple } from './labs';
import { answerFor, decideWithAnswer } from './workbench';
import { evaluateScoreRange } from './scores';
import { DEFAULT_SCREENING_LOOKBACK_DAYS, type CriterionResult, type EligibilityFacts, type EligibilityOptions, type EligibilityResult, type Overall } from './types';

/** Where each shipped trial's eligibility table is in clinical-reference.md (cited in reasons). */
export const CLINICAL_REFERENCE_SECTIONS: Readonly<Record<string, string>> = Object.freeze({
  NCT05985863: '§1.1',
  'ESLD-UCMSC-DOSE': '§1.2',
  NCT02812121: '§1.3',
  NCT03945487: '§1.4',
});

/**
 * Evaluates `trial`'s eligibility criteria, in file order.
 * Throws only on a caller bug: a screening date that is not a full FHIR date, or a negative lookback.
 */
export function evaluateEligibility(trial: Trial, facts: EligibilityFacts, options: EligibilityOptions = {}): EligibilityResult {
  const ctx = screeningContext(trial, facts, options.screeningLookbackDays ?? DEFAULT_SCREENING_LOOKBACK_DAYS);
  const criteria = trial.eligibility.map((c) => evaluateCriterion(ctx, c));
  const { overall, notes } = combineOverall(trial, criteria);
  return { trial: trial.key, screeningDate: ctx.screening, overall, criteria, notes };
}

function evaluateCriterion(ctx: EvalContext, criterion: Criterion): CriterionResult {
  const ehr = evaluateRule(ctx, criterion.rule);
  const answer = answerFor(ctx, criterion);
  const { outcome, citeReason } = answer ? decideWithAnswer(ctx, criterion, answer, ehr) : { outcome: ehr, citeReason: true };
  return {
    id: criterion.id,
    type: criterion.type,
    verdict: outcome.verdict,
    reason: citeReason ? `${outcome.reason} (${citation(ctx.trial, criterion)})` : outcome.reason,
    evidence: [...new Set(outcome.evidence)],
  };
}

function citation(trial: Trial, criterion: Criterion): string {
  const section = CLINICAL_REFERENCE_SECTIONS[trial.key];
  return section ? `clinical-reference ${section} ${criterion.id}` : `${trial.key} ${criterion.id}, ${criterion.source}`;
}

/** One rule in the context's window; exhaustive over the rule kinds of trials/criteria.ts. */
export function evaluateRule(ctx: EvalContext, rule: CriterionRule): Outcome {
  switch (rule.kind) {
    case 'age-range':
      return evaluateAgeRange(ctx, rule);
    case 'lab-threshold':
      return evaluateLabThreshold(ctx, rule);
    case 'tbil-uln-multiple':
      return evaluateTbilUlnMultiple(ctx, rule);
    case 'score-range':
      return evaluateScoreRange(ctx, rule);
    case 'hbsag-duration':
      return evaluateHbsagDuration(ctx, rule);
    case 'judgement':
      return evaluateJudgement(ctx, rule);
    case 'pre-onset':
      return evaluatePreOnset(ctx, rule);
    case 'any-of':
      return evaluateAnyOf(ctx, rule);
    case 'all-of':
      return evaluateAllOf(ctx, rule);
  }
}

const refs = (outcomes: readonly Outcome[]): string[] => outcomes.flatMap((o) => o.evidence);
const reasons = (outcomes: readonly Outcome[]): string => outcomes.map((o) => o.reason).join('; ');

/** Met if any sub-rule is met; not-met if all are not-met; otherwise unknown (criteria.ts). */
function evaluateAnyOf(ctx: EvalContext, rule: AnyOfRule): Outcome {
  const outcomes = rule.rules.map((r) => evaluateRule(ctx, r));
  const met = outcomes.filter((o) => o.verdict === 'met');
  if (met.length > 0) return { verdict: 'met', reason: reasons(met), evidence: refs(met) };
  if (outcomes.every((o) => o.verdict === 'not-met')) return { verdict: 'not-met', reason: `none holds: ${reasons(outcomes)}`, evidence: refs(outcomes) };
  return { verdict: 'unknown', reason: `none holds so far, not all known: ${reasons(outcomes)}`, evidence: refs(outcomes) };
}

/** Not-met if any sub-rule is not-met; met if all are met; otherwise unknown (criteria.ts). */
function evaluateAllOf(ctx: EvalContext, rule: AllOfRule): Outcome {
  const outcomes = rule.rules.map((r) => evaluateRule(ctx, r));
  const failed = outcomes.filter((o) => o.verdict === 'not-met');
  if (failed.length > 0) return { verdict: 'not-met', reason: reasons(failed), evidence: refs(failed) };
  if (outcomes.every((o) => o.verdict === 'met')) return { verdict: 'met', reason: reasons(outcomes), evidence: refs(outcomes) };
  return { verdict: 'unknown', reason: `not all known: ${reasons(outcomes)}`, evidence: refs(outcomes) };
}

/**
 * The inner rule on values dated strictly before the onset of liver failure, never on
 * screening values (§1.1 E2, §7.4): a screening PLT of 45 does not exclude by itself.
 * Without an onset date, or without a pre-onset value, the criterion is UNKNOWN.
 */
function evaluatePreOnset(ctx: EvalContext, rule: PreOnsetRule): Outcome {
  const onset = findOnset(ctx, rule.onset);
  const name = `${rule.onset.system}|${rule.onset.code}`;
  if (onset.kind === 'none') {
    return unknownOutcome(`date of onset of liver failure not recorded (${name}); screening values do not decide a pre-onset criterion`);
  }
  if (onset.kind === 'conflict') return unknownOutcome(`conflicting dates of onset of liver failure recorded (${name})`, onset.refs);
  const inner = evaluateRule({ ...ctx, window: { kind: 'pre-onset', onset: onset.at, onsetRef: onset.ref } }, rule.rule);
  return { verdict: inner.verdict, reason: `pre-onset (onset ${onset.at.date}): ${inner.reason}`, evidence: [onset.ref, ...inner.evidence] };
}

function combineOverall(trial: Trial, criteria: readonly CriterionResult[]): { overall: Overall; notes: string[] } {
  const fails = criteria.some((c) => (c.type === 'inclusion' ? c.verdict === 'not-met' : c.verdict === 'met'));
  if (fails) return { overall: 'ineligible', notes: [] };
  const passes = criteria.every((c) => c.verdict === (c.type === 'inclusion' ? 'met' : 'not-met'));
  if (!passes) return { overall: 'needs-review', notes: [] };
  if (criteria.length === 0) return { overall: 'needs-review', notes: [`${trial.key} defines no eligibility criterion; nothing auto-passes`] };
  if (trial.unknowns.includes('eligibility')) {
    return { overall: 'needs-review', notes: [`${trial.key}: the protocol's eligibility criteria are not configured (trial unknowns: eligibility); a clinician confirms eligibility`] };
  }
  return { overall: 'eligible', notes: [] };
}
