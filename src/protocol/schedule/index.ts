/**
 * Public API of the schedule engine (pure, no I/O): study-drug detection, Day 0, visit
 * windows and statuses, result-to-visit assignment, dose checks
 * (clinical-reference §0, §6, §7).
 */
export { evaluateSchedule, type ScheduleEvaluation, type ScheduleInput } from './evaluate';
export { isStudyDrug, studyDrugCodes, WORKFLOW_RESEARCH_STUDY_URL, type SiteRef } from './study-drug';
export { findDay0, studyDrugAdministrations, wasStarted, type AdministrationState, type Day0, type DoseQuantity, type SiteContext, type SkippedAdministration, type StudyDrugAdministration } from './administrations';
export { endOfSchedule, planVisits, type EndOfSchedule, type PlannedVisit } from './plan';
export { assignResults, nearest, type AssignContext, type LabResult, type Placement, type ResultAssignment } from './assign';
export { flagOutOfWindow, visitStatuses, type VisitOutcome, type VisitStatus, type VisitStatusInput } from './visit-status';
export { allDoseWeeks, checkDoses, type DoseCheck, type DoseCheckInput, type DoseOutcome, type DoseStatus } from './doses';
export { checkAmount, latestWeight, parseCells, WEIGHT_ITEM, type AmountCheck, type AmountUnit, type BodyWeight, type Compared } from './dose-amount';
export { placementFlags, shortIntervals, type AdministrationFlag } from './flags';
export { addDays, daysBetween, localDateOf, localDateTimeOf, siteLocalTime, toTimePoint, type LocalDate, type TimePoint } from './dates';
