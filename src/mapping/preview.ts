/**
 * A dry run of the mapping rules over a sample of a new site's data (`trialbridge
 * preview`): per trial and CRF item, how many values the rules would produce, from which
 * codes and units and with which conversion; the review reasons; and the codes no trial
 * maps, most frequent first, with the analyte their display text or unit suggests.
 * Pure. The report carries codes, units, counts and review details (which name elements,
 * units and codes, never values), no ids, values, dates or patients (design.md habit 9).
 */
import type { Resource } from '@medplum/fhirtypes';
import { isProtocolObservation } from './codes';
import { mapResource } from './map-resource';
import { LOINC_SYSTEM, type CompiledRule, type MappingSet } from './rule-types';
import { suggestAnalyte, type Suggestion } from './suggest';
import type { MapOutcome, MappedValue, ReviewNeeded } from './types';
import { convert, normaliseUnitText } from './units';
import { unmappedCodings } from './unmapped';

/** One resource of the sample, with the effective time a DiagnosticReport of its Bundle lends it. */
export interface PreviewItem {
  readonly resource: Resource;
  readonly fallbackEffective?: string;
}

/** Where an item's values came from: code, site code map entry, source unit, and how it converts. */
export interface PreviewSource {
  readonly code: string;
  readonly localCode: string | null;
  readonly unit: string | null;
  readonly count: number;
  /** One source unit in the CRF unit (e.g. 17.1 for mg/dL to umol/L bilirubin); null for coded items or affine units. */
  readonly factor: number | null;
}

export interface PreviewReviews {
  readonly reason: string;
  readonly count: number;
  /** The first detail seen (element, unit, code; never a value). */
  readonly example: string;
}

export interface PreviewCrfItem {
  readonly form: string;
  readonly item: string;
  readonly unit: string | null;
  readonly values: number;
  readonly sources: readonly PreviewSource[];
  readonly reviews: readonly PreviewReviews[];
}

export interface PreviewTrial {
  readonly trial: string;
  readonly items: readonly PreviewCrfItem[];
  /** Reviews that name no CRF item (an Observation with codings of two analyte groups). */
  readonly reviews: readonly PreviewReviews[];
}

export interface PreviewUnmapped {
  readonly system: string;
  readonly code: string;
  readonly display: string | null;
  readonly units: readonly string[];
  readonly count: number;
  readonly suggestion: Suggestion | null;
}

export interface PreviewReport {
  readonly site: string;
  readonly resources: Readonly<Record<string, number>>;
  readonly observations: { readonly total: number; readonly toCrf: number; readonly toReview: number; readonly protocol: number; readonly unmapped: number; readonly otherTrialsOnly: number };
  readonly trials: readonly PreviewTrial[];
  readonly unmapped: readonly PreviewUnmapped[];
}

interface ItemAcc {
  values: number;
  sources: Map<string, { code: string; localCode: string | null; unit: string | null; count: number }>;
  reviews: Map<string, { count: number; example: string }>;
}

/** Runs every rule of `trials` over the sample and summarises it. */
export function buildPreview(set: MappingSet, site: string, items: readonly PreviewItem[], trials: readonly string[] = set.trials): PreviewReport {
  const resources: Record<string, number> = {};
  const obs = { total: 0, toCrf: 0, toReview: 0, protocol: 0, unmapped: 0, otherTrialsOnly: 0 };
  const perTrial = new Map(trials.map((t) => [t, { items: new Map<string, ItemAcc>(), reviews: new Map<string, { count: number; example: string }>() }] as const));
  const unmapped = new Map<string, { system: string; code: string; display: string | null; units: Map<string, number>; count: number }>();
  for (const { resource, fallbackEffective } of items) {
    resources[resource.resourceType] = (resources[resource.resourceType] ?? 0) + 1;
    if (resource.resourceType !== 'Observation') continue;
    obs.total++;
    if (isProtocolObservation(resource as never)) {
      obs.protocol++;
      continue;
    }
    const codings = unmappedCodings(set, resource, site);
    if (codings) {
      obs.unmapped++;
      for (const c of codings) countUnmapped(unmapped, c);
      continue;
    }
    let values = 0;
    let reviews = 0;
    for (const trial of trials) {
      for (const o of mapResource(set, trial, resource, { fallbackEffective, site })) {
        if (o.kind === 'value') values++;
        else reviews++;
        record(perTrial.get(trial)!, o);
      }
    }
    if (values) obs.toCrf++;
    else if (reviews) obs.toReview++;
    else obs.otherTrialsOnly++;
  }
  return {
    site,
    resources,
    observations: obs,
    trials: trials.map((trial) => trialSummary(set, trial, perTrial.get(trial)!)),
    unmapped: [...unmapped.values()]
      .sort((a, b) => b.count - a.count || a.system.localeCompare(b.system) || a.code.localeCompare(b.code))
      .map((u) => {
        const units = [...u.units].sort((a, b) => b[1] - a[1]).map(([unit]) => unit);
        // Only local codes get suggestions: an unmapped LOINC code is another test by definition (the groups
        // list their LOINC codes), and LOINC needs no site code map.
        const suggestion = u.system === LOINC_SYSTEM ? null : suggestAnalyte(set, u.display, units[0] ?? null);
        return { system: u.system, code: u.code, display: u.display, units, count: u.count, suggestion };
      }),
  };
}

function countUnmapped(acc: Map<string, { system: string; code: string; display: string | null; units: Map<string, number>; count: number }>, c: { system: string; code: string; display: string | null; unit: string | null }): void {
  const key = `${c.system}|${c.code}|${c.system || c.code ? '' : c.display ?? ''}`;
  const u = acc.get(key) ?? acc.set(key, { system: c.system, code: c.code, display: c.display, units: new Map(), count: 0 }).get(key)!;
  u.count++;
  u.display ??= c.display;
  if (c.unit) u.units.set(c.unit, (u.units.get(c.unit) ?? 0) + 1);
}

function record(acc: { items: Map<string, ItemAcc>; reviews: Map<string, { count: number; example: string }> }, o: MapOutcome): void {
  if (!o.ruleId) {
    if (o.kind === 'review') addReview(acc.reviews, o);
    return;
  }
  const ruleId = o.ruleId;
  const item = acc.items.get(ruleId) ?? acc.items.set(ruleId, { values: 0, sources: new Map(), reviews: new Map() }).get(ruleId)!;
  if (o.kind === 'review') {
    addReview(item.reviews, o);
    return;
  }
  item.values++;
  const v = o as MappedValue;
  const key = JSON.stringify([v.code, v.localCode, v.originalUnit]);
  const s = item.sources.get(key) ?? item.sources.set(key, { code: v.code, localCode: v.localCode, unit: v.originalUnit, count: 0 }).get(key)!;
  s.count++;
}

function addReview(m: Map<string, { count: number; example: string }>, r: ReviewNeeded): void {
  const e = m.get(r.reason);
  if (e) e.count++;
  else m.set(r.reason, { count: 1, example: r.detail });
}

function reviewList(m: ReadonlyMap<string, { count: number; example: string }>): PreviewReviews[] {
  return [...m].map(([reason, x]) => ({ reason, ...x })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}

function trialSummary(set: MappingSet, trial: string, acc: { items: Map<string, ItemAcc>; reviews: Map<string, { count: number; example: string }> }): PreviewTrial {
  const items = set
    .rulesFor(trial)
    .filter((rule) => acc.items.has(rule.id))
    .map((rule) => {
      const a = acc.items.get(rule.id)!;
      const sources = [...a.sources.values()].sort((x, y) => y.count - x.count).map((s) => ({ ...s, factor: factor(rule, s.unit) }));
      return { form: rule.form, item: rule.item, unit: rule.unit, values: a.values, sources, reviews: reviewList(a.reviews) };
    });
  return { trial, items, reviews: reviewList(acc.reviews) };
}

/** One source unit in the rule's CRF unit, through the same converter and aliases as the mapping (quantity.ts). */
function factor(rule: CompiledRule, unit: string | null): number | null {
  if (!rule.unit || !unit) return null;
  const normalised = normaliseUnitText(unit);
  const from = rule.analyte.unitAliases.get(normalised) ?? normalised;
  const one = convert(1, from, rule.unit, rule.analyte.molecularWeight);
  const zero = convert(0, from, rule.unit, rule.analyte.molecularWeight);
  // An offset (affine) conversion has no single factor.
  return one.ok && zero.ok && Math.abs(zero.value) < 1e-12 ? Number(one.value.toPrecision(6)) : null;
}
