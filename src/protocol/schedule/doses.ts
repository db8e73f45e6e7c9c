/**
 * Dose checks against the arm's schedule (clinical-reference §6 Dose checks, §7.2).
 *
 * Every week at which ANY arm of the trial has a dose is listed, so an arm without a
 * dose that week shows not-applicable rather than nothing (NCT05985863 control at weeks
 * 4 and 5: not a missed dose). Each study-drug administration goes to the scheduled
 * dose whose window (the W<week> visit window) holds it, nearest target first, ties to
 * the earlier dose. Placebo and masked administrations count like MSC: the arm is
 * known from the ResearchSubject, never from the product or amount (§0 Blinding).
 */
import type { Arm, Product, ScheduledDose, Trial } from '../trials';
import { wasStarted, type StudyDrugAdministration } from './administrations';
import type { LabResult } from './assign';
import { checkAmount, type AmountCheck } from './dose-amount';
import { daysBetween, type LocalDate } from './dates';
import { endedBy, type EndOfSchedule, type PlannedVisit } from './plan';

export type DoseStatus =
  | { readonly kind: 'given'; readonly administration: string; readonly amount: Exclude<AmountCheck, { kind: 'out-of-tolerance' }> }
  | { readonly kind: 'deviation'; readonly administration: string; readonly amount: Extract<AmountCheck, { kind: 'out-of-tolerance' }> }
  | { readonly kind: 'partial'; readonly administration: string }
  | { readonly kind: 'missed'; readonly reason: 'not-done' | 'window-closed'; readonly administration: string | null }
  | { readonly kind: 'needs-review'; readonly administration: string; readonly status: string }
  | { readonly kind: 'upcoming' }
  | { readonly kind: 'not-applicable'; readonly reason: 'arm-has-no-dose' | EndOfSchedule['kind'] };

export interface DoseOutcome {
  readonly week: number;
  /** The arm's product that week; null when the arm has no dose then. */
  readonly product: Product | null;
  readonly targetDate: LocalDate;
  readonly windowStart: LocalDate;
  readonly windowEnd: LocalDate;
  readonly status: DoseStatus;
}

export interface DoseCheckInput {
  readonly trial: Trial;
  readonly arm: Arm;
  readonly plan: readonly PlannedVisit[];
  readonly day0: LocalDate;
  /** The subject's study-drug administrations, sorted by time. */
  readonly administrations: readonly StudyDrugAdministration[];
  /** Lab results, for body weight. */
  readonly results: readonly LabResult[];
  readonly asOf: LocalDate;
  readonly end: EndOfSchedule | null;
  readonly timeZone: string;
}

interface Slot {
  readonly dose: ScheduledDose;
  readonly visit: PlannedVisit;
  readonly admins: StudyDrugAdministration[];
}

export interface DoseCheck {
  /** One per week at which any arm has a dose, ascending. */
  readonly doses: readonly DoseOutcome[];
  /** Started administrations in no dose window. */
  readonly unscheduled: readonly StudyDrugAdministration[];
  /** Started administrations beyond the one that speaks for a dose. */
  readonly extra: readonly StudyDrugAdministration[];
}

export function checkDoses(input: DoseCheckInput): DoseCheck {
  const slots = slotsOf(input);
  const unscheduled: StudyDrugAdministration[] = [];
  for (const a of input.administrations) {
    const slot = slotFor(slots, daysBetween(input.day0, a.at.date));
    if (slot) slot.admins.push(a);
    else if (wasStarted(a)) unscheduled.push(a);
  }
  const extra: StudyDrugAdministration[] = [];
  const doses = allDoseWeeks(input.trial).map((week) => {
    const visit = input.plan.find((v) => v.kind === 'week' && v.week === week)!;
    const slot = slots.find((s) => s.dose.week === week);
    const frame = { week, targetDate: visit.targetDate, windowStart: visit.windowStart, windowEnd: visit.windowEnd };
    if (!slot) return { ...frame, product: null, status: { kind: 'not-applicable', reason: 'arm-has-no-dose' } as const };
    const [chosen, ...rest] = [...slot.admins].sort((a, b) => rank(a, slot) - rank(b, slot));
    extra.push(...rest.filter(wasStarted));
    return { ...frame, product: slot.dose.product, status: statusOf(slot, chosen, input) };
  });
  return { doses, unscheduled, extra };
}

function slotsOf(input: DoseCheckInput): Slot[] {
  return input.arm.doses.map((dose) => ({ dose, visit: input.plan.find((v) => v.kind === 'week' && v.week === dose.week)!, admins: [] }));
}

/** The dose whose window holds the study day: nearest target, ties to the earlier dose. */
function slotFor(slots: readonly Slot[], studyDay: number): Slot | undefined {
  const holding = slots.filter((s) => studyDay >= s.visit.startDay && studyDay <= s.visit.endDay);
  return holding.sort((a, b) => Math.abs(studyDay - a.visit.targetDay) - Math.abs(studyDay - b.visit.targetDay) || a.visit.targetDay - b.visit.targetDay)[0];
}

/** Which administration speaks for a dose: a started one first, then review, then not-done; then nearest target. */
function rank(a: StudyDrugAdministration, slot: Slot): number {
  const byState = { given: 0, partial: 0, 'needs-review': 1, 'not-done': 2 }[a.state];
  return byState * 10_000 + Math.abs(daysBetween(slot.visit.targetDate, a.at.date));
}

function statusOf(slot: Slot, chosen: StudyDrugAdministration | undefined, input: DoseCheckInput): DoseStatus {
  if (!chosen) {
    const ended = endedBy(slot.visit, input.end);
    if (ended) return { kind: 'not-applicable', reason: ended.kind };
    return input.asOf > slot.visit.windowEnd ? { kind: 'missed', reason: 'window-closed', administration: null } : { kind: 'upcoming' };
  }
  switch (chosen.state) {
    case 'not-done':
      return { kind: 'missed', reason: 'not-done', administration: chosen.ref };
    case 'partial':
      return { kind: 'partial', administration: chosen.ref };
    case 'needs-review':
      return { kind: 'needs-review', administration: chosen.ref, status: chosen.status };
    case 'given': {
      const amount = checkAmount(slot.dose, chosen, input.results, input.timeZone);
      return amount.kind === 'out-of-tolerance' ? { kind: 'deviation', administration: chosen.ref, amount } : { kind: 'given', administration: chosen.ref, amount };
    }
  }
}

/** Weeks with a dose in any arm of the trial, ascending. */
export function allDoseWeeks(trial: Trial): number[] {
  return [...new Set(trial.arms.flatMap((a) => a.doses.map((d) => d.week)))].sort((a, b) => a - b);
}
