/**
 * Score rules: a derived score within [min, max] inclusive (clinical-reference §1.3 I3a
 * MELD 17-30 on the UNOS integer MELD, §4.1; §1.1 E2 Child-Pugh > 9, i.e. >= 10, §4.4).
 * The formulas are the score library's; this file only gathers their inputs.
 *
 * Labs come from the context window (screening, or before onset). Clinician inputs
 * (dialysis for MELD, ascites and HE for Child-Pugh, sex for MELD 3.0) come from dated
 * findings. When one is not recorded the score is computed for every value it could take:
 * if all results fall on the same side of the range the verdict stands, otherwise UNKNOWN
 * (§0). Dialysis is the exception the trial file decides (defaults.meld.unrecordedDialysis):
 * by default an unrecorded dialysis is scored as none, the UNOS convention that §1.3 I3a
 * and the §4.1 vectors M10/M11 (dialysis "no") rest on, and the reason states it.
 */
import { atLeast, atMost, childPugh, meld, meld3, meldNa, type Ascites, type CtpEncephalopathy, type ScoreResult } from '../scores';
import type { ScoreName, ScoreRangeRule } from '../trials';
import { pickFinding, refsOf, unknownOutcome, type EvalContext, type Outcome } from './context';
import { readLab } from './labs';
import type { FindingKind } from './types';
import { fmtComputed } from './units';

type Labs = Readonly<Record<string, number>>;
type Choice = Readonly<Record<string, unknown>>;
type Computed = ScoreResult<{ readonly value: number; readonly raw?: number }>;

interface ScoreSpec {
  /** CRF item -> unit the formula takes. */
  readonly labs: readonly { readonly item: string; readonly unit: string }[];
  /** Clinician inputs and every value each may take. */
  readonly inputs: readonly { readonly name: string; readonly finding?: FindingKind; readonly values: readonly unknown[] }[];
  readonly compute: (labs: Labs, choice: Choice) => Computed;
}

const DIALYSIS = { name: 'dialysis', finding: 'dialysis', values: [false, true] } as const;
const MELD_LABS = [
  { item: 'TBIL', unit: 'mg/dL' },
  { item: 'INR', unit: '{INR}' },
  { item: 'CREA', unit: 'mg/dL' },
] as const;
const meldInput = (l: Labs, c: Choice) => ({ bilirubinMgDl: l.TBIL, inr: l.INR, creatinineMgDl: l.CREA, dialysis: c.dialysis as boolean });

/** Scores the engine can compute; SOFA, AARC and CLIF-C OF need vitals and are not supported (UNKNOWN). */
const SPECS: Partial<Record<ScoreName, ScoreSpec>> = {
  MELD: { labs: MELD_LABS, inputs: [DIALYSIS], compute: (l, c) => meld(meldInput(l, c)) },
  'MELD-NA': {
    labs: [...MELD_LABS, { item: 'NA', unit: 'mmol/L' }],
    inputs: [DIALYSIS],
    compute: (l, c) => meldNa({ ...meldInput(l, c), sodiumMmolL: l.NA }),
  },
  'MELD-3.0': {
    labs: [...MELD_LABS, { item: 'NA', unit: 'mmol/L' }, { item: 'ALB', unit: 'g/dL' }],
    inputs: [DIALYSIS, { name: 'female', values: [false, true] }],
    compute: (l, c) => meld3({ ...meldInput(l, c), sodiumMmolL: l.NA, albuminGDl: l.ALB, female: c.female as boolean }),
  },
  CTP: {
    labs: [
      { item: 'TBIL', unit: 'mg/dL' },
      { item: 'ALB', unit: 'g/dL' },
      { item: 'INR', unit: '{INR}' },
    ],
    inputs: [
      { name: 'ascites', finding: 'ascites', values: ['none', 'mild', 'moderate-severe'] },
      { name: 'encephalopathy', finding: 'encephalopathy', values: ['none', 'grade-1-2', 'grade-3-4'] },
    ],
    compute: (l, c) => childPugh({ bilirubinMgDl: l.TBIL, albuminGDl: l.ALB, inr: l.INR, ascites: c.ascites as Ascites, encephalopathy: c.encephalopathy as CtpEncephalopathy }),
  },
};

/**
 * The CRF items and units a score rule reads, or null for a score the engine does not
 * compute (the trial package check makes sure the trial's CRF holds them).
 */
export function scoreLabItems(score: ScoreName): readonly { readonly item: string; readonly unit: string }[] | null {
  return SPECS[score]?.labs ?? null;
}

/** The assumption stated in the reason when no dialysis finding is recorded (TrialDefaults.meld). */
export const ASSUMED_NO_DIALYSIS = 'dialysis not recorded, scored as none (UNOS convention; trial defaults.meld.unrecordedDialysis assume-none)';

/** An integer score as is, a raw one with two decimals. */
const num = (x: number): string => (Number.isInteger(x) ? String(x) : fmtComputed(x));

/** "17-30", ">= 10", "<= 30". */
function rangeText(rule: ScoreRangeRule): string {
  if (rule.min !== undefined && rule.max !== undefined) return `${rule.min}-${rule.max}`;
  return rule.min !== undefined ? `>= ${rule.min}` : `<= ${rule.max}`;
}

function inRange(v: number, rule: ScoreRangeRule): boolean {
  return (rule.min === undefined || atLeast(v, rule.min)) && (rule.max === undefined || atMost(v, rule.max));
}

/** The recorded value of each clinician input, or all its possible values when not recorded. */
function clinicianInputs(ctx: EvalContext, spec: ScoreSpec) {
  return spec.inputs.map((input) => {
    if (input.name === 'female') {
      const g = ctx.facts.patient.gender;
      const known = g === 'female' || g === 'male';
      return { name: input.name, values: known ? [g === 'female'] : input.values, text: known ? `sex ${g}` : 'sex not recorded', refs: known && ctx.facts.patient.ref ? [ctx.facts.patient.ref] : [] };
    }
    const pick = pickFinding(ctx, input.finding!);
    if (pick.kind === 'one') return { name: input.name, values: [pick.value.value as unknown], text: `${input.name} ${String(pick.value.value)}`, refs: [pick.value.ref] };
    if (input.name === 'dialysis' && pick.kind === 'none' && ctx.trial.defaults.meld.unrecordedDialysis === 'assume-none') {
      return { name: input.name, values: [false], text: ASSUMED_NO_DIALYSIS, refs: [] };
    }
    return { name: input.name, values: input.values, text: `${input.name} ${pick.kind === 'conflict' ? 'conflicting' : 'not recorded'}`, refs: refsOf(pick) };
  });
}

/** Every combination of the inputs' values. */
function combinations(inputs: readonly { readonly name: string; readonly values: readonly unknown[] }[]): Choice[] {
  return inputs.reduce<Choice[]>((acc, input) => acc.flatMap((c) => input.values.map((v) => ({ ...c, [input.name]: v }))), [{}]);
}

/** `score` within [min, max] (inclusive), on the integer score when `integer`, else the raw one. */
export function evaluateScoreRange(ctx: EvalContext, rule: ScoreRangeRule): Outcome {
  const spec = SPECS[rule.score];
  if (!spec) return unknownOutcome(`${rule.score} is not computed by the eligibility engine (it needs inputs beyond labs); clinician review`);
  const labs: Record<string, number> = {};
  const texts: string[] = [];
  const evidence: string[] = [];
  const problems: string[] = [];
  for (const { item, unit } of spec.labs) {
    const read = readLab(ctx, item, unit);
    if (read.ok) {
      labs[item] = read.value;
      texts.push(read.text);
      evidence.push(read.lab.ref);
    } else {
      problems.push(read.outcome.reason);
      evidence.push(...read.outcome.evidence);
    }
  }
  const needs = `${rule.score} needs ${spec.labs.map((l) => l.item).join(', ')}`;
  if (problems.length > 0) return unknownOutcome(`${needs}: ${problems.join('; ')}`, evidence);

  const inputs = clinicianInputs(ctx, spec);
  inputs.forEach((i) => evidence.push(...i.refs));
  const results = combinations(inputs).map((c) => spec.compute(labs, c));
  const failed = results.find((r) => r.status === 'unknown');
  if (failed && failed.status === 'unknown') return unknownOutcome(`${rule.score} cannot be computed: ${[...(failed.invalid ?? failed.missing)].join(', ')}`, evidence);
  const values = results.map((r) => (r.status === 'ok' ? (rule.integer ? r.value : r.raw ?? r.value) : Number.NaN));
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const inside = values.map((v) => inRange(v, rule));
  const verdict = inside.every(Boolean) ? 'met' : inside.some(Boolean) ? 'unknown' : 'not-met';

  const raw = results.length === 1 && results[0].status === 'ok' && rule.integer && results[0].raw !== undefined ? ` (raw ${fmtComputed(results[0].raw)})` : '';
  const value = lo === hi ? `${rule.score} ${num(lo)}${raw}` : `${rule.score} ${num(lo)}..${num(hi)} over the unrecorded inputs`;
  const relation = verdict === 'met' ? 'within' : verdict === 'not-met' ? 'outside' : 'may or may not be within';
  return { verdict, reason: `${value} from ${[...texts, ...inputs.map((i) => i.text)].join(', ')}: ${relation} ${rangeText(rule)}`, evidence };
}
