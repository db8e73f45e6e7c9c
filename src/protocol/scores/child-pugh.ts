/**
 * Child-Turcotte-Pugh (CTP), clinical-reference §4.4.
 *
 * | Points              | 1         | 2                          | 3          |
 * |---------------------|-----------|----------------------------|------------|
 * | Bilirubin (mg/dL)   | < 2       | 2–3                        | > 3        |
 * | Albumin (g/dL)      | > 3.5     | 2.8–3.5                    | < 2.8      |
 * | INR                 | < 1.7     | 1.7–2.3                    | > 2.3      |
 * | PT prolongation (s) | < 4       | 4–6                        | > 6        |
 * | Ascites             | none      | mild (diuretic-controlled) | moderate–severe |
 * | HE                  | none      | grade 1–2 (or suppressed)  | grade 3–4 (or refractory) |
 *
 * The end points of each middle band score 2 (thresholds as coded in
 * lakshay321123/medx and AshaneH/liver-calc). Comparisons are IEEE-tolerant,
 * so 51.3 µmol/L ÷ 17.1 = 2.9999999999999996 mg/dL scores 2 like 3.0.
 * Classes A 5–6, B 7–9, C 10–15 (a page stating B 7–11 is wrong, §4.4).
 * Ascites and HE are clinician inputs: absent → unknown, never "none" [A].
 * PT prolongation [K] is the alternative when INR is absent; INR wins when
 * both are given.
 */
import { above, atLeast, atMost, below } from './numeric';
import { InputReader, type Maybe, ok, type ScoreResult } from './result';
import { ALBUMIN_G_DL_RANGE } from './units';

/** Clinician-assessed ascites. */
export type Ascites = 'none' | 'mild' | 'moderate-severe';
/** Clinician-assessed hepatic encephalopathy, West Haven grades grouped as in CTP. */
export type CtpEncephalopathy = 'none' | 'grade-1-2' | 'grade-3-4';
/** Child-Pugh class. */
export type ChildPughClass = 'A' | 'B' | 'C';
/** A CTP component's points. */
export type CtpPoints = 1 | 2 | 3;

/** CTP inputs: bilirubin mg/dL, albumin g/dL (CRF g/L ÷ 10), INR or PT prolongation. */
export interface ChildPughInput {
  readonly bilirubinMgDl?: Maybe<number>;
  readonly albuminGDl?: Maybe<number>;
  readonly inr?: Maybe<number>;
  /** Seconds above the laboratory control; used only when `inr` is absent. */
  readonly ptProlongationSeconds?: Maybe<number>;
  readonly ascites?: Maybe<Ascites>;
  readonly encephalopathy?: Maybe<CtpEncephalopathy>;
}

/** Points per component, and which coagulation measure was used. */
export interface ChildPughComponents {
  readonly bilirubin: CtpPoints;
  readonly albumin: CtpPoints;
  readonly coagulation: CtpPoints;
  readonly coagulationSource: 'inr' | 'pt-prolongation';
  readonly ascites: CtpPoints;
  readonly encephalopathy: CtpPoints;
}

/** CTP: `value` total points 5–15, `class` A/B/C. */
export type ChildPughResult = ScoreResult<{
  readonly value: number;
  readonly class: ChildPughClass;
  readonly components: ChildPughComponents;
}>;

const ASCITES: readonly Ascites[] = ['none', 'mild', 'moderate-severe'];
const ENCEPHALOPATHY: readonly CtpEncephalopathy[] = ['none', 'grade-1-2', 'grade-3-4'];

/** Points for a value whose low values are healthy: `< lo` → 1, `lo..hi` → 2, `> hi` → 3. */
function risingPoints(x: number, lo: number, hi: number): CtpPoints {
  if (below(x, lo)) return 1;
  return atMost(x, hi) ? 2 : 3;
}

/** Albumin points: `> 3.5` → 1, `2.8..3.5` → 2, `< 2.8` → 3 (g/dL). */
function albuminPoints(gDl: number): CtpPoints {
  if (above(gDl, 3.5)) return 1;
  return atLeast(gDl, 2.8) ? 2 : 3;
}

/** Class from total points: A 5–6, B 7–9, C 10–15. */
export function childPughClass(points: number): ChildPughClass {
  if (points <= 6) return 'A';
  return points <= 9 ? 'B' : 'C';
}

/** Child-Turcotte-Pugh score and class. Vectors C1–C9 of clinical-reference §4.4. */
export function childPugh(input: ChildPughInput): ChildPughResult {
  const reader = new InputReader();
  const bilirubin = reader.number('bilirubinMgDl', input.bilirubinMgDl);
  const albumin = reader.number('albuminGDl', input.albuminGDl, ALBUMIN_G_DL_RANGE);
  const useInr = input.inr !== undefined && input.inr !== null;
  const usePt = !useInr && input.ptProlongationSeconds !== undefined && input.ptProlongationSeconds !== null;
  let coagulationValue = Number.NaN;
  if (useInr) coagulationValue = reader.number('inr', input.inr);
  else if (usePt) coagulationValue = reader.number('ptProlongationSeconds', input.ptProlongationSeconds);
  else reader.markMissing('inr'); // PT prolongation is the optional alternative
  const ascites = reader.oneOf('ascites', input.ascites, ASCITES);
  const encephalopathy = reader.oneOf('encephalopathy', input.encephalopathy, ENCEPHALOPATHY);
  if (reader.failed) return reader.result();

  const components: ChildPughComponents = {
    bilirubin: risingPoints(bilirubin, 2, 3),
    albumin: albuminPoints(albumin),
    coagulation: useInr ? risingPoints(coagulationValue, 1.7, 2.3) : risingPoints(coagulationValue, 4, 6),
    coagulationSource: useInr ? 'inr' : 'pt-prolongation',
    ascites: (ASCITES.indexOf(ascites) + 1) as CtpPoints,
    encephalopathy: (ENCEPHALOPATHY.indexOf(encephalopathy) + 1) as CtpPoints,
  };
  const value = components.bilirubin + components.albumin + components.coagulation + components.ascites + components.encephalopathy;
  return ok({ value, class: childPughClass(value), components });
}
