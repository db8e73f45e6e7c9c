/**
 * EASL-CLIF ACLF grade (CANONIC, Moreau 2013) and the CLIF-C ACLF score
 * (Jalan 2014), clinical-reference §5.
 *
 * Grades, from the organ failures of {@link clifCOf}:
 * - No ACLF: no organ failure; or a single non-kidney, non-brain failure with
 *   creatinine < 1.5 mg/dL and no HE; or a single brain failure with
 *   creatinine < 1.5.
 * - ACLF-1: a single kidney failure; or a single liver, coagulation,
 *   circulation or respiration failure with creatinine 1.5–1.9 and/or HE
 *   grade I–II; or a single brain failure with creatinine 1.5–1.9.
 * - ACLF-2: two organ failures. ACLF-3: three or more.
 *
 * "Creatinine 1.5–1.9" is read as 1.5 ≤ Cr < 2.0 (tolerant ≥ at 1.5, so
 * 132.6 µmol/L ÷ 88.4 = 1.4999999999999998 counts as 1.5); at ≥ 2.0 the
 * kidney itself fails. Inputs and missing-data policy are those of CLIF-C OF:
 * the grade is unknown when any organ input is absent, even when the absent
 * organ could not change the grade (kept simple and safe; §0).
 */
import { type ClifOfInput, type ClifOrgan, clifCOf } from './clif-c-of';
import { atLeast, roundHalfUp } from './numeric';
import { InputReader, type Maybe, ok, type ScoreResult } from './result';

/** EASL-CLIF grade label; `value` carries the same as 0–3. */
export type AclfGradeLabel = 'no-ACLF' | 'ACLF-1' | 'ACLF-2' | 'ACLF-3';

/** Which rule of the definition decided the grade. */
export type AclfGradeRule =
  | 'no-organ-failure'
  | 'single-failure-without-modifier'
  | 'single-kidney-failure'
  | 'single-failure-with-kidney-dysfunction-or-he'
  | 'two-organ-failures'
  | 'three-or-more-organ-failures';

/** EASL-CLIF grade: `value` 0 (no ACLF) to 3, `class` its label. */
export type AclfGradeResult = ScoreResult<{
  readonly value: 0 | 1 | 2 | 3;
  readonly class: AclfGradeLabel;
  readonly components: {
    readonly organFailures: readonly ClifOrgan[];
    readonly rule: AclfGradeRule;
    /** Creatinine 1.5–1.9 mg/dL without kidney failure. */
    readonly kidneyDysfunction: boolean;
    /** HE grade I–II. */
    readonly moderateEncephalopathy: boolean;
    /** CLIF-C OF total, for {@link clifCAclfScore}. */
    readonly clifCOf: number;
  };
}>;

/** Creatinine (mg/dL) from which a single non-kidney failure is ACLF-1. */
export const KIDNEY_DYSFUNCTION_CREATININE_MG_DL = 1.5;

const LABELS: Readonly<Record<0 | 1 | 2 | 3, AclfGradeLabel>> = { 0: 'no-ACLF', 1: 'ACLF-1', 2: 'ACLF-2', 3: 'ACLF-3' };

function gradeFor(failures: readonly ClifOrgan[], kidneyDysfunction: boolean, moderateHe: boolean): { grade: 0 | 1 | 2 | 3; rule: AclfGradeRule } {
  if (failures.length === 0) return { grade: 0, rule: 'no-organ-failure' };
  if (failures.length >= 3) return { grade: 3, rule: 'three-or-more-organ-failures' };
  if (failures.length === 2) return { grade: 2, rule: 'two-organ-failures' };
  const [only] = failures;
  if (only === 'kidney') return { grade: 1, rule: 'single-kidney-failure' };
  // A single brain failure already has HE III-IV, so only the creatinine modifier applies to it.
  const modified = only === 'brain' ? kidneyDysfunction : kidneyDysfunction || moderateHe;
  return modified ? { grade: 1, rule: 'single-failure-with-kidney-dysfunction-or-he' } : { grade: 0, rule: 'single-failure-without-modifier' };
}

/** EASL-CLIF ACLF grade (no ACLF, 1, 2, 3) from the CLIF-C OF inputs. */
export function easlClifAclfGrade(input: ClifOfInput): AclfGradeResult {
  const of = clifCOf(input);
  if (of.status === 'unknown') return of;
  const { organFailures, creatinineMgDl, heGrade } = of.components;
  const kidneyDysfunction = !organFailures.includes('kidney') && atLeast(creatinineMgDl, KIDNEY_DYSFUNCTION_CREATININE_MG_DL);
  const moderateEncephalopathy = heGrade === 1 || heGrade === 2;
  const { grade, rule } = gradeFor(organFailures, kidneyDysfunction, moderateEncephalopathy);
  return ok({ value: grade, class: LABELS[grade], components: { organFailures, rule, kidneyDysfunction, moderateEncephalopathy, clifCOf: of.value } });
}

/** CLIF-C ACLF score inputs. */
export interface ClifCAclfInput {
  /** CLIF-C OF total, 6–18 ({@link clifCOf}). */
  readonly clifCOf?: Maybe<number>;
  /** Age in completed years. */
  readonly ageYears?: Maybe<number>;
  /** White blood cells, 10^9/L (> 0: its logarithm is taken). */
  readonly wbc10e9L?: Maybe<number>;
}

/** CLIF-C ACLF score: `value` rounded half up to one decimal; `raw` unrounded. */
export type ClifCAclfResult = ScoreResult<{ readonly value: number; readonly raw: number }>;

/**
 * CLIF-C ACLF = 10 × (0.33·CLIF-C OFs + 0.04·age + 0.63·ln(WBC) − 2)
 * (Jalan 2014; §5). Example: OFs 8, age 50, WBC 10 → 40.906 → 40.9.
 * Defined for patients with ACLF; computing it does not check the grade.
 */
export function clifCAclfScore(input: ClifCAclfInput): ClifCAclfResult {
  const reader = new InputReader();
  const ofs = reader.number('clifCOf', input.clifCOf, { min: 6, max: 18 });
  const age = reader.number('ageYears', input.ageYears);
  const wbc = reader.number('wbc10e9L', input.wbc10e9L, { exclusiveMin: true });
  if (reader.failed) return reader.result();
  const raw = 10 * (0.33 * ofs + 0.04 * age + 0.63 * Math.log(wbc) - 2);
  return ok({ value: roundHalfUp(raw, 1), raw });
}
