/**
 * Conversions from CRF units to the units the score formulas need.
 *
 * The factors are the ones pinned by clinical-reference §3 (and §0 "Conversion
 * constants"): bilirubin 17.1 µmol/L per mg/dL (not 17.104: 85.5 µmol/L must
 * give exactly 5.000 mg/dL, the APASL threshold), creatinine 88.4 µmol/L per
 * mg/dL, albumin 10 g/L per g/dL. The scores take mg/dL and g/dL; the CRFs of
 * NCT02812121 hold bilirubin in µmol/L and every CRF holds albumin in g/L
 * (clinical-reference §7 item 10).
 *
 * Each helper passes an absent value (`null`/`undefined`) through as
 * `undefined`, so a CRF fact that is not known stays unknown in the score.
 * Results are not snapped: 51.3 µmol/L gives 2.9999999999999996 mg/dL, and
 * the scores' tolerant comparisons (numeric.ts) treat it as 3.0.
 */
import type { Maybe } from './result';

/** µmol/L per mg/dL of total bilirubin (clinical-reference §3). */
export const BILIRUBIN_UMOL_L_PER_MG_DL = 17.1;
/** µmol/L per mg/dL of creatinine (clinical-reference §3). */
export const CREATININE_UMOL_L_PER_MG_DL = 88.4;
/** g/L per g/dL of albumin (clinical-reference §3). */
export const ALBUMIN_G_L_PER_G_DL = 10;

function divide(value: Maybe<number>, factor: number): number | undefined {
  return value === undefined || value === null ? undefined : value / factor;
}

/** Bilirubin µmol/L → mg/dL (÷ 17.1). */
export function bilirubinUmolLToMgDl(umolL: number): number;
export function bilirubinUmolLToMgDl(umolL: Maybe<number>): number | undefined;
export function bilirubinUmolLToMgDl(umolL: Maybe<number>): number | undefined {
  return divide(umolL, BILIRUBIN_UMOL_L_PER_MG_DL);
}

/** Creatinine µmol/L → mg/dL (÷ 88.4). */
export function creatinineUmolLToMgDl(umolL: number): number;
export function creatinineUmolLToMgDl(umolL: Maybe<number>): number | undefined;
export function creatinineUmolLToMgDl(umolL: Maybe<number>): number | undefined {
  return divide(umolL, CREATININE_UMOL_L_PER_MG_DL);
}

/** Albumin g/L → g/dL (÷ 10). MELD 3.0 and Child-Pugh take g/dL. */
export function albuminGLToGDl(gL: number): number;
export function albuminGLToGDl(gL: Maybe<number>): number | undefined;
export function albuminGLToGDl(gL: Maybe<number>): number | undefined {
  return divide(gL, ALBUMIN_G_L_PER_G_DL);
}

/**
 * Highest albumin accepted as g/dL. Serum albumin above 10 g/dL is not
 * physiological, so such a value is almost certainly g/L fed in unconverted
 * (clinical-reference §4.3: "Feeding 35 (g/L) instead of 3.5 silently clamps
 * it"). Scores taking albumin report it as invalid instead of clamping it.
 */
export const MAX_PLAUSIBLE_ALBUMIN_G_DL = 10;

/** Reader range for an albumin input in g/dL (see {@link MAX_PLAUSIBLE_ALBUMIN_G_DL}). */
export const ALBUMIN_G_DL_RANGE = {
  max: MAX_PLAUSIBLE_ALBUMIN_G_DL,
  hint: `expected g/dL between 0 and ${MAX_PLAUSIBLE_ALBUMIN_G_DL}; divide g/L by 10 (albuminGLToGDl)`,
} as const;
