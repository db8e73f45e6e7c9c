/**
 * Assigning results (each with an item and an effective time) to visits
 * (clinical-reference §6 "Observation-to-visit assignment"):
 *
 * - Before the first infusion start and from Day -baselineWindowDays: the SCR visit; per
 *   item the LATEST is the baseline (§0 Baseline lab). A date-only result dated Day 0
 *   counts as pre-infusion [A]: infusion-day labs are drawn before the dose.
 * - After it: the week visit whose window holds the study day, nearest target first,
 *   ties to the earlier visit. With the default windows no two windows overlap, so this
 *   is the "nearest target" rule of §6; overlapping custom windows stay deterministic.
 *   Per item, the result closest to the target is selected, ties to the earlier one.
 * - Anything else is unscheduled and remembers its nearest visit (ties to the earlier):
 *   it raises out-of-window only if that visit ends with no in-window result (decided
 *   in visit-status.ts, once the windows are known to be closed).
 */
import { atOrBefore, compareTimePoints, daysBetween, toTimePoint, type TimePoint } from './dates';
import type { EndOfSchedule, PlannedVisit } from './plan';

/** A lab result as plain data: what the CRF store holds, not a database row. */
export interface LabResult {
  /** `Observation/<id>` or another PHI-free reference. */
  readonly ref: string;
  /** CRF item / analyte id (TBIL, INR, WEIGHT, ...). */
  readonly item: string;
  /** FHIR dateTime of the result. */
  readonly effective: string;
  /** LOINC code, when known (e.g. 29463-7 body weight). */
  readonly code?: string;
  readonly value?: number;
  readonly unit?: string | null;
}

export type Placement =
  /** In the visit's window; `selected` marks the one value used for this item at this visit. */
  | { readonly kind: 'visit'; readonly visit: string; readonly selected: boolean }
  /** Outside every window. `outOfWindow`: the protocol-deviation flag, set by visitStatuses (false until then). */
  | { readonly kind: 'unscheduled'; readonly nearestVisit: string | null; readonly outOfWindow: boolean }
  | { readonly kind: 'excluded'; readonly reason: 'imprecise-date' | 'after-end-of-schedule' };

export interface ResultAssignment {
  readonly ref: string;
  readonly item: string;
  readonly at: TimePoint | null;
  readonly studyDay: number | null;
  readonly placement: Placement;
}

export interface AssignContext {
  readonly plan: readonly PlannedVisit[];
  /** Day 0 date and the first infusion start. */
  readonly day0: TimePoint;
  readonly end: EndOfSchedule | null;
  readonly timeZone: string;
}

export function assignResults(results: readonly LabResult[], ctx: AssignContext): ResultAssignment[] {
  const placed = results.map((r, i) => place(r, ctx, i));
  return selectPerItem(placed, ctx.plan);
}

interface Placed extends ResultAssignment {
  readonly index: number;
}

function place(r: LabResult, ctx: AssignContext, index: number): Placed {
  const at = toTimePoint(r.effective, ctx.timeZone);
  const base = { ref: r.ref, item: r.item, index };
  if (!at) return { ...base, at: null, studyDay: null, placement: { kind: 'excluded', reason: 'imprecise-date' } };
  const studyDay = daysBetween(ctx.day0.date, at.date);
  const placed = (placement: Placement): Placed => ({ ...base, at, studyDay, placement });
  if (ctx.end && at.date > ctx.end.date) return placed({ kind: 'excluded', reason: 'after-end-of-schedule' });
  if (atOrBefore(at, ctx.day0)) {
    const scr = ctx.plan.find((v) => v.kind === 'screening');
    if (scr && studyDay >= scr.startDay) return placed({ kind: 'visit', visit: scr.code, selected: false });
    return placed({ kind: 'unscheduled', nearestVisit: scr?.code ?? null, outOfWindow: false });
  }
  const weeks = ctx.plan.filter((v) => v.kind === 'week' && v.forArm);
  const inWindow = nearest(weeks.filter((v) => studyDay >= v.startDay && studyDay <= v.endDay), studyDay);
  if (inWindow) return placed({ kind: 'visit', visit: inWindow.code, selected: false });
  return placed({ kind: 'unscheduled', nearestVisit: nearest(weeks, studyDay)?.code ?? null, outOfWindow: false });
}

/** The visit with the nearest target day; ties to the earlier visit (§6). */
export function nearest(visits: readonly PlannedVisit[], studyDay: number): PlannedVisit | undefined {
  let best: PlannedVisit | undefined;
  for (const v of visits) {
    const d = Math.abs(studyDay - v.targetDay);
    const bestD = best ? Math.abs(studyDay - best.targetDay) : Infinity;
    if (d < bestD || (d === bestD && best && v.targetDay < best.targetDay)) best = v;
  }
  return best;
}

/** Marks, per visit and item, the one result used: SCR the latest, week visits the closest to target. */
function selectPerItem(placed: readonly Placed[], plan: readonly PlannedVisit[]): ResultAssignment[] {
  const groups = new Map<string, { visit: PlannedVisit; members: Placed[] }>();
  for (const p of placed) {
    if (p.placement.kind !== 'visit') continue;
    const code = p.placement.visit;
    const key = `${code}\u0000${p.item}`;
    const group = groups.get(key) ?? { visit: plan.find((v) => v.code === code)!, members: [] };
    group.members.push(p);
    groups.set(key, group);
  }
  const chosen = new Set<number>();
  for (const { visit, members } of groups.values()) chosen.add((visit.kind === 'screening' ? latest(members) : closest(members, visit.targetDay)).index);
  return placed.map(({ index, ...r }) => (r.placement.kind === 'visit' ? { ...r, placement: { ...r.placement, selected: chosen.has(index) } } : r));
}

function latest(group: readonly Placed[]): Placed {
  return [...group].sort((a, b) => compareTimePoints(b.at!, a.at!) || b.index - a.index)[0];
}

/** Closest to target; ties (equal distance, or the same day) to the earlier result. */
function closest(group: readonly Placed[], targetDay: number): Placed {
  const distance = (p: Placed) => Math.abs(p.studyDay! - targetDay);
  return [...group].sort((a, b) => distance(a) - distance(b) || compareTimePoints(a.at!, b.at!) || a.index - b.index)[0];
}
