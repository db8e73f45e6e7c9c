/**
 * MELD 3.0 (Kim et al., Gastroenterology 2021;161:1887; OPTN 2023),
 * clinical-reference §4.3.
 *
 * ```
 * MELD3.0 = 1.33·female + 4.56·ln(bili) + 0.82·(137−Na) − 0.24·(137−Na)·ln(bili)
 *         + 9.09·ln(INR) + 11.14·ln(Cr) + 1.85·(3.5−Alb) − 1.83·(3.5−Alb)·ln(Cr) + 6
 * ```
 * Bounds: bilirubin, INR, creatinine ≥ 1.0; creatinine ≤ 3.0 and dialysis
 * (≥ 2 sessions in 7 days or 24 h CVVHD) → 3.0 (as AshaneH/liver-calc);
 * Na clamped to [125, 137]; albumin in g/dL clamped to [1.5, 3.5]; rounded
 * half up to an integer, max 40 (ameld `meld3()` implements neither the
 * dialysis rule nor the cap; the OPTN policy has both).
 */
import { clamp, roundHalfUp } from './numeric';
import { boundLabs, MELD_MAX, type MeldComponents, type MeldInput, readRenalLiverLabs } from './meld';
import { MELD_NA_SODIUM_RANGE } from './meld-na';
import { InputReader, type Maybe, ok, type ScoreResult } from './result';
import { ALBUMIN_G_DL_RANGE } from './units';

/** MELD 3.0 inputs. Albumin is in **g/dL** (CRF g/L ÷ 10: `albuminGLToGDl`). */
export interface Meld3Input extends MeldInput {
  readonly sodiumMmolL?: Maybe<number>;
  readonly albuminGDl?: Maybe<number>;
  /** Sex for the 1.33 term. Required: absent → unknown (never assumed male). */
  readonly female?: Maybe<boolean>;
}

/** MELD 3.0: `value` integer (half up, max 40); `raw` before rounding and cap. */
export type Meld3Result = ScoreResult<{
  readonly value: number;
  readonly raw: number;
  readonly components: MeldComponents & {
    readonly sodiumMmolL: number;
    readonly albuminGDl: number;
    readonly female: boolean;
  };
}>;

/** Creatinine cap of MELD 3.0, also the value set by dialysis. */
export const MELD3_CREATININE_CAP = 3.0;
/** Albumin bounds of MELD 3.0, g/dL. */
export const MELD3_ALBUMIN_RANGE_G_DL = { min: 1.5, max: 3.5 } as const;

/** MELD 3.0 (Kim 2021). Vectors T1–T11 of clinical-reference §4.3. */
export function meld3(input: Meld3Input): Meld3Result {
  const reader = new InputReader();
  const labs = readRenalLiverLabs(reader, input, MELD3_CREATININE_CAP);
  const sodium = reader.number('sodiumMmolL', input.sodiumMmolL);
  const albumin = reader.number('albuminGDl', input.albuminGDl, ALBUMIN_G_DL_RANGE);
  const female = reader.flag('female', input.female);
  if (reader.failed) return reader.result();

  const bounded = boundLabs(labs, MELD3_CREATININE_CAP);
  const na = clamp(sodium, MELD_NA_SODIUM_RANGE.min, MELD_NA_SODIUM_RANGE.max);
  const alb = clamp(albumin, MELD3_ALBUMIN_RANGE_G_DL.min, MELD3_ALBUMIN_RANGE_G_DL.max);
  const lnBili = Math.log(bounded.bilirubinMgDl);
  const lnCr = Math.log(bounded.creatinineMgDl);
  const naDeficit = 137 - na;
  const albDeficit = 3.5 - alb;
  const raw =
    1.33 * (female ? 1 : 0) +
    4.56 * lnBili +
    0.82 * naDeficit -
    0.24 * naDeficit * lnBili +
    9.09 * Math.log(bounded.inr) +
    11.14 * lnCr +
    1.85 * albDeficit -
    1.83 * albDeficit * lnCr +
    6;
  return ok({
    value: Math.min(roundHalfUp(raw), MELD_MAX),
    raw,
    components: { ...bounded, sodiumMmolL: na, albuminGDl: alb, female },
  });
}
