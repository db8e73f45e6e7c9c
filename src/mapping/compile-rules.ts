/**
 * Checks and compiles one trial's CRF rule file (mappings/crf/<TRIAL>.json): defaults
 * applied, every FHIRPath compiled once (shared cache across files), analyte references,
 * UCUM validity and commensurability of every CRF unit with every code of its group.
 */
import { compileExpression, probeExpression, type CompiledExpression } from './fhirpath-engine';
import { ptr, type Report } from './problems';
import type { CompiledAnalyte, CompiledRule, CrfFileJson, RuleJson } from './rule-types';
import { commensurable, ucumProblem } from './units';

/** A resource every shipped expression can run on, to surface run-time-only FHIRPath errors. */
const PROBE_OBSERVATION = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '1975-2' }] },
  effectiveDateTime: '2024-01-01T00:00:00Z',
  issued: '2024-01-01T00:00:00Z',
  valueQuantity: { value: 1, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
};

/** Compiles each distinct expression string once, however many rules share it. */
export class ExpressionCache {
  private readonly cache = new Map<string, CompiledExpression | string>();

  /** The compiled expression, or reports why not and returns null. */
  get(source: string, resourceType: string, report: Report, pointer: string): CompiledExpression | null {
    const root = /^\s*([A-Z][A-Za-z]+)\s*\./.exec(source)?.[1];
    if (root && root !== resourceType) {
      report(pointer, `expression starts at ${root} but the rule applies to ${resourceType}`);
      return null;
    }
    let entry = this.cache.get(source);
    if (entry === undefined) {
      const res = compileExpression(source);
      entry = res.ok ? probeExpression(res.expression, PROBE_OBSERVATION) ?? res.expression : res.message;
      this.cache.set(source, entry);
    }
    if (typeof entry === 'string') {
      report(pointer, entry);
      return null;
    }
    return entry;
  }
}

/** State shared by all CRF files of one load: ids must be unique across files. */
export interface RuleContext {
  readonly analytes: ReadonlyMap<string, CompiledAnalyte>;
  /** Analyte ids that exist but failed the schema: referenced silently, not re-reported. */
  readonly brokenAnalytes: ReadonlySet<string>;
  readonly expressions: ExpressionCache;
  readonly ruleIds: Map<string, string>;
}

interface Expressions {
  readonly value: CompiledExpression | null;
  readonly effective: ReadonlyArray<CompiledExpression | null>;
  readonly where: CompiledExpression | null;
}

/**
 * Compiles the rules of one schema-valid CRF file. `skipRules` holds indices that failed
 * the schema (already reported). Returns only the rules that compiled without problems.
 */
export function compileCrfFile(json: CrfFileJson, file: string, skipRules: ReadonlySet<number>, ctx: RuleContext, report: Report): CompiledRule[] {
  const d = json.defaults;
  const compile = (src: string, pointer: string) => ctx.expressions.get(src, d.resourceType, report, pointer);
  const defaults: Expressions = {
    value: compile(d.value, '/defaults/value'),
    effective: d.effective.map((e, i) => compile(e, ptr('defaults', 'effective', i))),
    where: d.where === undefined ? null : compile(d.where, '/defaults/where'),
  };
  const items = new Map<string, string>();
  const rules: CompiledRule[] = [];
  json.rules.forEach((rule, i) => {
    if (skipRules.has(i)) return;
    const base = ptr('rules', i);
    let problems = 0;
    const counted: Report = (p, m) => {
      problems++;
      report(p, m);
    };
    const firstId = ctx.ruleIds.get(rule.id);
    if (firstId) counted(`${base}/id`, `duplicate rule id '${rule.id}' (first at ${firstId})`);
    else ctx.ruleIds.set(rule.id, `${file}#${base}`);
    const itemKey = `${rule.form}.${rule.item}`;
    if (items.has(itemKey)) counted(`${base}/item`, `CRF item ${itemKey} is already filled by rule at ${items.get(itemKey)}`);
    else items.set(itemKey, base);
    const exprs: Expressions = {
      value: rule.value === undefined ? defaults.value : compile(rule.value, `${base}/value`),
      effective: rule.effective === undefined ? defaults.effective : rule.effective.map((e, k) => compile(e, ptr('rules', i, 'effective', k))),
      where: rule.where === undefined ? defaults.where : compile(rule.where, `${base}/where`),
    };
    const analyte = ctx.analytes.get(rule.analyte);
    if (!analyte) {
      if (!ctx.brokenAnalytes.has(rule.analyte)) {
        counted(`${base}/analyte`, `unknown analyte '${rule.analyte}' (known: ${[...ctx.analytes.keys()].sort().join(', ')})`);
      }
      return;
    }
    if (analyte.valueType === 'quantity') checkQuantityRule(rule, analyte, base, counted);
    else checkCodedRule(rule, base, counted);
    const effective = exprs.effective.filter((e): e is CompiledExpression => e !== null);
    const whereOk = exprs.where !== null || (rule.where ?? d.where) === undefined;
    if (problems > 0 || !exprs.value || effective.length !== exprs.effective.length || !whereOk) return;
    rules.push({
      id: rule.id,
      trial: json.trial,
      form: rule.form,
      item: rule.item,
      resourceType: d.resourceType,
      analyte,
      unit: rule.unit ?? null,
      decimals: rule.decimals ?? 0,
      onMissingUnit: rule.onMissingUnit ?? d.onMissingUnit,
      codeMap: new Map((rule.codeMap ?? []).map((c) => [`${c.system}|${c.code}`, c.value])),
      textMap: new Map(Object.entries(rule.textMap ?? {}).map(([k, v]) => [k.trim().toLowerCase(), v])),
      value: exprs.value,
      effective,
      where: exprs.where,
      source: `${file}#${base}`,
    });
  });
  return rules;
}

function checkQuantityRule(rule: RuleJson, analyte: CompiledAnalyte, base: string, report: Report): void {
  if (rule.codeMap || rule.textMap) report(base, `codeMap/textMap are for coded analytes; ${analyte.id} is a quantity`);
  if (rule.decimals === undefined) report(base, `quantity item ${rule.item} needs 'decimals' (stored precision)`);
  if (rule.unit === undefined) {
    report(base, `quantity item ${rule.item} needs a CRF 'unit' (UCUM)`);
    return;
  }
  const bad = ucumProblem(rule.unit);
  if (bad) {
    report(`${base}/unit`, `'${rule.unit}' is not valid UCUM: ${bad}`);
    return;
  }
  for (const [code, unit] of analyte.usualUnits) {
    if (!commensurable(unit, rule.unit, analyte.molecularWeight)) {
      const hint = analyte.molecularWeight === undefined ? ' (no molarConversion in the analyte)' : '';
      report(`${base}/unit`, `CRF unit '${rule.unit}' cannot be reached from LOINC ${code} in '${unit}'${hint}`);
    }
  }
  if ((rule.onMissingUnit ?? 'review') === 'assume' && analyte.impliedUnits.size === 0) {
    report(`${base}/onMissingUnit`, `'assume' needs an impliedUnit on at least one code of analyte ${analyte.id}`);
  }
}

function checkCodedRule(rule: RuleJson, base: string, report: Report): void {
  if (rule.unit !== undefined) report(`${base}/unit`, `coded item ${rule.item} has no unit`);
  if (rule.decimals !== undefined) report(`${base}/decimals`, `coded item ${rule.item} has no decimals`);
  if (rule.onMissingUnit === 'assume') report(`${base}/onMissingUnit`, `coded item ${rule.item} has no unit to assume`);
  if (!rule.codeMap && !rule.textMap) report(base, `coded item ${rule.item} needs a codeMap and/or textMap`);
}
