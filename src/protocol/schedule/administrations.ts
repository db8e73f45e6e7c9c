/**
 * Study-drug administrations as the schedule sees them, and Day 0.
 *
 * Day 0 is the calendar date, in the site's time zone, of the first study-drug
 * administration actually started, MSC or placebo alike (clinical-reference §0 Study
 * Day 0, Blinding). Concomitant medication never sets it: only administrations that
 * pass isStudyDrug are considered.
 */
import type { MedicationAdministration } from '@medplum/fhirtypes';
import type { Trial } from '../trials';
import { compareTimePoints, toTimePoint, type LocalDate, type TimePoint } from './dates';
import { isStudyDrug } from './study-drug';

/** A site with its IANA time zone; src/config.ts SiteConfig fits. */
export interface SiteContext {
  readonly id: string;
  readonly timeZone: string;
}

/**
 * What an administration's status means for dosing (§6 Dose checks):
 * given (completed, in-progress), partial (stopped: flagged), not-done (a missed dose),
 * needs-review (on-hold, unknown: not decided for the site). entered-in-error is dropped.
 */
export type AdministrationState = 'given' | 'partial' | 'not-done' | 'needs-review';

/** dosage.dose as sent: UCUM code when present, else the unit text. */
export interface DoseQuantity {
  readonly value: number;
  readonly unit: string;
}

export interface StudyDrugAdministration {
  /** `MedicationAdministration/<id>`: a reference, never PHI. */
  readonly ref: string;
  readonly status: string;
  readonly state: AdministrationState;
  readonly at: TimePoint;
  readonly dose: DoseQuantity | null;
}

/** A study-drug administration the schedule cannot use, with why. */
export interface SkippedAdministration {
  readonly ref: string;
  readonly reason: 'no-usable-effective-time';
}

export type Day0 =
  | { readonly kind: 'infusion'; readonly date: LocalDate; readonly at: TimePoint; readonly administration: string }
  /** Arms without study drug (NCT02812121 control): the enrolment/randomisation date the caller supplies [A]. */
  | { readonly kind: 'enrolment'; readonly date: LocalDate; readonly at: TimePoint };

/** The trial's study-drug administrations among `all`, sorted by time; concomitant medication is left out. */
export function studyDrugAdministrations(trial: Trial, all: readonly MedicationAdministration[], site: SiteContext): { administrations: StudyDrugAdministration[]; skipped: SkippedAdministration[] } {
  const administrations: StudyDrugAdministration[] = [];
  const skipped: SkippedAdministration[] = [];
  for (const ma of all) {
    if (ma.status === 'entered-in-error' || !isStudyDrug(trial, ma, site)) continue;
    const ref = `MedicationAdministration/${ma.id ?? '?'}`;
    const at = toTimePoint(ma.effectiveDateTime ?? ma.effectivePeriod?.start, site.timeZone);
    if (!at) skipped.push({ ref, reason: 'no-usable-effective-time' });
    else administrations.push({ ref, status: ma.status, state: stateOf(ma.status), at, dose: doseOf(ma) });
  }
  administrations.sort((a, b) => compareTimePoints(a.at, b.at));
  return { administrations, skipped };
}

function stateOf(status: MedicationAdministration['status']): AdministrationState {
  switch (status) {
    case 'completed':
    case 'in-progress':
      return 'given';
    case 'stopped':
      return 'partial';
    case 'not-done':
      return 'not-done';
    default:
      return 'needs-review';
  }
}

function doseOf(ma: MedicationAdministration): DoseQuantity | null {
  const q = ma.dosage?.dose;
  const unit = q?.code ?? q?.unit;
  return q && typeof q.value === 'number' && unit ? { value: q.value, unit } : null;
}

/** An administration that was at least started: it happened, so it dates Day 0 and visits. */
export function wasStarted(a: StudyDrugAdministration): boolean {
  return a.state === 'given' || a.state === 'partial';
}

/**
 * Day 0: the first started study-drug administration; when there is none, the
 * `fallback` (enrolment date) if the caller allows one, else null (no schedule yet).
 */
export function findDay0(administrations: readonly StudyDrugAdministration[], fallback: TimePoint | null): Day0 | null {
  const first = administrations.filter(wasStarted).sort((a, b) => compareTimePoints(a.at, b.at))[0];
  if (first) return { kind: 'infusion', date: first.at.date, at: first.at, administration: first.ref };
  return fallback ? { kind: 'enrolment', date: fallback.date, at: fallback } : null;
}
