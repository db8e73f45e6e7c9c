/**
 * Unit conversion for rule thresholds and score inputs, and number formatting for reasons.
 *
 * CRF values already carry the trial's CRF unit (src/mapping converts them), so only a few
 * conversions are ever needed: bilirubin and creatinine between mg/dL and µmol/L, albumin
 * between g/L and g/dL, and spelling variants of the same unit. The factors are the ones
 * pinned by clinical-reference §3 and exported by the score library (17.1, 88.4, 10):
 * 85.5 µmol/L must give exactly 5.000 mg/dL, so UCUM molecular weights (17.104) are not
 * used. Any other pair is not converted: the rule becomes UNKNOWN (§0).
 */
import { ALBUMIN_G_L_PER_G_DL, approxEqual, BILIRUBIN_UMOL_L_PER_MG_DL, CREATININE_UMOL_L_PER_MG_DL } from '../scores';

/** Spellings of one unit (UCUM code first). */
const SYNONYMS: readonly (readonly string[])[] = [
  ['umol/L', 'µmol/L', 'μmol/L', 'umol/l'],
  ['mg/dL', 'mg/dl'],
  ['g/L', 'g/l'],
  ['g/dL', 'g/dl'],
  ['10*9/L', '10*3/uL', '10^9/L', '10^3/uL', 'x10*9/L', '10*3/µL'],
  ['{INR}', '1', 'INR', ''],
  ['%', '{percent}'],
  ['mmol/L', 'mmol/l', 'meq/L', 'mEq/L'],
];

/** The canonical spelling of `unit`, or the trimmed input when it has no known synonym. */
export function canonicalUnit(unit: string): string {
  const u = unit.trim();
  return SYNONYMS.find((group) => group.includes(u))?.[0] ?? u;
}

/** from -> to factor per analyte: value_to = value_from x factor. */
const FACTORS: Readonly<Record<string, readonly { readonly from: string; readonly to: string; readonly factor: number }[]>> = {
  TBIL: [{ from: 'mg/dL', to: 'umol/L', factor: BILIRUBIN_UMOL_L_PER_MG_DL }],
  DBIL: [{ from: 'mg/dL', to: 'umol/L', factor: BILIRUBIN_UMOL_L_PER_MG_DL }],
  CREA: [{ from: 'mg/dL', to: 'umol/L', factor: CREATININE_UMOL_L_PER_MG_DL }],
  ALB: [{ from: 'g/dL', to: 'g/L', factor: ALBUMIN_G_L_PER_G_DL }],
};

/**
 * `value` of `item` from unit `from` to unit `to`, or null when the pair is not known.
 * Divides rather than multiplies by a reciprocal, so 85.5 µmol/L -> 85.5 / 17.1 = 5 exactly.
 */
export function convertUnit(item: string, value: number, from: string, to: string): number | null {
  const f = canonicalUnit(from);
  const t = canonicalUnit(to);
  if (f === t) return value;
  for (const c of FACTORS[item] ?? []) {
    if (c.from === f && c.to === t) return value * c.factor;
    if (c.from === t && c.to === f) return value / c.factor;
  }
  return null;
}

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

/** "85.0 umol/L" / "1.49" for a dimensionless INR. */
export function withUnit(x: string, unit: string): string {
  const u = canonicalUnit(unit);
  return u === '{INR}' ? x : `${x} ${u}`;
}
