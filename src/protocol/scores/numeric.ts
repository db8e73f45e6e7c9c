/**
 * Numeric helpers shared by every score: IEEE-tolerant threshold comparisons,
 * half-up rounding and clamping.
 *
 * Why a tolerance: unit conversion happens before scoring, and the exact
 * boundary values of the protocols do not survive IEEE doubles, e.g.
 * 51.3 µmol/L ÷ 17.1 = 2.9999999999999996 and 205.2 ÷ 17.1 = 11.999999999999998
 * (clinical-reference §0 "Float comparisons": convert first, then compare with
 * a tolerance of 1e-9). Every threshold test in this folder goes through the
 * comparison functions below, never through a bare `<` or `>=`.
 */

/** Absolute tolerance for threshold comparisons (clinical-reference §0). */
export const COMPARISON_TOLERANCE = 1e-9;

/** `x ≥ threshold`, counting values within the tolerance below it as equal. */
export function atLeast(x: number, threshold: number): boolean {
  return x >= threshold - COMPARISON_TOLERANCE;
}

/** `x ≤ threshold`, counting values within the tolerance above it as equal. */
export function atMost(x: number, threshold: number): boolean {
  return x <= threshold + COMPARISON_TOLERANCE;
}

/** `x < threshold` strictly: values within the tolerance of it count as equal, so not below. */
export function below(x: number, threshold: number): boolean {
  return !atLeast(x, threshold);
}

/** `x > threshold` strictly: values within the tolerance of it count as equal, so not above. */
export function above(x: number, threshold: number): boolean {
  return !atMost(x, threshold);
}

/** `x` equals `y` within the tolerance. */
export function approxEqual(x: number, y: number): boolean {
  return Math.abs(x - y) <= COMPARISON_TOLERANCE;
}

/**
 * Rounds half up (half away from zero for negative numbers) to `digits`
 * decimals.
 *
 * UNOS/OPTN and MDCalc round half up; Python's `round()` is banker's rounding
 * (round(30.5) = 30), which clinical-reference §4.1 calls out as a pitfall.
 * A value within {@link COMPARISON_TOLERANCE} below the half-way point (after
 * scaling) counts as the half-way point, so IEEE artefacts such as
 * 2.675 × 100 = 267.49999999999997 still round up.
 *
 * @example roundHalfUp(30.5) === 31; roundHalfUp(16.74) === 17; roundHalfUp(40.906, 1) === 40.9
 */
export function roundHalfUp(x: number, digits = 0): number {
  const scale = 10 ** digits;
  const scaled = Math.abs(x * scale);
  const rounded = Math.floor(scaled + 0.5 + COMPARISON_TOLERANCE);
  const signed = x < 0 ? -rounded : rounded;
  return signed / scale + 0; // `+ 0` turns -0 into 0
}

/** Limits `x` to `[lo, hi]`; either bound may be omitted. */
export function clamp(x: number, lo?: number, hi?: number): number {
  if (lo !== undefined && x < lo) return lo;
  if (hi !== undefined && x > hi) return hi;
  return x;
}
