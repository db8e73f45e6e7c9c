/**
 * MELD-Na, two formulas (clinical-reference §4.2; pin one per trial):
 *
 * - `unos-2016` (default): OPTN policy as quoted in MIT-LCP/mimic-code
 *   `meld.sql`; ameld `meld_na(type = "unos")`. Starts from the UNOS integer
 *   MELD(i); only when MELD(i) > 11:
 *   `MELD(i) + 1.32·(137 − Na) − 0.033·MELD(i)·(137 − Na)`, Na clamped to
 *   [125, 137]; rounded half up, max 40.
 * - `kim-2008` (Kim, NEJM 2008;359:1018): ameld's default
 *   `meld_na(type = "kim2008")`. Starts from the unrounded classic MELD:
 *   `MELD − Na − 0.025·MELD·(140 − Na) + 140`, Na clamped to [125, 140],
 *   applied whatever the MELD (transplantr instead applies it only when
 *   MELD > 11 and does not clamp Na; we follow ameld). `raw` is the
 *   unrounded score (N7: 26.257), `value` the same rounded half up, max 40.
 */
import { clamp, roundHalfUp } from './numeric';
import { InputReader, type Maybe, ok, type ScoreResult } from './result';
import { boundLabs, MELD_CREATININE_CAP, MELD_MAX, meldFromBoundedLabs, type MeldComponents, type MeldInput, readRenalLiverLabs } from './meld';

/** MELD-Na inputs: the MELD inputs plus serum sodium. */
export interface MeldNaInput extends MeldInput {
  readonly sodiumMmolL?: Maybe<number>;
}

/** Which MELD-Na formula; see the module comment. */
export type MeldNaFormula = 'unos-2016' | 'kim-2008';

/** MELD-Na: `value` integer (half up, max 40); `raw` before rounding and cap. */
export type MeldNaResult = ScoreResult<{
  readonly value: number;
  readonly raw: number;
  readonly formula: MeldNaFormula;
  readonly components: MeldComponents & {
    /** The MELD the sodium term starts from: UNOS integer (unos-2016) or classic unrounded (kim-2008). */
    readonly meld: number;
    /** Sodium after clamping. */
    readonly sodiumMmolL: number;
    /** False when UNOS 2016 ignored sodium because MELD(i) ≤ 11. */
    readonly sodiumApplied: boolean;
  };
}>;

/** Sodium bounds of the UNOS 2016 MELD-Na (and of MELD 3.0). */
export const MELD_NA_SODIUM_RANGE = { min: 125, max: 137 } as const;
/** Sodium bounds of the Kim 2008 MELD-Na (ameld). */
export const KIM_2008_SODIUM_RANGE = { min: 125, max: 140 } as const;
/** UNOS 2016 applies the sodium term only above this MELD(i). */
export const MELD_NA_APPLIES_ABOVE = 11;

/** MELD-Na with the UNOS 2016 formula by default, or Kim 2008 on request. */
export function meldNa(input: MeldNaInput, options: { readonly formula?: MeldNaFormula } = {}): MeldNaResult {
  const formula = options.formula ?? 'unos-2016';
  const reader = new InputReader();
  const labs = readRenalLiverLabs(reader, input, MELD_CREATININE_CAP);
  const sodium = reader.number('sodiumMmolL', input.sodiumMmolL);
  if (reader.failed) return reader.result();
  const base = meldFromBoundedLabs(boundLabs(labs, MELD_CREATININE_CAP), 'other');
  if (formula === 'kim-2008') {
    const na = clamp(sodium, KIM_2008_SODIUM_RANGE.min, KIM_2008_SODIUM_RANGE.max);
    const m = base.raw;
    const raw = m - na + 140 - 0.025 * m * (140 - na);
    return ok({ value: Math.min(roundHalfUp(raw), MELD_MAX), raw, formula, components: { ...base.components, meld: m, sodiumMmolL: na, sodiumApplied: true } });
  }
  const na = clamp(sodium, MELD_NA_SODIUM_RANGE.min, MELD_NA_SODIUM_RANGE.max);
  const mi = base.value;
  const applies = mi > MELD_NA_APPLIES_ABOVE;
  const raw = applies ? mi + 1.32 * (137 - na) - 0.033 * mi * (137 - na) : mi;
  return ok({ value: Math.min(roundHalfUp(raw), MELD_MAX), raw, formula, components: { ...base.components, meld: mi, sodiumMmolL: na, sodiumApplied: applies } });
}
