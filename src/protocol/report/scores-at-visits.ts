/**
 * Scores at each visit from the values selected for that visit, in the units each formula
 * needs (clinical-reference §3-§5: bilirubin and creatinine in mg/dL, albumin in g/dL,
 * WBC in 10^9/L, lactate in mmol/L). Values are converted by the trial's CRF unit
 * converter (src/mapping) from the source value, never from the rounded CRF value
 * converted back (design.md "One converter"). A score is reported only when it could be
 * computed: Child-Pugh needs the clinician's ascites and HE grading, AARC the HE grade,
 * CLIF-C OF, EASL-CLIF and CLIF-C ACLF also the circulation and respiration bands.
 */
import type { ItemUnits, SourceQuantity } from '../../mapping';
import {
  aarc, childPugh, clifCAclfScore, roundHalfUp, clifCOf, easlClifAclfGrade, meld, meld3, meldNa, sofaLabPartial,
  type ClifOfInput, type ClifSubscore, type CtpEncephalopathy, type ScoreResult, type WestHavenGrade,
} from '../scores';
import type { UnrecordedDialysis } from '../trials';

/** Decimals of a raw score in the report: as clinical-reference §4 tabulates them (M10 16.740). */
export const RAW_DECIMALS = 3;

export interface VisitValue {
  readonly item: string;
  readonly value: number | string;
  readonly unit: string | null;
  /** The source's value and unit (full precision). */
  readonly source?: SourceQuantity | null;
}

export interface ScoreRow {
  readonly name: string;
  readonly visit: string;
  readonly value: number;
  readonly raw: number | null;
  readonly class: string | null;
}

export interface ScoreContext {
  readonly female: boolean | null;
  /** Dialysis (renal replacement) in the 7 days before the creatinine; null: not recorded. */
  readonly dialysis: boolean | null;
  /** How an unrecorded dialysis is scored (trial file defaults.meld). */
  readonly unrecordedDialysis: UnrecordedDialysis;
  readonly ascites?: 'none' | 'mild' | 'moderate-severe';
  readonly encephalopathy?: CtpEncephalopathy;
  /** CLIF-C OF bands recorded as findings (§5). */
  readonly circulation?: ClifSubscore;
  readonly respiration?: ClifSubscore;
  /** Completed years on the visit's date; null when the birth date does not give one. */
  readonly ageYears: number | null;
  readonly units: ItemUnits;
}

/**
 * A West Haven grade standing for a Child-Pugh HE category. AARC, CLIF-C OF and EASL-CLIF
 * score West Haven 1 and 2 alike, and 3 and 4 alike (§4.6, §5), so any grade of the
 * category gives the same points.
 */
const WEST_HAVEN_OF: Readonly<Record<CtpEncephalopathy, WestHavenGrade>> = { none: 0, 'grade-1-2': 2, 'grade-3-4': 4 };

/** The score rows of one visit. */
export function scoresAtVisit(visit: string, values: readonly VisitValue[], ctx: ScoreContext): ScoreRow[] {
  const by = new Map(values.map((v) => [v.item, v]));
  const inUnit = (item: string, unit: string): number | undefined => {
    const v = by.get(item);
    return v ? ctx.units.valueIn(v, unit) ?? undefined : undefined;
  };
  const bili = inUnit('TBIL', 'mg/dL');
  const cr = inUnit('CREA', 'mg/dL');
  const inr = inUnit('INR', '{INR}');
  const na = inUnit('NA', 'mmol/L');
  const alb = inUnit('ALB', 'g/dL');
  const plt = inUnit('PLT', '10*9/L');
  const wbc = inUnit('WBC', '10*9/L');
  const lactate = inUnit('LACT', 'mmol/L');
  const rows: ScoreRow[] = [];
  type Row = ScoreResult<{ value: number; raw?: number; class?: string }>;
  const push = (name: string, r: Row) => {
    if (r.status === 'ok') rows.push({ name, visit, value: r.value, raw: r.raw === undefined ? null : roundHalfUp(r.raw, RAW_DECIMALS), class: r.class ?? null });
  };
  // For the scores shown per visit (secondary outcomes, clinical-reference §1), an unrecorded
  // dialysis is scored as the trial file says: by default as none, as UNOS and MELD calculators do.
  const dialysis = ctx.dialysis ?? (ctx.unrecordedDialysis === 'assume-none' ? false : null);
  const base = { bilirubinMgDl: bili, inr, creatinineMgDl: cr, dialysis };
  push('MELD', meld(base));
  push('MELD-Na', meldNa({ ...base, sodiumMmolL: na }));
  push('MELD 3.0', meld3({ ...base, sodiumMmolL: na, albuminGDl: alb, female: ctx.female }));
  push('Child-Pugh', childPugh({ bilirubinMgDl: bili, albuminGDl: alb, inr, ascites: ctx.ascites, encephalopathy: ctx.encephalopathy }));
  push('SOFA (liver, coagulation, renal)', sofaLabPartial({ bilirubinMgDl: bili, platelets10e9L: plt, creatinineMgDl: cr }));
  const heGrade = ctx.encephalopathy ? WEST_HAVEN_OF[ctx.encephalopathy] : undefined;
  push('AARC', aarc({ bilirubinMgDl: bili, heGrade, inr, lactateMmolL: lactate, creatinineMgDl: cr }));
  const organs: ClifOfInput = {
    bilirubinMgDl: bili, creatinineMgDl: cr, renalReplacementTherapy: dialysis, heGrade, inr,
    circulation: ctx.circulation ? { kind: 'recorded-subscore', subscore: ctx.circulation } : undefined,
    respiration: ctx.respiration ? { kind: 'recorded-subscore', subscore: ctx.respiration } : undefined,
  };
  const of = clifCOf(organs);
  push('CLIF-C OF', of);
  push('EASL-CLIF ACLF grade', easlClifAclfGrade(organs));
  push('CLIF-C ACLF', clifCAclfScore({ clifCOf: of.status === 'ok' ? of.value : undefined, ageYears: ctx.ageYears, wbc10e9L: wbc }));
  return rows;
}
