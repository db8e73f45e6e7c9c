/**
 * Number formatting for reasons. Unit conversion is not done here: rules call the trial's
 * CRF unit converter (src/mapping ItemUnits, through EvalContext.units), the one place that
 * holds the factors of clinical-reference §3 and the unit-text synonyms (design.md "One
 * converter").
 */
import { approxEqual } from '../scores';

/** A recorded or configured number: as given, with at least one decimal (85 -> "85.0", 4.6 -> "4.6"). */
export function fmt(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/**
 * A computed number (a conversion): two decimals, more when two decimals would print it
 * equal to the threshold it is compared with although it is not equal within 1e-9.
 */
export function fmtComputed(x: number, threshold?: number): string {
  const two = x.toFixed(2);
  if (threshold === undefined || approxEqual(x, threshold) || two !== threshold.toFixed(2)) return two;
  return String(Number(x.toPrecision(8)));
}

/** Dimensionless INR spellings (UCUM `{INR}` and `1`, clinical-reference §2), printed without a unit. */
const UNITLESS = new Set(['{INR}', '1', '']);

/** "85.0 umol/L" / "1.49" for a dimensionless INR. */
export function withUnit(x: string, unit: string): string {
  const u = unit.trim();
  return UNITLESS.has(u) ? x : `${x} ${u}`;
}
