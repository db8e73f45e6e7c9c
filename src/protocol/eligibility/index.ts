/**
 * Public API of the eligibility engine (pure, no I/O): a loaded trial's criteria against
 * one subject's screening facts (clinical-reference §0, §1, §4, §7).
 */
export { evaluateEligibility, CLINICAL_REFERENCE_SECTIONS } from './evaluate';
export { ageOn } from './age';
export { ASSUMED_NO_DIALYSIS, scoreLabItems } from './scores';
export {
  CHRONIC_HBV_EXTRA_CODES,
  DEFAULT_SCREENING_LOOKBACK_DAYS,
  type AnswerValue,
  type ClinicalFinding,
  type CodedFact,
  type CriterionResult,
  type EligibilityFacts,
  type EligibilityOptions,
  type EligibilityResult,
  type FindingKind,
  type LabFact,
  type Overall,
  type Verdict,
  type WorkbenchAnswer,
} from './types';
