/**
 * CLIF-C Organ Failure score (Jalan et al., J Hepatol 2014) and the organ
 * failures of the EASL-CLIF definition (CANONIC, Moreau et al.,
 * Gastroenterology 2013), clinical-reference §5.
 *
 * | Organ | 1 | 2 | 3 |
 * |---|---|---|---|
 * | Liver: bilirubin mg/dL | < 6 | ≥ 6 and < 12 | ≥ 12 |
 * | Kidney: creatinine mg/dL | < 2 | ≥ 2 and < 3.5 | ≥ 3.5 or RRT |
 * | Brain: HE grade (West Haven) | 0 | 1–2 | 3–4 |
 * | Coagulation: INR | < 2.0 | ≥ 2.0 and < 2.5 | ≥ 2.5 |
 * | Circulation | MAP ≥ 70 mmHg | MAP < 70 mmHg | vasopressors |
 * | Respiration: PaO2/FiO2 | > 300 | > 200 and ≤ 300 | ≤ 200 |
 * | Respiration: SpO2/FiO2 | > 357 | > 214 and ≤ 357 | ≤ 214 |
 *
 * Organ failure = subscore 3, except the kidney: creatinine ≥ 2.0 or RRT
 * (subscore ≥ 2). At exactly 12 / 3.5 / 2.5 the ≥ form applies (the
 * explorationpub table's "> 12" disagrees with the failure definitions; §5).
 * Mechanical ventilation not for HE counts as respiratory failure (§5 organ
 * table, from CANONIC); ventilation for HE is a brain matter: give HE grade 3–4.
 *
 * Missing inputs (§0): every organ is required, so an absent one makes the
 * score unknown rather than "no failure". Circulation and respiration are
 * explicit inputs. The RRT flag is required too, except when creatinine is
 * already ≥ 3.5 mg/dL, where RRT cannot change the subscore or the failure.
 */
import { above, atLeast, atMost, below } from './numeric';
import { InputReader, type Maybe, ok, type ScoreResult } from './result';
import { WEST_HAVEN_GRADES, type WestHavenGrade } from './west-haven';

/** Circulation: on vasopressors (terlipressin, dopamine, dobutamine, norepinephrine, epinephrine), or the MAP off them. */
export type CirculationInput =
  | { readonly kind: 'vasopressors' }
  | { readonly kind: 'mean-arterial-pressure'; readonly mmHg: Maybe<number> }
  /** The band of the table above as a clinician recorded it (a finding), not a measurement. */
  | RecordedSubscore;

/** A CLIF-C OF band recorded by a clinician: 1, 2 or 3 of the organ's row (§5). */
export interface RecordedSubscore {
  readonly kind: 'recorded-subscore';
  readonly subscore: ClifSubscore;
}

/** Respiration: one oxygenation ratio (FiO2 as a fraction, e.g. 0.21), or ventilation not for HE. */
export type RespirationInput =
  | { readonly kind: 'pao2-fio2'; readonly ratio: Maybe<number> }
  | { readonly kind: 'spo2-fio2'; readonly ratio: Maybe<number> }
  | { readonly kind: 'mechanical-ventilation-not-for-he' }
  | RecordedSubscore;

/** CLIF-C OF inputs. All required (see the module comment). */
export interface ClifOfInput {
  readonly bilirubinMgDl?: Maybe<number>;
  readonly creatinineMgDl?: Maybe<number>;
  /** Renal replacement therapy. */
  readonly renalReplacementTherapy?: Maybe<boolean>;
  readonly heGrade?: Maybe<WestHavenGrade>;
  readonly inr?: Maybe<number>;
  readonly circulation?: Maybe<CirculationInput>;
  readonly respiration?: Maybe<RespirationInput>;
}

/** The six CLIF-C OF organ systems. */
export type ClifOrgan = 'liver' | 'kidney' | 'brain' | 'coagulation' | 'circulation' | 'respiration';
/** A CLIF-C OF subscore. */
export type ClifSubscore = 1 | 2 | 3;

/** Subscores per organ, the failing organs, and the inputs the EASL-CLIF grade needs. */
export interface ClifOfComponents {
  readonly subscores: Readonly<Record<ClifOrgan, ClifSubscore>>;
  readonly organFailures: readonly ClifOrgan[];
  readonly creatinineMgDl: number;
  readonly renalReplacementTherapy: boolean;
  readonly heGrade: WestHavenGrade;
}

/** CLIF-C OF: `value` total 6–18. */
export type ClifOfResult = ScoreResult<{ readonly value: number; readonly components: ClifOfComponents }>;

/** Organs in reporting order. */
export const CLIF_ORGANS: readonly ClifOrgan[] = ['liver', 'kidney', 'brain', 'coagulation', 'circulation', 'respiration'];
/** Creatinine (mg/dL) at and above which the kidney fails (EASL-CLIF). */
export const KIDNEY_FAILURE_CREATININE_MG_DL = 2.0;

function liverSubscore(bili: number): ClifSubscore {
  if (atLeast(bili, 12)) return 3;
  return atLeast(bili, 6) ? 2 : 1;
}

function kidneySubscore(cr: number, rrt: boolean): ClifSubscore {
  if (rrt || atLeast(cr, 3.5)) return 3;
  return atLeast(cr, KIDNEY_FAILURE_CREATININE_MG_DL) ? 2 : 1;
}

function brainSubscore(grade: WestHavenGrade): ClifSubscore {
  if (grade === 0) return 1;
  return grade <= 2 ? 2 : 3;
}

function coagulationSubscore(inr: number): ClifSubscore {
  if (atLeast(inr, 2.5)) return 3;
  return atLeast(inr, 2.0) ? 2 : 1;
}

/** Oxygenation ratio bands: `> good` → 1, `> poor and ≤ good` → 2, `≤ poor` → 3. */
function ratioSubscore(ratio: number, poor: number, good: number): ClifSubscore {
  if (atMost(ratio, poor)) return 3;
  return above(ratio, good) ? 1 : 2;
}

/** Reads circulation into a subscore; NaN-free placeholder 1 when missing. */
function readCirculation(reader: InputReader, input: Maybe<CirculationInput>): ClifSubscore {
  if (input === undefined || input === null) {
    reader.markMissing('circulation');
    return 1;
  }
  switch (input.kind) {
    case 'vasopressors':
      return 3;
    case 'recorded-subscore':
      return input.subscore;
    case 'mean-arterial-pressure': {
      const map = reader.number('circulation.mmHg', input.mmHg, { exclusiveMin: true });
      return below(map, 70) ? 2 : 1;
    }
  }
}

/** Reads respiration into a subscore; placeholder 1 when missing. */
function readRespiration(reader: InputReader, input: Maybe<RespirationInput>): ClifSubscore {
  if (input === undefined || input === null) {
    reader.markMissing('respiration');
    return 1;
  }
  switch (input.kind) {
    case 'mechanical-ventilation-not-for-he':
      return 3;
    case 'recorded-subscore':
      return input.subscore;
    case 'pao2-fio2':
      return ratioSubscore(reader.number('respiration.ratio', input.ratio, { exclusiveMin: true }), 200, 300);
    case 'spo2-fio2':
      return ratioSubscore(reader.number('respiration.ratio', input.ratio, { exclusiveMin: true }), 214, 357);
  }
}

/** CLIF-C OF score (6–18) with per-organ subscores and EASL-CLIF organ failures. */
export function clifCOf(input: ClifOfInput): ClifOfResult {
  const reader = new InputReader();
  const bili = reader.number('bilirubinMgDl', input.bilirubinMgDl);
  const cr = reader.number('creatinineMgDl', input.creatinineMgDl);
  const rrtIrrelevant = Number.isFinite(cr) && atLeast(cr, 3.5) && (input.renalReplacementTherapy === undefined || input.renalReplacementTherapy === null);
  const rrt = rrtIrrelevant ? false : reader.flag('renalReplacementTherapy', input.renalReplacementTherapy);
  const he = reader.oneOf('heGrade', input.heGrade, WEST_HAVEN_GRADES);
  const inr = reader.number('inr', input.inr);
  const circulation = readCirculation(reader, input.circulation);
  const respiration = readRespiration(reader, input.respiration);
  if (reader.failed) return reader.result();

  const subscores: Record<ClifOrgan, ClifSubscore> = {
    liver: liverSubscore(bili),
    kidney: kidneySubscore(cr, rrt),
    brain: brainSubscore(he),
    coagulation: coagulationSubscore(inr),
    circulation,
    respiration,
  };
  const organFailures = CLIF_ORGANS.filter((organ) => (organ === 'kidney' ? subscores.kidney >= 2 : subscores[organ] === 3));
  const value = CLIF_ORGANS.reduce((sum, organ) => sum + subscores[organ], 0);
  return ok({ value, components: { subscores, organFailures, creatinineMgDl: cr, renalReplacementTherapy: rrt, heGrade: he } });
}
