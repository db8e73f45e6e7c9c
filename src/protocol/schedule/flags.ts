/**
 * Administration-level flags for review (clinical-reference §6 Dose checks):
 * infusions closer than the minimum interval (5 calendar days [A]), started
 * administrations that fit no scheduled dose window, and a second started
 * administration for a dose already given.
 */
import { wasStarted, type StudyDrugAdministration } from './administrations';
import { daysBetween, type LocalDate } from './dates';

export type AdministrationFlag =
  | { readonly kind: 'short-interval'; readonly first: string; readonly second: string; readonly days: number; readonly minimumDays: number }
  | { readonly kind: 'unscheduled-administration'; readonly administration: string; readonly studyDay: number }
  | { readonly kind: 'extra-administration'; readonly administration: string; readonly studyDay: number };

/** Consecutive started study-drug infusions fewer than `minimumDays` calendar days apart (4 days -> flagged, 5 -> not). */
export function shortIntervals(administrations: readonly StudyDrugAdministration[], minimumDays: number): AdministrationFlag[] {
  const started = administrations.filter(wasStarted);
  const flags: AdministrationFlag[] = [];
  for (let i = 1; i < started.length; i++) {
    const days = daysBetween(started[i - 1].at.date, started[i].at.date);
    if (days < minimumDays) flags.push({ kind: 'short-interval', first: started[i - 1].ref, second: started[i].ref, days, minimumDays });
  }
  return flags;
}

export function placementFlags(day0: LocalDate, unscheduled: readonly StudyDrugAdministration[], extra: readonly StudyDrugAdministration[]): AdministrationFlag[] {
  return [
    ...unscheduled.map((a): AdministrationFlag => ({ kind: 'unscheduled-administration', administration: a.ref, studyDay: daysBetween(day0, a.at.date) })),
    ...extra.map((a): AdministrationFlag => ({ kind: 'extra-administration', administration: a.ref, studyDay: daysBetween(day0, a.at.date) })),
  ];
}
