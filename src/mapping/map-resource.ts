/**
 * mapResource: one FHIR resource -> CRF values or review items for one trial. Pure: no
 * I/O, no clock, never throws on odd data (every odd shape becomes a review with a reason).
 *
 * Only Observations are mapped (every shipped rule has resourceType Observation). Review
 * items are for values that belong to a CRF item of the trial and could not become a
 * trustworthy number: an Observation no rule of the trial matches yields nothing (one
 * whose codes no trial maps is counted as unmapped by the caller, see unmapped.ts), and
 * clinician answers and findings are read by the protocol engine, not here. An
 * Observation whose codings name two different analyte groups is ambiguous: one review
 * item, no value (a value cannot be, say, both creatinine and prothrombin time).
 * Details name elements, units and codes, never the value (design.md habit 9).
 */
import type { Resource } from '@medplum/fhirtypes';
import type { TypedResult } from './fhirpath-engine';
import { isProtocolObservation, ruleCodes, type ObservationLike, type RuleCode } from './codes';
import { mapQuantity, type QuantityJson } from './quantity';
import type { CompiledRule, MappingSet } from './rule-types';
import type { MapContext, MapOutcome, ReviewNeeded, ReviewReason } from './types';

/** Statuses whose value must not reach a CRF (FHIR R4 ObservationStatus). */
const UNUSABLE_STATUS = new Set(['entered-in-error', 'cancelled']);

/** Maps one resource for one trial; see the module comment for what yields nothing. */
export function mapResource(set: MappingSet, trial: string, resource: Resource, ctx: MapContext = {}): MapOutcome[] {
  const obs = resource as unknown as ObservationLike;
  if (obs?.resourceType !== 'Observation') return [];
  if (!set.hasTrial(trial)) return [review(trial, null, 'no-rule', `trial ${trial} has no mapping rules`)];
  if (isProtocolObservation(obs)) return [];
  const codes = ruleCodes(set, obs, ctx.site);
  const matched = matchRules(set, trial, codes);
  if (matched.length === 0) return [];
  const ambiguous = ambiguity(set, codes);
  if (ambiguous) return [review(trial, null, 'ambiguous-code', ambiguous)];
  if (typeof obs.status === 'string' && UNUSABLE_STATUS.has(obs.status)) {
    return matched.map(({ rule }) => review(trial, rule.id, 'unusable-status', `Observation.status is '${obs.status}'`));
  }
  const outcomes: MapOutcome[] = [];
  for (const { rule, code } of matched) {
    const outcome = guarded(rule, () => applyRule(rule, code, obs, ctx));
    if (outcome) outcomes.push(outcome);
  }
  return outcomes;
}

/** Rules matched by any code, each once, with the first code that matched it. */
function matchRules(set: MappingSet, trial: string, codes: readonly RuleCode[]): Array<{ rule: CompiledRule; code: RuleCode }> {
  const seen = new Set<string>();
  const out: Array<{ rule: CompiledRule; code: RuleCode }> = [];
  for (const code of codes) {
    for (const rule of set.rulesForCode(trial, code.loinc)) {
      if (seen.has(rule.id)) continue;
      seen.add(rule.id);
      out.push({ rule, code });
    }
  }
  return out;
}

/** A PHI-free description when the codes belong to more than one analyte group, else null. */
function ambiguity(set: MappingSet, codes: readonly RuleCode[]): string | null {
  const groups = new Map<string, string[]>();
  for (const c of codes) {
    const g = set.analyteOfCode(c.loinc);
    if (!g) continue;
    const label = c.localCode ? `${c.localCode} (site code map: LOINC ${c.loinc})` : `LOINC ${c.loinc}`;
    groups.set(g.id, [...(groups.get(g.id) ?? []), label]);
  }
  if (groups.size < 2) return null;
  const parts = [...groups].map(([id, labels]) => `${id}: ${labels.join(', ')}`);
  return `Observation.code has codings of ${groups.size} analyte groups (${parts.join('; ')}); the value can only be one of them`;
}

/** A rule whose expression throws at run time becomes a review, not a crashed job. */
function guarded(rule: CompiledRule, fn: () => MapOutcome | null): MapOutcome | null {
  try {
    return fn();
  } catch (err) {
    return review(rule.trial, rule.id, 'unexpected-value-type', `rule ${rule.source} failed to evaluate: ${(err as Error).message?.split('\n')[0] ?? 'error'}`);
  }
}

function applyRule(rule: CompiledRule, code: RuleCode, obs: ObservationLike, ctx: MapContext): MapOutcome | null {
  const rv = (reason: ReviewReason, detail: string) => review(rule.trial, rule.id, reason, detail);
  if (rule.where && !isTrue(rule.where.evaluate(obs))) return null;
  if (obs.dataAbsentReason !== undefined) return rv('missing-value', 'Observation.dataAbsentReason is present');
  const values = rule.value.evaluate(obs);
  if (values.length === 0) return rv('missing-value', `${rule.value.source} is empty`);
  if (values.length > 1) return rv('unexpected-value-type', `${rule.value.source} returned ${values.length} items`);
  const effective = effectiveTime(rule, obs, ctx);
  if (!effective) return rv('missing-effective-time', 'no effective[x] or issued on the Observation and no fallback from a DiagnosticReport');
  const mapped = rule.analyte.valueType === 'quantity' ? quantityValue(values[0], rule, code.loinc) : codedValue(values[0], rule);
  if (!mapped.ok) return rv(mapped.reason, mapped.detail);
  return {
    kind: 'value', trial: rule.trial, form: rule.form, item: rule.item, value: mapped.value, unit: rule.unit,
    originalValue: mapped.original, originalUnit: mapped.originalUnit, effective, ruleId: rule.id, code: code.loinc, localCode: code.localCode,
  };
}

type Mapped = { ok: true; value: number | string; original: number | string; originalUnit: string | null } | { ok: false; reason: ReviewReason; detail: string };

function quantityValue(v: TypedResult, rule: CompiledRule, code: string): Mapped {
  if (!isQuantityType(v.type)) return { ok: false, reason: 'unexpected-value-type', detail: `value is a ${v.type}, the rule needs a Quantity` };
  return mapQuantity(v.value as QuantityJson, rule, code);
}

/** Quantity and its profiles (SimpleQuantity, Age, Duration, ...) share Quantity's elements. */
function isQuantityType(type: string): boolean {
  return ['Quantity', 'SimpleQuantity', 'Age', 'Count', 'Distance', 'Duration', 'MoneyQuantity'].includes(type);
}

function codedValue(v: TypedResult, rule: CompiledRule): Mapped {
  if (v.type === 'CodeableConcept') {
    const cc = v.value as { coding?: Array<{ system?: string; code?: string }>; text?: string };
    const hits = (Array.isArray(cc.coding) ? cc.coding : []).map((c) => ({ key: `${c?.system}|${c?.code}`, value: rule.codeMap.get(`${c?.system}|${c?.code}`) })).filter((h) => h.value);
    const distinct = new Set(hits.map((h) => h.value));
    if (distinct.size > 1) return { ok: false, reason: 'unexpected-value-type', detail: 'valueCodeableConcept codings map to different CRF codes' };
    if (hits.length) return { ok: true, value: hits[0].value as string, original: hits[0].key, originalUnit: null };
    const byText = typeof cc.text === 'string' ? rule.textMap.get(cc.text.trim().toLowerCase()) : undefined;
    if (byText) return { ok: true, value: byText, original: cc.text as string, originalUnit: null };
    return { ok: false, reason: 'unexpected-value-type', detail: `no coding or text of valueCodeableConcept is in the codeMap/textMap of ${rule.id}` };
  }
  if (v.type === 'string') {
    const mapped = rule.textMap.get(String(v.value).trim().toLowerCase());
    if (mapped) return { ok: true, value: mapped, original: String(v.value), originalUnit: null };
    return { ok: false, reason: 'unexpected-value-type', detail: `valueString is not in the textMap of ${rule.id}` };
  }
  return { ok: false, reason: 'unexpected-value-type', detail: `value is a ${v.type}, the rule needs a CodeableConcept or string` };
}

/** effectiveDateTime | effectivePeriod.start | effectiveInstant | issued (rule order), else the caller's fallback. */
function effectiveTime(rule: CompiledRule, obs: ObservationLike, ctx: MapContext): string | null {
  for (const expr of rule.effective) {
    const first = expr.evaluate(obs).find((r) => typeof r.value === 'string' && r.value.trim() !== '');
    if (first) return first.value as string;
  }
  return ctx.fallbackEffective?.trim() ? ctx.fallbackEffective : null;
}

function isTrue(results: TypedResult[]): boolean {
  return results.length === 1 && results[0].value === true;
}

function review(trial: string, ruleId: string | null, reason: ReviewReason, detail: string): ReviewNeeded {
  return { kind: 'review', trial, ruleId, reason, detail };
}
