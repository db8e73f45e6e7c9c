/**
 * Scores at each visit from the values selected for that visit, converted from
 * the trial's CRF units to the units each formula needs (clinical-reference
 * §3-§4: bilirubin and creatinine in mg/dL, albumin in g/dL inside the scores).
 * A score is reported only when it could be computed; Child-Pugh needs the
 * clinician's ascites and HE grading, so without them it is not reported.
 */
import { childPugh, meld, meld3, meldNa, sofaLabPartial, type ScoreResult } from '../scores';

export interface VisitValue {
  readonly item: string;
  readonly value: number | string;
  readonly unit: string | null;
}

export interface ScoreRow {
  readonly name: string;
  readonly visit: string;
  readonly value: number;
  readonly raw: number | null;
  readonly class: string | null;
}

/** mg/dL from a bilirubin or creatinine value in µmol/L or mg/dL (§3 factors 17.1 and 88.4). */
function massConc(v: VisitValue | undefined, factor: number): number | undefined {
  if (!v || typeof v.value !== 'number') return undefined;
  if (v.unit === 'mg/dL') return v.value;
  if (v.unit === 'umol/L') return v.value / factor;
  return undefined;
}

function albuminGdl(v: VisitValue | undefined): number | undefined {
  if (!v || typeof v.value !== 'number') return undefined;
  if (v.unit === 'g/dL') return v.value;
  if (v.unit === 'g/L') return v.value / 10;
  return undefined;
}

const num = (v: VisitValue | undefined): number | undefined => (v && typeof v.value === 'number' ? v.value : undefined);

export interface ScoreContext {
  readonly female: boolean | null;
  /** Dialysis in the 7 days before the creatinine. null: not recorded, scored as none. */
  readonly dialysis: boolean | null;
  readonly ascites?: 'none' | 'mild' | 'moderate-severe';
  readonly encephalopathy?: 'none' | 'grade-1-2' | 'grade-3-4';
}

export function scoresAtVisit(visit: string, values: readonly VisitValue[], ctx: ScoreContext): ScoreRow[] {
  const by = new Map(values.map((v) => [v.item, v]));
  const bili = massConc(by.get('TBIL'), 17.1);
  const cr = massConc(by.get('CREA'), 88.4);
  const inr = num(by.get('INR'));
  const na = num(by.get('NA'));
  const alb = albuminGdl(by.get('ALB'));
  const plt = num(by.get('PLT'));
  const rows: ScoreRow[] = [];
  type Row = ScoreResult<{ value: number; raw?: number; class?: string }>;
  const push = (name: string, r: Row) => {
    if (r.status === 'ok') rows.push({ name, visit, value: r.value, raw: r.raw ?? null, class: r.class ?? null });
  };
  // Dialysis is rarely recorded in lab feeds. For the scores shown per visit (secondary
  // outcomes, clinical-reference §1), an unrecorded dialysis is taken as none, as MELD
  // calculators do; the eligibility engine does not assume it (it decides I3a only
  // when both cases agree, clinical-reference §0).
  const withDialysis = (f: (dialysis: boolean) => Row): Row => f(ctx.dialysis ?? false);
  const base = (dialysis: boolean) => ({ bilirubinMgDl: bili, inr, creatinineMgDl: cr, dialysis });
  push('MELD', withDialysis((d) => meld(base(d))));
  push('MELD-Na', withDialysis((d) => meldNa({ ...base(d), sodiumMmolL: na })));
  push('MELD 3.0', withDialysis((d) => meld3({ ...base(d), sodiumMmolL: na, albuminGDl: alb, female: ctx.female })));
  push('Child-Pugh', childPugh({ bilirubinMgDl: bili, albuminGDl: alb, inr, ascites: ctx.ascites, encephalopathy: ctx.encephalopathy }));
  push('SOFA (liver, coagulation, renal)', sofaLabPartial({ bilirubinMgDl: bili, platelets10e9L: plt, creatinineMgDl: cr }));
  return rows;
}
