/**
 * Plausibility of score inputs given in the formula's units.
 *
 * Conversions from CRF units (bilirubin and creatinine in µmol/L, albumin in g/L) are not
 * done here: callers convert with the trial's CRF unit converter of src/mapping (design.md
 * "One converter"), which holds the factors of clinical-reference §3.
 */

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
  hint: `expected g/dL between 0 and ${MAX_PLAUSIBLE_ALBUMIN_G_DL}; convert g/L to g/dL first (clinical-reference §4.3)`,
} as const;
