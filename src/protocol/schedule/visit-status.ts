/**
 * Visit statuses (clinical-reference §6), decided in this order:
 *
 * 1. not-applicable: the arm has no such visit (NCT05985863 control at W5).
 * 2. in-window: a result placed in the window, or a started study-drug administration
 *    dated in it (an infusion visit happened even if no lab came with it).
 * 3. not-applicable: death or transplant on or before the last day of the window with
 *    nothing in it; the schedule ended, so the visit is not "missed" (transplant-free
 *    survival must not count these as deviations).
 * 4. upcoming: the window has not closed at `asOf` (a window closes after its last day).
 * 5. out-of-window: closed, nothing in it, but an unscheduled result has it as nearest
 *    visit: the visit took place outside its window, a protocol deviation.
 * 6. missed: closed with no qualifying result.
 */
import type { ResultAssignment } from './assign';
import type { StudyDrugAdministration } from './administrations';
import type { LocalDate } from './dates';
import { endedBy, type EndOfSchedule, type PlannedVisit } from './plan';

export type VisitStatus =
  | { readonly kind: 'in-window'; readonly results: readonly string[]; readonly administrations: readonly string[] }
  | { readonly kind: 'out-of-window'; readonly results: readonly string[] }
  | { readonly kind: 'missed' }
  | { readonly kind: 'upcoming' }
  | { readonly kind: 'not-applicable'; readonly reason: 'not-in-arm' | EndOfSchedule['kind'] };

export interface VisitOutcome extends PlannedVisit {
  readonly status: VisitStatus;
}

export interface VisitStatusInput {
  readonly plan: readonly PlannedVisit[];
  readonly results: readonly ResultAssignment[];
  /** Started study-drug administrations (given or partial). */
  readonly administrations: readonly StudyDrugAdministration[];
  /** The site-local date of the evaluation. */
  readonly asOf: LocalDate;
  readonly end: EndOfSchedule | null;
}

export function visitStatuses(input: VisitStatusInput): VisitOutcome[] {
  return input.plan.map((v) => ({ ...v, status: statusOf(v, input) }));
}

function statusOf(v: PlannedVisit, input: VisitStatusInput): VisitStatus {
  if (!v.forArm) return { kind: 'not-applicable', reason: 'not-in-arm' };
  const results = input.results.filter((r) => r.placement.kind === 'visit' && r.placement.visit === v.code).map((r) => r.ref);
  const administrations = v.kind === 'week' ? input.administrations.filter((a) => a.at.date >= v.windowStart && a.at.date <= v.windowEnd).map((a) => a.ref) : [];
  if (results.length > 0 || administrations.length > 0) return { kind: 'in-window', results, administrations };
  const ended = endedBy(v, input.end);
  if (ended) return { kind: 'not-applicable', reason: ended.kind };
  if (input.asOf <= v.windowEnd) return { kind: 'upcoming' };
  const outside = input.results.filter((r) => r.placement.kind === 'unscheduled' && r.placement.nearestVisit === v.code).map((r) => r.ref);
  return outside.length > 0 ? { kind: 'out-of-window', results: outside } : { kind: 'missed' };
}

/** Sets the out-of-window flag on unscheduled results whose nearest visit ended out-of-window (§6). */
export function flagOutOfWindow(results: readonly ResultAssignment[], visits: readonly VisitOutcome[]): ResultAssignment[] {
  const outOfWindow = new Set(visits.filter((v) => v.status.kind === 'out-of-window').map((v) => v.code));
  return results.map((r) =>
    r.placement.kind === 'unscheduled' && r.placement.nearestVisit !== null && outOfWindow.has(r.placement.nearestVisit) ? { ...r, placement: { ...r.placement, outOfWindow: true } } : r,
  );
}
