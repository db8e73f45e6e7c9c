/**
 * What a pre-screening site is asked for (pure; README "Pre-screening and
 * alerts"). Minimum necessary: the EHR is asked only for results that can
 * trigger a trial (its trigger analytes, above the threshold where the server
 * can filter by value), and, on a hit, for that patient's labs in the trial's
 * analyte groups over the look-back, and the Patient: nothing else.
 *
 * Trigger analytes: the items of a trial's inclusion criteria that are a lab
 * threshold or a ULN multiple on their own (or inside an all-of: each part is
 * necessary). A criterion inside an any-of is not necessary alone, so it does
 * not trigger. For NCT05985863 (I2a) and NCT02812121 (I1a) this is total
 * bilirubin (clinical-reference §1.1, §1.3).
 *
 * Value filters follow FHIR R4 search (search.html#quantity):
 * `value-quantity=ge<number>|http://unitsofmeasure.org|<unit>`, one value per
 * unit the analyte group is reported in (mappings/analytes.json), converted by
 * the one converter (src/mapping), comma-separated (OR).
 */
import type { Observation } from '@medplum/fhirtypes';
import { itemUnits, type CompiledRule, type MappingSet } from '../mapping';
import type { Criterion, CriterionRule, Trial } from '../protocol/trials';
import { scoreLabItems } from '../protocol/eligibility';
import { LOINC_SYSTEM } from './watch';

/** UCUM's system URI (FHIR R4 Quantity.system for UCUM units). */
export const UCUM_SYSTEM = 'http://unitsofmeasure.org';

/** [A] Look-back of a hit's history (days before today), unless a criterion needs longer. */
export const DEFAULT_PRESCREEN_LOOKBACK_DAYS = 180;

/**
 * [A] Results dated this many days before today can still trigger: the engine
 * reads screening labs from a short window before the screening date (today),
 * and a first poll must not page through years of a hospital's bilirubins.
 */
export const PRESCREEN_TRIGGER_DAYS = 7;

/** Cursor key prefix of a plan (site_cursors.resource_type), distinct from the enrolled-patient plans. */
export const PRESCREEN_CURSOR = 'Observation#prescreen';

export type TriggerOp = 'ge' | 'gt' | 'le' | 'lt';
const PREFIX: Record<'>=' | '>' | '<=' | '<', TriggerOp> = { '>=': 'ge', '>': 'gt', '<=': 'le', '<': 'lt' };

/** One trial's trigger on one analyte. */
export interface Trigger {
  readonly trial: string;
  readonly criterion: string;
  readonly item: string;
  readonly op: TriggerOp;
  readonly value: number;
  readonly unit: string;
  /** ULN multiple (tbil-uln-multiple): the result's own referenceRange.high x multiple decides locally; `value` uses the default ULN. */
  readonly ulnMultiple: number | null;
}

/** One polling search / Subscription criteria of a site: one trigger analyte, every trial that triggers on it. */
export interface PrescreenPlan {
  /** site_cursors key and Subscription key stem: `Observation#prescreen:<ANALYTE>`. */
  readonly key: string;
  readonly item: string;
  /** `system|code` tokens of the analyte group (LOINC) and the site's local codes for it. */
  readonly codes: readonly string[];
  readonly triggers: readonly Trigger[];
  /** `value-quantity` values (OR), one per reported unit; used only when the server supports the parameter. */
  readonly valueQuantity: string | null;
}

/** The site's local codes: `system|code` → analyte id or LOINC code (TRIALBRIDGE_SITES codeMap). */
export type LocalCodes = readonly { readonly system: string; readonly code: string; readonly target: string }[];

function ruleOf(mappings: MappingSet, trial: string, item: string): CompiledRule | undefined {
  return mappings.rulesFor(trial).find((r) => r.item === item);
}

/** Top-level inclusion rules that are each necessary: the rule itself, or the parts of an all-of. */
function necessaryRules(c: Criterion): CriterionRule[] {
  const out: CriterionRule[] = [];
  const walk = (r: CriterionRule) => (r.kind === 'all-of' ? r.rules.forEach(walk) : out.push(r));
  walk(c.rule);
  return out;
}

/** The trial's triggers (see the module comment); none for a trial without a lab-threshold inclusion. */
export function triggersOf(trial: Trial): Trigger[] {
  if (trial.unknowns.includes('eligibility')) return [];
  const out: Trigger[] = [];
  for (const c of trial.eligibility.filter((x) => x.type === 'inclusion')) {
    for (const r of necessaryRules(c)) {
      if (r.kind === 'lab-threshold') out.push({ trial: trial.key, criterion: c.id, item: r.item, op: PREFIX[r.op], value: r.value, unit: r.unit, ulnMultiple: null });
      else if (r.kind === 'tbil-uln-multiple') out.push({ trial: trial.key, criterion: c.id, item: r.item, op: 'ge', value: r.multiple * r.defaultUln.value, unit: r.defaultUln.unit, ulnMultiple: r.multiple });
    }
  }
  return out;
}

const high = (op: TriggerOp) => op === 'ge' || op === 'gt';

/** Rounds towards letting more through (down for ge/gt, up for le/lt): the local check decides exactly. */
function loose(value: number, op: TriggerOp): string {
  const f = 1e4;
  const v = high(op) ? Math.floor(value * f + 1e-6) / f : Math.ceil(value * f - 1e-6) / f;
  return String(v);
}

/**
 * The site's pre-screen plans: one per trigger analyte and direction. When
 * several trials trigger on one analyte, the server filter is the least strict
 * of their thresholds (one search finds the hits of all of them).
 */
export function prescreenPlans(trials: readonly Trial[], mappings: MappingSet, localCodes: LocalCodes = []): PrescreenPlan[] {
  const groups = new Map<string, Trigger[]>();
  for (const t of trials.flatMap(triggersOf)) {
    if (!ruleOf(mappings, t.trial, t.item)) continue;
    const k = `${t.item}|${high(t.op) ? 'high' : 'low'}`;
    groups.set(k, [...(groups.get(k) ?? []), t]);
  }
  const out: PrescreenPlan[] = [];
  for (const triggers of groups.values()) {
    const first = triggers[0];
    const rule = ruleOf(mappings, first.trial, first.item)!;
    const units = itemUnits(mappings, first.trial);
    const reported = [...new Set(rule.analyte.usualUnits.values())];
    const direction = high(first.op);
    const parts: string[] = [];
    for (const unit of reported) {
      const values = triggers.map((t) => units.convert(t.item, t.value, t.unit, unit)).filter((v): v is number => v !== null);
      if (values.length < triggers.length) {
        parts.length = 0;
        break; // a threshold that cannot be put in this unit: no value filter (code and date only)
      }
      const bound = direction ? Math.min(...values) : Math.max(...values);
      const op = triggers.some((t) => t.op === (direction ? 'ge' : 'le')) ? (direction ? 'ge' : 'le') : first.op;
      parts.push(`${op}${loose(bound, op)}|${UCUM_SYSTEM}|${unit}`);
    }
    const codes = [
      ...rule.analyte.codes.map((c) => `${LOINC_SYSTEM}|${c}`),
      ...localCodes.filter((c) => c.target === rule.analyte.id || rule.analyte.codes.includes(c.target)).map((c) => `${c.system}|${c.code}`),
    ];
    out.push({ key: `${PRESCREEN_CURSOR}:${first.item}${direction ? '' : '-low'}`, item: first.item, codes, triggers, valueQuantity: parts.length ? parts.join(',') : null });
  }
  return out;
}

/** The value and UCUM unit of an Observation's result, the unit implied by its code when it has none. */
function quantityOf(o: Observation, rule: CompiledRule): { value: number; unit: string } | null {
  const q = o.valueQuantity;
  if (!q || typeof q.value !== 'number' || !Number.isFinite(q.value)) return null;
  const unit = q.code ?? q.unit ?? (o.code?.coding ?? []).map((c) => (c.system === LOINC_SYSTEM && c.code ? rule.analyte.impliedUnits.get(c.code) : undefined)).find((u) => u);
  return unit ? { value: q.value, unit } : null;
}

function meets(v: number, op: TriggerOp, t: number): boolean {
  const eps = 1e-9; // clinical-reference §0 "Float comparisons"
  switch (op) {
    case 'ge': return v >= t - eps;
    case 'gt': return v > t + eps;
    case 'le': return v <= t + eps;
    case 'lt': return v < t - eps;
  }
}

/**
 * The trials an Observation triggers (its value meets a trigger's threshold,
 * converted by the one converter; a ULN multiple uses the result's own
 * referenceRange.high when it has one). A result whose unit cannot be
 * converted triggers nothing here; the map worker reviews it as usual.
 */
export function triggeredTrials(o: Observation, plan: PrescreenPlan, mappings: MappingSet): string[] {
  const tokens = new Set((o.code?.coding ?? []).map((c) => `${c.system}|${c.code}`));
  if (!plan.codes.some((c) => tokens.has(c))) return [];
  const out = new Set<string>();
  for (const t of plan.triggers) {
    const rule = ruleOf(mappings, t.trial, t.item);
    const q = rule && quantityOf(o, rule);
    if (!rule || !q) continue;
    const units = itemUnits(mappings, t.trial);
    const v = units.convert(t.item, q.value, q.unit, t.unit);
    if (v === null) continue;
    let threshold = t.value;
    const h = o.referenceRange?.find((r) => r.high?.value !== undefined)?.high;
    const hUnit = h?.code ?? h?.unit;
    if (t.ulnMultiple !== null && h?.value !== undefined && hUnit) {
      const uln = units.convert(t.item, h.value, hUnit, t.unit);
      if (uln !== null) threshold = t.ulnMultiple * uln;
    }
    if (meets(v, t.op, threshold)) out.add(t.trial);
  }
  return [...out];
}

/** CRF items a rule reads from labs (scores: their lab inputs). */
function itemsOf(rule: CriterionRule, out: Map<string, number>, base: number): void {
  const add = (item: string, days: number) => out.set(item, Math.max(out.get(item) ?? 0, days));
  switch (rule.kind) {
    case 'lab-threshold':
    case 'tbil-uln-multiple':
      add(rule.item, base);
      return;
    case 'hbsag-duration':
      // Two positives minDays apart: the earlier may be minDays before a recent one.
      add(rule.item, base + rule.minDays);
      return;
    case 'score-range':
      for (const l of scoreLabItems(rule.score) ?? []) add(l.item, base);
      return;
    case 'any-of':
    case 'all-of':
      rule.rules.forEach((r) => itemsOf(r, out, base));
      return;
    case 'pre-onset':
      itemsOf(rule.rule, out, base);
      return;
    case 'age-range':
    case 'judgement':
      return;
  }
}

/** One history search of a hit: codes of analyte groups that share a look-back. */
export interface HistoryQuery {
  readonly days: number;
  readonly items: readonly string[];
  readonly codes: readonly string[];
}

/**
 * What to fetch of a patient who triggered `trials`: their labs in the analyte
 * groups the trials' criteria read, over `lookbackDays` (longer where a
 * criterion needs it: HBsAg duration), grouped into one search per look-back.
 */
export function historyQueries(trials: readonly Trial[], mappings: MappingSet, lookbackDays: number, localCodes: LocalCodes = []): HistoryQuery[] {
  const byItem = new Map<string, number>();
  const codesOf = new Map<string, string[]>();
  for (const trial of trials) {
    const items = new Map<string, number>();
    for (const c of trial.eligibility) itemsOf(c.rule, items, lookbackDays);
    for (const [item, days] of items) {
      const rule = ruleOf(mappings, trial.key, item);
      if (!rule) continue;
      byItem.set(item, Math.max(byItem.get(item) ?? 0, days));
      codesOf.set(item, [
        ...rule.analyte.codes.map((c) => `${LOINC_SYSTEM}|${c}`),
        ...localCodes.filter((c) => c.target === rule.analyte.id || rule.analyte.codes.includes(c.target)).map((c) => `${c.system}|${c.code}`),
      ]);
    }
  }
  const byDays = new Map<number, string[]>();
  for (const [item, days] of [...byItem].sort(([a], [b]) => (a < b ? -1 : 1))) byDays.set(days, [...(byDays.get(days) ?? []), item]);
  return [...byDays].sort(([a], [b]) => a - b).map(([days, items]) => ({ days, items, codes: [...new Set(items.flatMap((i) => codesOf.get(i)!))] }));
}
