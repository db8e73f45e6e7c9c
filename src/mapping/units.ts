/**
 * UCUM units: validation, conversion (through @lhncbc/ucum-lhc) and CRF rounding.
 *
 * Pure functions. ucum-lhc reports failure in a `status` field instead of throwing, and
 * it is lenient in ways a CRF must not be: `convertUnitTo('IU/L', ...)` silently "assumes
 * [IU]", so every unit is validated strictly (status 'valid') BEFORE it is converted.
 */
import { UcumLhcUtils } from '@lhncbc/ucum-lhc';

let instance: UcumLhcUtils | undefined;
/** ucum-lhc's own process-wide instance, fetched lazily so importing this module is free. */
function ucum(): UcumLhcUtils {
  instance ??= UcumLhcUtils.getInstance();
  return instance;
}

/** Why a unit could not be turned into the CRF unit (names match ReviewReason). */
export type UnitFailure = 'invalid-unit' | 'unit-not-convertible';

export type Conversion = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly reason: UnitFailure };

/**
 * Spelling clean-up that cannot change meaning, applied to unit strings from feeds before
 * aliases and validation: the micro sign (U+00B5) and Greek mu (U+03BC) become UCUM's `u`;
 * `x10*9/L`, `×10^9/L` and `10^9/L` become `10*9/L` (the HL7 spec panels send `x10*9/L`
 * as unit text, fhir-samples README). Everything else is left for strict UCUM validation.
 */
export function normaliseUnitText(raw: string): string {
  return raw
    .trim()
    .replace(/[\u00b5\u03bc]/g, 'u')
    .replace(/^[x×*]\s*(?=10[*^])/i, '')
    .replace(/10\^/g, '10*');
}

/**
 * Validation results by unit string: a string's validity never changes, feeds use a
 * handful of spellings, and ucum-lhc parses the string again on every call. Bounded,
 * so a feed of random unit text cannot grow it without limit.
 */
const validity = new Map<string, string | null>();
const VALIDITY_CACHE_MAX = 10_000;

/** null when `unit` is valid UCUM (case-sensitive), else ucum-lhc's first message. */
export function ucumProblem(unit: string): string | null {
  if (unit.trim() === '') return 'empty unit';
  const known = validity.get(unit);
  if (known !== undefined) return known;
  const res = ucum().validateUnitString(unit, false);
  const problem = res.status === 'valid' ? null : res.msg[0] ?? `'${unit}' is not a valid UCUM unit`;
  if (validity.size >= VALIDITY_CACHE_MAX) validity.clear();
  validity.set(unit, problem);
  return problem;
}

/**
 * Converts `value` from `from` to `to`. Identical unit strings short-circuit so a value
 * already in the CRF unit is never touched by floating-point scaling. `molecularWeight`
 * enables mass<->substance conversions (see molecularWeightFor).
 */
export function convert(value: number, from: string, to: string, molecularWeight?: number): Conversion {
  if (ucumProblem(from) !== null) return { ok: false, reason: 'invalid-unit' };
  if (from === to) return { ok: true, value };
  const options = molecularWeight === undefined ? {} : { molecularWeight };
  const res = ucum().convertUnitTo(from, value, to, options);
  if (res.status !== 'succeeded' || res.toVal === null || !Number.isFinite(res.toVal)) {
    return { ok: false, reason: 'unit-not-convertible' };
  }
  return { ok: true, value: res.toVal };
}

/** True when a value in `from` can be expressed in `to` (both valid UCUM). */
export function commensurable(from: string, to: string, molecularWeight?: number): boolean {
  return convert(1, from, to, molecularWeight).ok;
}

/** A published mass<->substance factor, as written in mappings/analytes.json. */
export interface MolarFactor {
  readonly massUnit: string;
  readonly molarUnit: string;
  /** 1 massUnit = molarPerMass molarUnit (bilirubin: 1 mg/dL = 17.1 umol/L). */
  readonly molarPerMass?: number;
  /** 1 molarUnit = massPerMolar massUnit (haemoglobin: 1 mmol/L = 1.61 g/dL). */
  readonly massPerMolar?: number;
}

/**
 * The molecular weight (g/mol) that makes ucum-lhc reproduce a published factor exactly.
 * Converting 1 massUnit with molecularWeight 1 gives k molarUnit; with weight M it gives
 * k/M, so M = k / molarPerMass. Bilirubin: k = 10000 (mg/dL -> umol/L), M = 584.795...,
 * not the chemical 584.66 that yields 17.104 (clinical-reference §3 pins 17.1).
 */
export function molecularWeightFor(factor: MolarFactor): number | string {
  const res = ucum().convertUnitTo(factor.massUnit, 1, factor.molarUnit, { molecularWeight: 1 });
  if (res.status !== 'succeeded' || res.toVal === null) {
    return `${factor.massUnit} is not convertible to ${factor.molarUnit} as mass to substance`;
  }
  const molarPerMass = factor.molarPerMass ?? (factor.massPerMolar === undefined ? NaN : 1 / factor.massPerMolar);
  if (!(molarPerMass > 0)) return 'exactly one of molarPerMass or massPerMolar must be a positive number';
  return res.toVal / molarPerMass;
}

/** Tolerance for "exactly half" and float noise (clinical-reference §0: compare with 1e-9). */
const HALF_TOLERANCE = 1e-9;

/**
 * Rounds half away from zero (half-up for the positive lab values here) to `decimals`.
 * Robust to IEEE noise: 51.3/17.1 = 2.9999999999999996 must round to 3.00, and 0.145
 * (stored as 0.14499999999999999) must round to 0.15. The shift by 10^decimals goes through
 * the decimal string form (`1.45e1`) so it adds no error of its own, and a remainder within
 * 1e-9 of one half counts as one half.
 */
export function roundHalfUp(value: number, decimals: number): number {
  if (!Number.isFinite(value)) return value;
  const sign = value < 0 ? -1 : 1;
  const cleaned = Number(Math.abs(value).toPrecision(15));
  const scaled = shift(cleaned, decimals);
  const floor = Math.floor(scaled);
  const rounded = scaled - floor >= 0.5 - HALF_TOLERANCE ? floor + 1 : floor;
  const result = sign * shift(rounded, -decimals);
  return Object.is(result, -0) ? 0 : result;
}

/** x * 10^places computed on the decimal string, so 1.005 -> 100.5 exactly. */
function shift(x: number, places: number): number {
  const [mantissa, exponent = '0'] = String(x).split('e');
  return Number(`${mantissa}e${Number(exponent) + places}`);
}
