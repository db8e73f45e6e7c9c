/**
 * SOFA liver, coagulation and renal sub-scores (NCT02812121 secondary
 * outcome), thresholds as in MIT-LCP/mimic-code
 * `mimic-iv/concepts/score/sofa.sql` (clinical-reference §4.5):
 *
 * | Sub-score | 0 | 1 | 2 | 3 | 4 |
 * |---|---|---|---|---|---|
 * | Liver: bilirubin mg/dL | < 1.2 | ≥ 1.2 | ≥ 2.0 | ≥ 6.0 | ≥ 12.0 |
 * | Coagulation: PLT 10^9/L | ≥ 150 | < 150 | < 100 | < 50 | < 20 |
 * | Renal: creatinine mg/dL | < 1.2 | ≥ 1.2 | ≥ 2.0 | ≥ 3.5 or UO < 500 mL/d | ≥ 5.0 or UO < 200 mL/d |
 *
 * The full SOFA (0–24) also needs respiration, cardiovascular and CNS, which
 * labs do not give; {@link sofaLabPartial} sums only these three (0–12) and
 * labels the result as partial. Unlike mimic-code, which imputes 0 for a
 * missing organ, a missing input here makes the result unknown (§0).
 */
import { atLeast, below } from './numeric';
import { InputReader, type Maybe, ok, type ScoreResult } from './result';

/** A SOFA organ sub-score. */
export type SofaPoints = 0 | 1 | 2 | 3 | 4;

/** One SOFA sub-score. */
export type SofaSubscoreResult = ScoreResult<{ readonly value: SofaPoints }>;

/** Inputs of the lab-derived SOFA sub-scores. */
export interface SofaLabInput {
  readonly bilirubinMgDl?: Maybe<number>;
  /** Platelets, 10^9/L (≡ 10^3/µL). */
  readonly platelets10e9L?: Maybe<number>;
  readonly creatinineMgDl?: Maybe<number>;
  /**
   * Urine output over 24 h, mL. Optional: without it the renal sub-score
   * uses creatinine alone and may underestimate oliguric renal failure.
   */
  readonly urineOutputMlPerDay?: Maybe<number>;
}

/** The organs a full SOFA has and {@link sofaLabPartial} leaves out. */
export const SOFA_ORGANS_NOT_FROM_LABS = ['respiration', 'cardiovascular', 'cns'] as const;

/** Partial SOFA over liver, coagulation and renal only; `value` 0–12. */
export type SofaLabPartialResult = ScoreResult<{
  readonly value: number;
  /** Always `partial`: this is not a SOFA total. */
  readonly scope: 'partial';
  readonly organs: readonly ['liver', 'coagulation', 'renal'];
  readonly omittedOrgans: typeof SOFA_ORGANS_NOT_FROM_LABS;
  readonly maxValue: 12;
  readonly components: { readonly liver: SofaPoints; readonly coagulation: SofaPoints; readonly renal: SofaPoints; readonly urineOutputUsed: boolean };
}>;

function liverPoints(bilirubinMgDl: number): SofaPoints {
  if (atLeast(bilirubinMgDl, 12)) return 4;
  if (atLeast(bilirubinMgDl, 6)) return 3;
  if (atLeast(bilirubinMgDl, 2)) return 2;
  return atLeast(bilirubinMgDl, 1.2) ? 1 : 0;
}

function coagulationPoints(platelets: number): SofaPoints {
  if (below(platelets, 20)) return 4;
  if (below(platelets, 50)) return 3;
  if (below(platelets, 100)) return 2;
  return below(platelets, 150) ? 1 : 0;
}

function renalPoints(creatinineMgDl: number, urineMlPerDay: number | undefined): SofaPoints {
  const uo = urineMlPerDay;
  if (atLeast(creatinineMgDl, 5) || (uo !== undefined && below(uo, 200))) return 4;
  if (atLeast(creatinineMgDl, 3.5) || (uo !== undefined && below(uo, 500))) return 3;
  if (atLeast(creatinineMgDl, 2)) return 2;
  return atLeast(creatinineMgDl, 1.2) ? 1 : 0;
}

/** SOFA liver sub-score from total bilirubin in mg/dL. */
export function sofaLiver(bilirubinMgDl: Maybe<number>): SofaSubscoreResult {
  const reader = new InputReader();
  const bili = reader.number('bilirubinMgDl', bilirubinMgDl);
  return reader.failed ? reader.result() : ok({ value: liverPoints(bili) });
}

/** SOFA coagulation sub-score from platelets in 10^9/L. */
export function sofaCoagulation(platelets10e9L: Maybe<number>): SofaSubscoreResult {
  const reader = new InputReader();
  const plt = reader.number('platelets10e9L', platelets10e9L);
  return reader.failed ? reader.result() : ok({ value: coagulationPoints(plt) });
}

/** SOFA renal sub-score from creatinine in mg/dL and, if known, 24-h urine output. */
export function sofaRenal(input: Pick<SofaLabInput, 'creatinineMgDl' | 'urineOutputMlPerDay'>): SofaSubscoreResult {
  const reader = new InputReader();
  const cr = reader.number('creatinineMgDl', input.creatinineMgDl);
  const uo = readOptionalUrine(reader, input.urineOutputMlPerDay);
  return reader.failed ? reader.result() : ok({ value: renalPoints(cr, uo) });
}

function readOptionalUrine(reader: InputReader, value: Maybe<number>): number | undefined {
  return value === undefined || value === null ? undefined : reader.number('urineOutputMlPerDay', value);
}

/**
 * Sum of the liver, coagulation and renal SOFA sub-scores: a **partial**
 * SOFA (max 12), labelled `scope: 'partial'`. Unknown unless all three are
 * computable.
 */
export function sofaLabPartial(input: SofaLabInput): SofaLabPartialResult {
  const reader = new InputReader();
  const bili = reader.number('bilirubinMgDl', input.bilirubinMgDl);
  const plt = reader.number('platelets10e9L', input.platelets10e9L);
  const cr = reader.number('creatinineMgDl', input.creatinineMgDl);
  const uo = readOptionalUrine(reader, input.urineOutputMlPerDay);
  if (reader.failed) return reader.result();
  const components = { liver: liverPoints(bili), coagulation: coagulationPoints(plt), renal: renalPoints(cr, uo), urineOutputUsed: uo !== undefined };
  return ok({
    value: components.liver + components.coagulation + components.renal,
    scope: 'partial' as const,
    organs: ['liver', 'coagulation', 'renal'] as const,
    omittedOrgans: SOFA_ORGANS_NOT_FROM_LABS,
    maxValue: 12 as const,
    components,
  });
}
