/**
 * Public API of the trial definitions (pure apart from reading the files at load):
 * mappings/trials/<key>.json, validated by mappings/trials/trial.schema.json.
 */
export type { UnrecordedDialysis } from './types';
export type { Arm, ArmRole, ExportValues, DoseAmount, Product, ScheduledDose, StudyDrugConfig, Trial, TrialDefaults, TrialSet, TrialUnknown, VisitDef, VisitWindow, WeekVisitDef } from './types';
export type { AgeRangeRule, AllOfRule, AnswerRef, AnyOfRule, Coding, Criterion, CriterionRule, HbsagDurationRule, JudgementRule, LabThresholdRule, PreOnsetRule, ScoreName, ScoreRangeRule, TbilUlnMultipleRule } from './criteria';
export { isComputable } from './criteria';
export { loadTrials, readTrials, trialFromJson } from './load';
export { LoadedTrialSet } from './trial-set';
export { findArm } from './build-arms';
export { BODY_WEIGHT_LOINC, DEFAULT_EXPORT_VALUES, DEFAULT_TRIALS_DIR, TRIAL_DEFAULTS, TRIAL_SCHEMA_PATH } from './defaults';
export { TrialLoadError, TrialPackageLoadError, formatTrialProblem, type TrialLoadProblem } from './problems';
