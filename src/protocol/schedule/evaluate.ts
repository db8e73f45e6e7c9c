/**
 * evaluateSchedule: one subject's Day 0, visits, result-to-visit assignment, doses and
 * administration flags, from plain data (pure: no I/O, no clock; `asOf` is given).
 */
import type { MedicationAdministration } from '@medplum/fhirtypes';
import type { Arm, Trial } from '../trials';
import { findDay0, studyDrugAdministrations, wasStarted, type Day0, type SiteContext, type SkippedAdministration } from './administrations';
import { assignResults, type LabResult, type ResultAssignment } from './assign';
import { toTimePoint } from './dates';
import { checkDoses, type DoseOutcome } from './doses';
import { placementFlags, shortIntervals, type AdministrationFlag } from './flags';
import { endOfSchedule, planVisits, type EndOfSchedule } from './plan';
import { flagOutOfWindow, visitStatuses, type VisitOutcome } from './visit-status';

export interface ScheduleInput {
  readonly trial: Trial;
  /** The subject's arm (trials findArm on ResearchSubject.assignedArm). */
  readonly arm: Arm;
  readonly site: SiteContext;
  /** Every MedicationAdministration of the subject; concomitant medication is filtered out here. */
  readonly medicationAdministrations: readonly MedicationAdministration[];
  readonly results: readonly LabResult[];
  /** FHIR date/dateTime of the evaluation ("now" for the caller). */
  readonly asOf: string;
  /** Enrolment/randomisation date: Day 0 only for arms without scheduled study drug [A]. */
  readonly enrolment?: string | null;
  readonly death?: string | null;
  readonly transplant?: string | null;
}

export type ScheduleEvaluation =
  | { readonly kind: 'no-day0'; readonly skipped: readonly SkippedAdministration[] }
  | {
      readonly kind: 'scheduled';
      readonly day0: Day0;
      readonly end: EndOfSchedule | null;
      readonly visits: readonly VisitOutcome[];
      readonly results: readonly ResultAssignment[];
      readonly doses: readonly DoseOutcome[];
      readonly flags: readonly AdministrationFlag[];
      /** Study-drug administrations without a usable effective time: review items. */
      readonly skipped: readonly SkippedAdministration[];
    };

export function evaluateSchedule(input: ScheduleInput): ScheduleEvaluation {
  const { trial, arm, site } = input;
  const tz = site.timeZone;
  const asOf = toTimePoint(input.asOf, tz);
  if (!asOf) throw new Error(`asOf is not a full date: ${input.asOf}`);
  const { administrations, skipped } = studyDrugAdministrations(trial, input.medicationAdministrations, site);
  const fallback = arm.doses.length === 0 ? toTimePoint(input.enrolment, tz) : null;
  const day0 = findDay0(administrations, fallback);
  if (!day0) return { kind: 'no-day0', skipped };
  const end = endOfSchedule(input.death, input.transplant, tz);
  const plan = planVisits(trial, arm, day0.date);
  const assigned = assignResults(input.results, { plan, day0: day0.at, end, timeZone: tz });
  const visits = visitStatuses({ plan, results: assigned, administrations: administrations.filter(wasStarted), asOf: asOf.date, end });
  const doseCheck = checkDoses({ trial, arm, plan, day0: day0.date, administrations, results: input.results, asOf: asOf.date, end, timeZone: tz });
  // With no dose schedule configured (NCT03945487, §1.4) every infusion would look unscheduled: nothing to compare against.
  const unscheduled = arm.doses.length === 0 && trial.unknowns.includes('dose') ? [] : doseCheck.unscheduled;
  const flags = [...shortIntervals(administrations, trial.defaults.minInfusionIntervalDays), ...placementFlags(day0.date, unscheduled, doseCheck.extra)];
  return { kind: 'scheduled', day0, end, visits, results: flagOutOfWindow(assigned, visits), doses: doseCheck.doses, flags, skipped };
}
