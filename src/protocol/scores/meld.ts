/**
 * MELD (UNOS/OPTN, pre-2016), clinical-reference §4.1. MELD-Na is in
 * `meld-na.ts`, MELD 3.0 in `meld3.ts`; both reuse the readers below.
 *
 * OPTN rounds MELD(i) = 0.957·ln(Cr) + 0.378·ln(bili) + 1.120·ln(INR) + 0.643
 * "to the tenth decimal place and then multiplied by 10": the classic
 * ×10 score rounded half up to an integer (not Python's banker's rounding).
 *
 * Sources: OPTN policy text quoted in MIT-LCP/mimic-code
 * `mimic-iv/concepts/organfailure/meld.sql`; ampel-leipzig/ameld `R/meld.R`;
 * johnasher/transplantr `R/liver.R`.
 */
import { atLeast, clamp, roundHalfUp } from './numeric';
import { InputReader, type Maybe, ok, type ScoreResult } from './result';

/** MELD inputs, in the formula's units. */
export interface MeldInput {
  readonly bilirubinMgDl?: Maybe<number>;
  readonly inr?: Maybe<number>;
  readonly creatinineMgDl?: Maybe<number>;
  /**
   * ≥ 2 dialysis treatments in the 7 days before the creatinine, or 24 h of
   * CVVHD in those 7 days (OPTN). Sets creatinine to the cap. Required: an
   * absent flag makes the score unknown, unless creatinine is already at or
   * above the cap, where dialysis cannot change the result.
   */
  readonly dialysis?: Maybe<boolean>;
}

/**
 * `other` (default): the UNOS form, constant 6.43 for every patient.
 * `cholestatic-or-alcoholic`: the Malinchoc/Kamath etiology variant, constant
 * × 0 (clinical-reference §4.1, vector M7). Not for eligibility.
 */
export type MeldEtiology = 'other' | 'cholestatic-or-alcoholic';

/** The bounded inputs actually used by MELD. */
export interface MeldComponents {
  readonly bilirubinMgDl: number;
  readonly inr: number;
  readonly creatinineMgDl: number;
  readonly creatinineSetByDialysis: boolean;
}

/** MELD: `value` is the UNOS integer (half up, max 40); `raw` the classic unrounded score. */
export type MeldResult = ScoreResult<MeldFields>;

/** The fields of a computed MELD. */
export interface MeldFields {
  readonly value: number;
  readonly raw: number;
  readonly formula: 'unos' | 'kamath-etiology';
  readonly components: MeldComponents;
}

/** Lower bound of bilirubin, INR and creatinine in MELD (OPTN). */
export const MELD_LAB_FLOOR = 1.0;
/** Creatinine cap in MELD, also the value set by dialysis (OPTN). */
export const MELD_CREATININE_CAP = 4.0;
/** Maximum MELD, MELD-Na and MELD 3.0 (OPTN). */
export const MELD_MAX = 40;

/** Bilirubin, INR, creatinine and dialysis as read (NaN/false placeholders when missing). */
export interface ReadLabs {
  readonly bilirubin: number;
  readonly inr: number;
  readonly creatinine: number;
  readonly dialysis: boolean;
}

/**
 * Reads bilirubin, INR, creatinine and the dialysis flag. Dialysis may be
 * absent when creatinine is already at `creatinineCap` (shared with MELD 3.0).
 */
export function readRenalLiverLabs(reader: InputReader, input: MeldInput, creatinineCap: number): ReadLabs {
  const bilirubin = reader.number('bilirubinMgDl', input.bilirubinMgDl);
  const inr = reader.number('inr', input.inr);
  const creatinine = reader.number('creatinineMgDl', input.creatinineMgDl);
  const capped = Number.isFinite(creatinine) && atLeast(creatinine, creatinineCap);
  const dialysis = capped && (input.dialysis === undefined || input.dialysis === null) ? false : reader.flag('dialysis', input.dialysis);
  return { bilirubin, inr, creatinine, dialysis };
}

/** Applies the MELD bounds: labs < 1 → 1; creatinine > cap or dialysis → cap. */
export function boundLabs(labs: ReadLabs, creatinineCap: number): MeldComponents {
  return {
    bilirubinMgDl: clamp(labs.bilirubin, MELD_LAB_FLOOR),
    inr: clamp(labs.inr, MELD_LAB_FLOOR),
    creatinineMgDl: labs.dialysis ? creatinineCap : clamp(labs.creatinine, MELD_LAB_FLOOR, creatinineCap),
    creatinineSetByDialysis: labs.dialysis,
  };
}

/**
 * MELD. `raw` = 3.78·ln(bili) + 11.2·ln(INR) + 9.57·ln(Cr) + 6.43 with the
 * bounds applied, unrounded (vector M1: 20.0391626). `value` = the OPTN
 * MELD(i): "rounded to the tenth decimal place and then multiplied by 10",
 * i.e. `raw` rounded half up to an integer, max 40 (M13: 53.709 → 40).
 *
 * With `etiology: 'cholestatic-or-alcoholic'` the 6.43 term is dropped
 * (M7: 13.6091626); `formula` then says `kamath-etiology` and `value` is that
 * raw score rounded the same way. Eligibility uses the default UNOS form.
 */
export function meld(input: MeldInput, options: { readonly etiology?: MeldEtiology } = {}): MeldResult {
  const reader = new InputReader();
  const labs = readRenalLiverLabs(reader, input, MELD_CREATININE_CAP);
  if (reader.failed) return reader.result();
  return ok(meldFromBoundedLabs(boundLabs(labs, MELD_CREATININE_CAP), options.etiology ?? 'other'));
}

/** The MELD computation on labs already bounded by {@link boundLabs}. */
export function meldFromBoundedLabs(components: MeldComponents, etiology: MeldEtiology): MeldFields {
  const variant = etiology === 'cholestatic-or-alcoholic';
  const raw =
    3.78 * Math.log(components.bilirubinMgDl) +
    11.2 * Math.log(components.inr) +
    9.57 * Math.log(components.creatinineMgDl) +
    (variant ? 0 : 6.43);
  return {
    value: Math.min(roundHalfUp(raw), MELD_MAX),
    raw,
    formula: variant ? 'kamath-etiology' : 'unos',
    components,
  };
}
