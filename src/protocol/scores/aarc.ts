/**
 * AARC score (APASL ACLF Research Consortium; APASL 2019 ACLF grading),
 * clinical-reference §4.6, table from explorationpub.com/Journals/Tables/100552/t2:
 *
 * | Points | 1 | 2 | 3 |
 * |---|---|---|---|
 * | Total bilirubin (mg/dL) | < 15 | 15–25 | > 25 |
 * | HE grade (West Haven) | 0 | 1–2 | 3–4 |
 * | INR | < 1.8 | 1.8–2.5 | > 2.5 |
 * | Lactate (mmol/L) | < 1.5 | 1.5–2.5 | > 2.5 |
 * | Creatinine (mg/dL) | < 0.7 | 0.7–1.5 | > 1.5 |
 *
 * Both end points of each middle band score 2. Grade I = 5–7, II = 8–10,
 * III = 11–15.
 */
import { atMost, below } from './numeric';
import { InputReader, type Maybe, ok, type ScoreResult } from './result';
import { WEST_HAVEN_GRADES, type WestHavenGrade } from './west-haven';

/** AARC grade. */
export type AarcGrade = 'I' | 'II' | 'III';
/** An AARC component's points. */
export type AarcPoints = 1 | 2 | 3;

/** AARC inputs, in the units of the table above. */
export interface AarcInput {
  readonly bilirubinMgDl?: Maybe<number>;
  readonly heGrade?: Maybe<WestHavenGrade>;
  readonly inr?: Maybe<number>;
  readonly lactateMmolL?: Maybe<number>;
  readonly creatinineMgDl?: Maybe<number>;
}

/** AARC: `value` total 5–15, `class` grade I/II/III. */
export type AarcResult = ScoreResult<{
  readonly value: number;
  readonly class: AarcGrade;
  readonly components: {
    readonly bilirubin: AarcPoints;
    readonly encephalopathy: AarcPoints;
    readonly inr: AarcPoints;
    readonly lactate: AarcPoints;
    readonly creatinine: AarcPoints;
  };
}>;

/** `< lo` → 1, `lo..hi` (both inclusive) → 2, `> hi` → 3. */
function bandPoints(x: number, lo: number, hi: number): AarcPoints {
  if (below(x, lo)) return 1;
  return atMost(x, hi) ? 2 : 3;
}

function hePoints(grade: WestHavenGrade): AarcPoints {
  if (grade === 0) return 1;
  return grade <= 2 ? 2 : 3;
}

/** Grade from total points: I 5–7, II 8–10, III 11–15. */
export function aarcGrade(points: number): AarcGrade {
  if (points <= 7) return 'I';
  return points <= 10 ? 'II' : 'III';
}

/** AARC score and grade (clinical-reference §4.6 examples). */
export function aarc(input: AarcInput): AarcResult {
  const reader = new InputReader();
  const bilirubin = reader.number('bilirubinMgDl', input.bilirubinMgDl);
  const he = reader.oneOf('heGrade', input.heGrade, WEST_HAVEN_GRADES);
  const inr = reader.number('inr', input.inr);
  const lactate = reader.number('lactateMmolL', input.lactateMmolL);
  const creatinine = reader.number('creatinineMgDl', input.creatinineMgDl);
  if (reader.failed) return reader.result();
  const components = {
    bilirubin: bandPoints(bilirubin, 15, 25),
    encephalopathy: hePoints(he),
    inr: bandPoints(inr, 1.8, 2.5),
    lactate: bandPoints(lactate, 1.5, 2.5),
    creatinine: bandPoints(creatinine, 0.7, 1.5),
  };
  const value = components.bilirubin + components.encephalopathy + components.inr + components.lactate + components.creatinine;
  return ok({ value, class: aarcGrade(value), components });
}
