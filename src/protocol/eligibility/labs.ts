/**
 * Lab rules: a threshold on one CRF item (clinical-reference §1.1 I2a/I2b, §1.3 I1b,
 * §1.1 E2 PLT) and bilirubin against a multiple of the laboratory's ULN (§1.3 I1a, §5).
 *
 * Convert first, then compare with the 1e-9 tolerance of the score library (§0 "Float
 * comparisons"): 85.5 µmol/L / 17.1 = 5.0 meets TBIL >= 5 mg/dL, 85.0 (4.97) does not;
 * PTA < 40 is strict, so 40 does not meet it. Values are converted by the trial's CRF unit
 * converter from the source value when the CRF value is that value rounded, so a CRF
 * rounding never moves a result across a threshold (design.md "One converter").
 */
import { above, atLeast, atMost, below } from '../scores';
import type { LabThresholdRule, TbilUlnMultipleRule } from '../trials';
import { missingText, pickLab, refsOf, unknownOutcome, type Dated, type EvalContext, type Outcome } from './context';
import type { LabFact } from './types';
import { fmt, fmtComputed, withUnit } from './units';

type Op = LabThresholdRule['op'];

const COMPARE: Readonly<Record<Op, (x: number, t: number) => boolean>> = {
  '>=': atLeast,
  '>': above,
  '<=': atMost,
  '<': below,
};

const NEGATION: Readonly<Record<Op, string>> = { '>=': '<', '>': '<=', '<=': '>', '<': '>=' };

/** A numeric lab value of the window converted to `unit`, or why there is none. */
type Read =
  | { readonly ok: true; readonly lab: Dated<LabFact>; readonly value: number; readonly text: string }
  | { readonly ok: false; readonly outcome: Outcome };

/**
 * The value of `item` that counts (context.ts: latest in the window), converted to `unit`.
 * `text` shows the recorded value, its date and the conversion: "TBIL 85.0 umol/L on 2024-05-30 = 4.97 mg/dL".
 */
export function readLab(ctx: EvalContext, item: string, unit: string, threshold?: number): Read {
  const pick = pickLab(ctx, item);
  if (pick.kind !== 'one') return { ok: false, outcome: unknownOutcome(missingText(item, pick, ctx.window), refsOf(pick)) };
  const lab = pick.value;
  const evidence = [lab.ref];
  if (typeof lab.value !== 'number' || !Number.isFinite(lab.value)) {
    return { ok: false, outcome: unknownOutcome(`${item} result ${JSON.stringify(lab.value)} on ${lab.at.date} is not a number`, evidence) };
  }
  if (lab.unit === null) return { ok: false, outcome: unknownOutcome(`${item} ${fmt(lab.value)} on ${lab.at.date} has no unit`, evidence) };
  const value = ctx.units.valueIn(lab, unit);
  if (value === null) return { ok: false, outcome: unknownOutcome(`${item} in ${lab.unit} cannot be converted to ${unit}`, evidence) };
  const recorded = `${item} ${withUnit(fmt(lab.value), lab.unit)} on ${lab.at.date}`;
  const converted = value === lab.value && ctx.units.canonical(item, lab.unit) === ctx.units.canonical(item, unit) ? '' : ` = ${withUnit(fmtComputed(value, threshold), unit)}`;
  return { ok: true, lab, value, text: recorded + converted };
}

/** `item op value unit`, e.g. TBIL >= 5 mg/dL or PTA < 40 %. */
export function evaluateLabThreshold(ctx: EvalContext, rule: LabThresholdRule): Outcome {
  const read = readLab(ctx, rule.item, rule.unit, rule.value);
  if (!read.ok) return read.outcome;
  const met = COMPARE[rule.op](read.value, rule.value);
  const op = met ? rule.op : NEGATION[rule.op];
  return {
    verdict: met ? 'met' : 'not-met',
    reason: `${read.text} ${op} ${withUnit(fmt(rule.value), rule.unit)}`,
    evidence: [read.lab.ref],
  };
}

/**
 * TBIL >= multiple x ULN, in the unit of `defaultUln`. ULN = referenceRange.high of the
 * same result converted to that unit when the result carries one, else `defaultUln`
 * (17.1 µmol/L -> 171 µmol/L; with referenceRange.high 21 -> 210). A referenceRange.high
 * that cannot be converted makes the rule UNKNOWN rather than silently using the default.
 */
export function evaluateTbilUlnMultiple(ctx: EvalContext, rule: TbilUlnMultipleRule): Outcome {
  const unit = rule.defaultUln.unit;
  const read = readLab(ctx, rule.item, unit);
  if (!read.ok) return read.outcome;
  const evidence = [read.lab.ref];
  const high = read.lab.referenceHigh;
  let uln = rule.defaultUln.value;
  let ulnText = `default ULN ${withUnit(fmt(uln), unit)}`;
  if (high) {
    const converted = Number.isFinite(high.value) && high.value > 0 ? ctx.units.convert(rule.item, high.value, high.unit, unit) : null;
    if (converted === null) {
      return unknownOutcome(`${read.text}: its referenceRange.high ${high.value} ${high.unit} cannot be used as the ULN in ${unit}`, evidence);
    }
    uln = converted;
    ulnText = `ULN = referenceRange.high ${withUnit(fmt(high.value), high.unit)}${converted === high.value ? '' : ` = ${withUnit(fmtComputed(converted), unit)}`}`;
  }
  const threshold = rule.multiple * uln;
  const met = atLeast(read.value, threshold);
  return {
    verdict: met ? 'met' : 'not-met',
    reason: `${read.text} ${met ? '>=' : '<'} ${rule.multiple} x ULN = ${withUnit(fmtComputed(threshold), unit)} (${ulnText})`,
    evidence,
  };
}

