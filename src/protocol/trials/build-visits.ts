/**
 * Visits of a trial file -> resolved visit definitions with their windows, and the
 * cross-checks between visits and arms: unique codes, W<n> = week n, every dose week
 * is a visit of that arm (clinical-reference §6).
 */
import type { ArmJson, VisitJson } from './json';
import { ptr, type Report } from './problems';
import type { TrialDefaults, VisitDef, VisitWindow } from './types';

export function buildVisits(visits: readonly VisitJson[], arms: readonly ArmJson[], defaults: TrialDefaults, report: Report): VisitDef[] {
  const doseWeeks = new Set(arms.flatMap((a) => a.doses.flatMap((d) => d.weeks)));
  const armIds = new Set(arms.map((a) => a.id));
  const seen = new Set<string>();
  const built: VisitDef[] = [];
  visits.forEach((v, i) => {
    if (seen.has(v.code)) report(ptr('visits', i, 'code'), `visit code '${v.code}' is already defined`);
    seen.add(v.code);
    v.arms?.forEach((id, j) => {
      if (!armIds.has(id)) report(ptr('visits', i, 'arms', j), `unknown arm '${id}'`);
    });
    const def = buildVisit(v, i, doseWeeks, defaults, report);
    if (def) built.push(def);
  });
  checkDoseWeeks(arms, built, report);
  return built.sort(visitOrder);
}

function visitOrder(a: VisitDef, b: VisitDef): number {
  return (a.kind === 'screening' ? -1 : a.week) - (b.kind === 'screening' ? -1 : b.week);
}

function buildVisit(v: VisitJson, i: number, doseWeeks: ReadonlySet<number>, defaults: TrialDefaults, report: Report): VisitDef | null {
  if (v.code === 'SCR') {
    if (v.week !== undefined) report(ptr('visits', i, 'week'), `SCR has no week: its window is Day -${defaults.baselineWindowDays} to the first infusion`);
    if (v.window !== undefined) report(ptr('visits', i, 'window'), `the SCR window is set by defaults.baselineWindowDays`);
    if (v.arms !== undefined) report(ptr('visits', i, 'arms'), `SCR applies to every arm`);
    return { kind: 'screening', code: 'SCR', daysBefore: defaults.baselineWindowDays };
  }
  const codeWeek = Number(v.code.slice(1));
  if (v.week === undefined) {
    report(ptr('visits', i), `visit '${v.code}' needs 'week' (${codeWeek})`);
    return null;
  }
  if (v.week !== codeWeek) report(ptr('visits', i, 'week'), `visit '${v.code}' must have week ${codeWeek}, not ${v.week}`);
  const infusion = doseWeeks.has(v.week);
  const window = v.window ?? defaultWindow(v.week, infusion, defaults);
  if (!window) {
    report(ptr('visits', i), `no window: set 'window' or add a defaults.windows.byWeek band covering week ${v.week}`);
    return null;
  }
  return { kind: 'week', code: v.code, week: v.week, targetDay: 7 * v.week, window, infusion, arms: v.arms ?? null };
}

/** §6 [A]: the infusion window for any week with a scheduled dose (in any arm, so one visit has one window), else the week band. */
export function defaultWindow(week: number, infusion: boolean, defaults: TrialDefaults): VisitWindow | null {
  if (infusion) return { before: defaults.windows.infusion, after: defaults.windows.infusion };
  const band = defaults.windows.byWeek.find((b) => week >= b.fromWeek && (b.toWeek === null || week <= b.toWeek));
  return band ? { before: band.days, after: band.days } : null;
}

/** Every dose week must be a visit the arm has, or the dose would have no window. */
function checkDoseWeeks(arms: readonly ArmJson[], visits: readonly VisitDef[], report: Report): void {
  arms.forEach((a, i) => {
    a.doses.forEach((d, b) => {
      d.weeks.forEach((week, w) => {
        const visit = visits.find((v) => v.kind === 'week' && v.week === week);
        const at = ptr('arms', i, 'doses', b, 'weeks', w);
        if (!visit || visit.kind !== 'week') report(at, `dose week ${week} has no visit W${week}`);
        else if (visit.arms && !visit.arms.includes(a.id)) report(at, `visit W${week} does not list arm '${a.id}'`);
      });
    });
  });
}
