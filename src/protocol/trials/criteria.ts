/**
 * Eligibility criteria as loaded from a trial file (mappings/trials/<key>.json): the
 * same shape as the file, deeply readonly. Evaluating them belongs to the eligibility
 * engine; the semantics every kind must honour are stated here so the data and the
 * evaluator agree. Whatever the kind, absent inputs give UNKNOWN, never pass
 * (clinical-reference §0 "Missing or unknown data").
 */

export interface Coding {
  readonly system: string;
  readonly code: string;
  readonly display?: string;
}

/** A clinician answer the site records: an Observation with this code, or an active Condition with this code. */
export interface AnswerRef extends Coding {
  readonly resourceType: 'Observation' | 'Condition';
}

/** Every rule may carry a note saying why (source, tag). */
interface RuleBase {
  readonly note?: string;
}

/** Completed years on the screening date, both ends inclusive [A, §0 Age]. */
export interface AgeRangeRule extends RuleBase {
  readonly kind: 'age-range';
  readonly min: number;
  readonly max: number;
}

/** `item` (an analyte id of mappings/analytes.json) converted to `unit`, compared with a 1e-9 tolerance (§0). */
export interface LabThresholdRule extends RuleBase {
  readonly kind: 'lab-threshold';
  readonly item: string;
  readonly op: '>=' | '>' | '<=' | '<';
  readonly value: number;
  readonly unit: string;
}

/** True if any sub-rule is true; false if all are false; otherwise unknown (e.g. I2b: INR >= 1.5 OR PTA < 40). */
export interface AnyOfRule extends RuleBase {
  readonly kind: 'any-of';
  readonly rules: readonly CriterionRule[];
}

/** False if any sub-rule is false; true if all are true; otherwise unknown. */
export interface AllOfRule extends RuleBase {
  readonly kind: 'all-of';
  readonly rules: readonly CriterionRule[];
}

export type ScoreName = 'MELD' | 'MELD-NA' | 'MELD-3.0' | 'CTP' | 'SOFA' | 'AARC' | 'CLIF-C-OF';

/** A derived score within [min, max] inclusive; `integer` compares the rounded score (UNOS MELD, §4.1). */
export interface ScoreRangeRule extends RuleBase {
  readonly kind: 'score-range';
  readonly score: ScoreName;
  readonly min?: number;
  readonly max?: number;
  readonly integer: boolean;
}

/** `rule` evaluated on values dated before the onset of liver failure, never on screening values (§1.1 E2). */
export interface PreOnsetRule extends RuleBase {
  readonly kind: 'pre-onset';
  readonly onset: AnswerRef;
  readonly rule: CriterionRule;
}

/** Two positive results >= minDays apart, or a chronic HBV Condition (conditionCodes) with onset >= minDays before screening (§1.3 I2). */
export interface HbsagDurationRule extends RuleBase {
  readonly kind: 'hbsag-duration';
  readonly item: string;
  readonly minDays: number;
  readonly conditionCodes: readonly Coding[];
}

/** value >= multiple x ULN; ULN = referenceRange.high of the same result, else defaultUln (§1.3 I1a, §5). */
export interface TbilUlnMultipleRule extends RuleBase {
  readonly kind: 'tbil-uln-multiple';
  readonly item: string;
  readonly multiple: number;
  readonly defaultUln: { readonly value: number; readonly unit: string };
}

/** Clinician judgement: unknown until one of the named answers is recorded. */
export interface JudgementRule extends RuleBase {
  readonly kind: 'judgement';
  readonly question: string;
  readonly answers: readonly AnswerRef[];
}

export type CriterionRule =
  | AgeRangeRule
  | LabThresholdRule
  | AnyOfRule
  | AllOfRule
  | ScoreRangeRule
  | PreOnsetRule
  | HbsagDurationRule
  | TbilUlnMultipleRule
  | JudgementRule;

export interface Criterion {
  /** As in clinical-reference §1: I1, I2a, E14, ... */
  readonly id: string;
  readonly type: 'inclusion' | 'exclusion';
  readonly text: string;
  readonly source: string;
  readonly rule: CriterionRule;
  readonly note?: string;
}

/** True when the rule (or any sub-rule) can be decided from data without a clinician answer. */
export function isComputable(rule: CriterionRule): boolean {
  switch (rule.kind) {
    case 'judgement':
      return false;
    case 'any-of':
    case 'all-of':
      return rule.rules.some(isComputable);
    case 'pre-onset':
      return isComputable(rule.rule);
    case 'age-range':
    case 'lab-threshold':
    case 'score-range':
    case 'hbsag-duration':
    case 'tbil-uln-multiple':
      return true;
  }
}
