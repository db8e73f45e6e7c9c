/**
 * The subject's visit plan: each visit of the trial placed on the calendar from Day 0.
 * Targets are Day 0 + 7 x week, anchored to Day 0 and not to the previous visit
 * (clinical-reference §0, §6); windows are inclusive calendar-day ranges.
 */
import type { Arm, Trial, VisitDef } from '../trials';
import { addDays, toTimePoint, type LocalDate } from './dates';

export interface PlannedVisit {
  readonly code: string;
  readonly kind: 'screening' | 'week';
  readonly week: number | null;
  /** Study day of the target (SCR: 0, the first infusion). */
  readonly targetDay: number;
  /** First and last study day of the window, inclusive. SCR: -baselineWindowDays .. 0 (before the infusion start). */
  readonly startDay: number;
  readonly endDay: number;
  readonly targetDate: LocalDate;
  readonly windowStart: LocalDate;
  readonly windowEnd: LocalDate;
  /** False when the subject's arm does not have this visit (e.g. W5 for the NCT05985863 control arm). */
  readonly forArm: boolean;
}

/** Death or transplant ends the schedule: later visits and doses are not-applicable, never missed (§6). */
export interface EndOfSchedule {
  readonly kind: 'death' | 'transplant';
  readonly date: LocalDate;
}

export function planVisits(trial: Trial, arm: Arm, day0: LocalDate): PlannedVisit[] {
  return trial.visits.map((v) => planVisit(v, arm, day0));
}

function planVisit(v: VisitDef, arm: Arm, day0: LocalDate): PlannedVisit {
  const [week, targetDay, startDay, endDay, forArm] =
    v.kind === 'screening'
      ? [null, 0, -v.daysBefore, 0, true]
      : [v.week, v.targetDay, v.targetDay - v.window.before, v.targetDay + v.window.after, v.arms === null || v.arms.includes(arm.id)];
  return {
    code: v.code,
    kind: v.kind,
    week,
    targetDay,
    startDay,
    endDay,
    targetDate: addDays(day0, targetDay),
    windowStart: addDays(day0, startDay),
    windowEnd: addDays(day0, endDay),
    forArm,
  };
}

/** The earlier of death and transplant, as site-local dates; null when neither is known. */
export function endOfSchedule(death: string | null | undefined, transplant: string | null | undefined, timeZone: string): EndOfSchedule | null {
  const ends: EndOfSchedule[] = [];
  const d = toTimePoint(death, timeZone);
  const t = toTimePoint(transplant, timeZone);
  if (d) ends.push({ kind: 'death', date: d.date });
  if (t) ends.push({ kind: 'transplant', date: t.date });
  return ends.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0))[0] ?? null;
}

/** The schedule ended before the visit's window closed: it can no longer be attended (§6). */
export function endedBy(visit: Pick<PlannedVisit, 'windowEnd'>, end: EndOfSchedule | null): EndOfSchedule | null {
  return end && end.date <= visit.windowEnd ? end : null;
}
