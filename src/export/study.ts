/**
 * The study definition of an export, built only from the trial file and the CRF
 * file (mappings/trials, mappings/crf): nothing about the study is written by hand
 * in an export, so a change to the trial or its CRF reaches every format.
 */
import type { CompiledRule, MappingSet } from '../mapping';
import type { Trial } from '../protocol/trials';
import type { ExportCode, ExportForm, ExportItem, ExportStudy, ExportVisit } from './model';

/** The event of values outside every window (SDTM VISITNUM 99 by the usual convention for unplanned visits). */
export const UNSCHEDULED: ExportVisit = Object.freeze({ code: 'UNS', label: 'Unscheduled', number: 99, kind: 'unscheduled', targetDay: null, window: null, arms: null });

const FORM_LABELS: Readonly<Record<string, string>> = { LB: 'Laboratory', VS: 'Vital signs', EX: 'Exposure' };

/** Decodes of the CRF codes the shipped CRF files use (clinical-reference §2 [K]); any other code decodes as itself. */
const CODE_DECODES: Readonly<Record<string, string>> = { POS: 'Positive', NEG: 'Negative' };

/** The study as an export describes it: arms, visits in schedule order (then UNS), forms and items in CRF file order. */
export function buildStudy(trial: Trial, mappings: MappingSet): ExportStudy {
  const visits: ExportVisit[] = trial.visits.map((v, i) =>
    v.kind === 'screening'
      ? { code: v.code, label: 'Screening', number: i + 1, kind: 'screening', targetDay: null, window: null, arms: null }
      : { code: v.code, label: `Week ${v.week}`, number: i + 1, kind: 'week', targetDay: v.targetDay, window: { ...v.window }, arms: v.arms ? [...v.arms] : null },
  );
  const blinded = trial.arms.some((a) => a.doses.some((d) => d.product !== 'active'));
  return {
    trial: trial.key,
    registryId: trial.registryId,
    title: trial.title,
    summary: trial.summary,
    arms: trial.arms.map((a) => ({ id: a.id, label: a.label })),
    visits: [...visits, UNSCHEDULED],
    forms: formsOf(mappings.rulesFor(trial.key), mappings),
    // MSC and placebo share one medication code, so a blinded trial's exposure names both (clinical-reference §0 Blinding).
    treatment: blinded ? { name: 'UC-MSC OR PLACEBO', blinded: true } : { name: 'UC-MSC', blinded: false },
    values: trial.export.values,
  };
}

function formsOf(rules: readonly CompiledRule[], mappings: MappingSet): ExportForm[] {
  const byForm = new Map<string, ExportItem[]>();
  for (const r of rules) {
    let items = byForm.get(r.form);
    if (!items) byForm.set(r.form, (items = []));
    // One item per (form, item): a second rule for the same item only adds sources.
    if (!items.some((i) => i.item === r.item)) items.push(itemOf(r, mappings));
  }
  return [...byForm].map(([form, items]) => ({ form, label: FORM_LABELS[form] ?? form, items }));
}

function itemOf(r: CompiledRule, mappings: MappingSet): ExportItem {
  const info = mappings.analytes.find((a) => a.id === r.analyte.id);
  const coded = r.analyte.valueType === 'coded';
  return {
    form: r.form,
    item: r.item,
    analyte: r.analyte.id,
    label: info?.name ?? r.item,
    dataType: coded ? 'text' : r.decimals > 0 ? 'float' : 'integer',
    decimals: coded ? 0 : r.decimals,
    unit: coded ? null : r.unit,
    loinc: (info?.codes ?? r.analyte.codes.map((code) => ({ code, name: code }))).map((c) => ({ code: c.code, name: c.name })),
    codeList: coded ? codeListOf(r) : null,
  };
}

function codeListOf(r: CompiledRule): ExportCode[] {
  const codes = new Set([...r.codeMap.values(), ...r.textMap.values()]);
  return [...codes].sort().map((code) => ({ code, decode: CODE_DECODES[code] ?? code }));
}
