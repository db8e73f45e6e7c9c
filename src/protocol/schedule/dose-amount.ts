/**
 * Is an administered amount the scheduled one? (clinical-reference §6 Dose checks)
 *
 * - Fixed (NCT05985863): dosage.dose 1.5x10^8 {cells} +/- tolerance [P dose, A tolerance].
 * - Per kg (ESLD): cells/kg x the latest body weight (LOINC 29463-7, kg) within N days
 *   before the infusion [A]; 62.5 kg -> 6.25x10^7 (1x10^6/kg) or 1.875x10^8 (3x10^6/kg).
 *   A dose sent in {cells}/kg is compared per kg directly, no weight needed.
 * - Placebo and masked doses have no cell count to check (§0 Blinding): not-checked.
 * The comparison is |actual/expected - 1| <= tolerance, with the 1e-9 slack of §0 so a
 * dose exactly on the edge (6.875x10^7 for 6.25x10^7 +10%) is within.
 */
import type { ScheduledDose } from '../trials';
import type { StudyDrugAdministration, DoseQuantity } from './administrations';
import type { LabResult } from './assign';
import { atOrBefore, compareTimePoints, daysBetween, toTimePoint, type TimePoint } from './dates';

/** §0: compare with a tolerance of 1e-9 after converting. */
const EPSILON = 1e-9;

/** The CRF item that holds body weight in kg (mappings/crf/*.json). */
export const WEIGHT_ITEM = 'WEIGHT';

export type AmountCheck =
  | ({ readonly kind: 'within-tolerance' } & Compared)
  | ({ readonly kind: 'out-of-tolerance' } & Compared)
  | { readonly kind: 'not-checked'; readonly reason: 'placebo' | 'masked' | 'amount-not-configured' }
  | { readonly kind: 'unverifiable'; readonly reason: 'dose-not-recorded' | 'dose-unit-not-cells' | 'dose-unit-not-comparable' | 'no-recent-body-weight' };

export type AmountUnit = '{cells}' | '{cells}/kg';

export interface Compared {
  readonly expected: number;
  readonly actual: number;
  readonly unit: AmountUnit;
  /** actual / expected. */
  readonly ratio: number;
  readonly tolerance: number;
  /** The body weight the expected total was computed from, for per-kg doses given as a total. */
  readonly weight: BodyWeight | null;
}

/** Cells parsed from a dose unit such as {cells}, 10*6{cells}/kg, cells. */
interface Cells {
  readonly count: number;
  readonly perKg: boolean;
}

const CELLS_UNIT = /^(?:10\*(\d+)\.?)?\{?cells?\}?(\/kg)?$/i;

export function parseCells(q: DoseQuantity): Cells | null {
  const m = CELLS_UNIT.exec(q.unit.replace(/\s+/g, ''));
  return m ? { count: q.value * 10 ** Number(m[1] ?? 0), perKg: m[2] !== undefined } : null;
}

export interface BodyWeight {
  readonly ref: string;
  readonly kg: number;
}

export function checkAmount(dose: ScheduledDose, admin: StudyDrugAdministration, results: readonly LabResult[], timeZone: string): AmountCheck {
  if (dose.product !== 'active') return { kind: 'not-checked', reason: dose.product };
  if (!dose.amount) return { kind: 'not-checked', reason: 'amount-not-configured' };
  if (!admin.dose) return { kind: 'unverifiable', reason: 'dose-not-recorded' };
  const cells = parseCells(admin.dose);
  if (!cells) return { kind: 'unverifiable', reason: 'dose-unit-not-cells' };
  const amount = dose.amount;
  if (amount.kind === 'fixed') {
    return cells.perKg ? { kind: 'unverifiable', reason: 'dose-unit-not-comparable' } : compare(amount.value, cells.count, '{cells}', dose.tolerance);
  }
  if (cells.perKg) return compare(amount.value, cells.count, '{cells}/kg', dose.tolerance);
  const weight = latestWeight(results, admin.at, { loinc: amount.weightLoinc, withinDays: amount.weightWithinDaysBefore }, timeZone);
  if (!weight) return { kind: 'unverifiable', reason: 'no-recent-body-weight' };
  return compare(amount.value * weight.kg, cells.count, '{cells}', dose.tolerance, weight);
}

function compare(expected: number, actual: number, unit: AmountUnit, tolerance: number, weight: BodyWeight | null = null): AmountCheck {
  const ratio = actual / expected;
  const compared: Compared = { expected, actual, unit, ratio, tolerance, weight };
  return { kind: Math.abs(ratio - 1) <= tolerance + EPSILON ? 'within-tolerance' : 'out-of-tolerance', ...compared };
}

/**
 * The latest body weight at or before the infusion and no more than `withinDays`
 * calendar days before it. Only kg (or g) values count: a weight without a unit is not
 * guessed (clinical-reference §2 Adapter rule).
 */
export function latestWeight(results: readonly LabResult[], infusion: TimePoint, rule: { loinc: string; withinDays: number }, timeZone: string): BodyWeight | null {
  const candidates = results
    .filter((r) => r.item === WEIGHT_ITEM || r.code === rule.loinc)
    .map((r) => ({ r, at: toTimePoint(r.effective, timeZone), kg: kilograms(r) }))
    .filter((c): c is { r: LabResult; at: TimePoint; kg: number } => c.at !== null && c.kg !== null)
    .filter((c) => atOrBefore(c.at, infusion) && daysBetween(c.at.date, infusion.date) <= rule.withinDays)
    .sort((a, b) => compareTimePoints(b.at, a.at));
  return candidates[0] ? { ref: candidates[0].r.ref, kg: candidates[0].kg } : null;
}

function kilograms(r: LabResult): number | null {
  if (typeof r.value !== 'number' || !(r.value > 0)) return null;
  if (r.unit === 'kg') return r.value;
  if (r.unit === 'g') return r.value / 1000;
  return null;
}
