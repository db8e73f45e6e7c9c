/**
 * Checks and compiles analyte groups (mappings/analytes.json): duplicate ids and codes,
 * every unit valid UCUM and consistent with the property the LOINC code fixes, and the
 * mass<->molar factor turned into the molecular weight ucum-lhc needs.
 */
import { ptr, type Report } from './problems';
import type { AnalyteJson, CodeProperty, CompiledAnalyte } from './rule-types';
import { commensurable, molecularWeightFor, normaliseUnitText, ucumProblem } from './units';

/**
 * A unit any value of the property converts to; null where the property has no unit.
 * Arbitrary units ([IU]) get none: ucum-lhc refuses every conversion of an arbitrary unit,
 * even to itself, so only an identical unit string ever maps (units.ts convert) and there
 * is nothing to probe.
 */
const PROPERTY_PROBE: Readonly<Record<CodeProperty, string | null>> = {
  'mass-concentration': 'g/L',
  'substance-concentration': 'mol/L',
  'catalytic-concentration': 'U/L',
  'number-concentration': '/L',
  'arbitrary-concentration': null,
  time: 's',
  ratio: '1',
  percent: '%',
  mass: 'kg',
  presence: null,
};

/** One schema-valid analyte with where it came from. */
export interface AnalyteSource {
  readonly json: AnalyteJson;
  readonly file: string;
  readonly pointer: string;
  readonly report: Report;
}

/** Compiles every analyte, reporting problems; returns the analytes by id. */
export function compileAnalytes(sources: readonly AnalyteSource[]): Map<string, CompiledAnalyte> {
  const analytes = new Map<string, CompiledAnalyte>();
  const idOwner = new Map<string, string>();
  const codeOwner = new Map<string, string>();
  for (const { json, file, pointer, report } of sources) {
    const where = `${file}#${pointer}`;
    if (idOwner.has(json.id)) {
      report(`${pointer}/id`, `duplicate analyte id '${json.id}' (first defined at ${idOwner.get(json.id)})`);
      continue;
    }
    idOwner.set(json.id, where);
    json.codes.forEach((c, i) => {
      const owner = codeOwner.get(c.code);
      if (owner) report(`${pointer}${ptr('codes', i, 'code')}`, `LOINC ${c.code} is already in analyte ${owner}; a code may belong to one group only`);
      else codeOwner.set(c.code, json.id);
    });
    const molecularWeight = checkMolarConversion(json, pointer, report);
    checkCodes(json, pointer, report);
    const unitAliases = checkAliases(json, pointer, report, molecularWeight);
    analytes.set(json.id, {
      id: json.id,
      valueType: json.valueType,
      codes: json.codes.map((c) => c.code),
      usualUnits: new Map(json.codes.filter((c) => c.unit).map((c) => [c.code, c.unit as string])),
      impliedUnits: new Map(json.codes.filter((c) => c.impliedUnit).map((c) => [c.code, c.impliedUnit as string])),
      molecularWeight,
      unitAliases,
    });
  }
  return analytes;
}

function checkCodes(json: AnalyteJson, base: string, report: Report): void {
  json.codes.forEach((c, i) => {
    const at = (field: string) => `${base}${ptr('codes', i, field)}`;
    const probe = PROPERTY_PROBE[c.property];
    if ((json.valueType === 'coded') !== (c.property === 'presence')) {
      report(at('property'), `property '${c.property}' does not fit valueType '${json.valueType}' (coded analytes use 'presence')`);
      return;
    }
    if (c.property === 'presence') {
      if (c.unit || c.impliedUnit) report(at('unit'), `a '${c.property}' code has no unit`);
      return;
    }
    if (!c.unit) {
      report(at('unit'), `quantity code ${c.code} needs its usual UCUM unit (used to check CRF units)`);
      return;
    }
    const bad = ucumProblem(c.unit);
    if (bad) report(at('unit'), `'${c.unit}' is not valid UCUM: ${bad}`);
    else if (probe !== null && !commensurable(c.unit, probe)) report(at('unit'), `'${c.unit}' does not measure ${c.property}`);
    if (c.impliedUnit !== undefined) {
      const badImplied = ucumProblem(c.impliedUnit);
      if (badImplied) report(at('impliedUnit'), `'${c.impliedUnit}' is not valid UCUM: ${badImplied}`);
      else if (!bad && !commensurable(c.impliedUnit, c.unit)) {
        report(at('impliedUnit'), `'${c.impliedUnit}' is not the same property as the code's unit '${c.unit}'`);
      }
    }
  });
}

function checkMolarConversion(json: AnalyteJson, base: string, report: Report): number | undefined {
  const mc = json.molarConversion;
  if (!mc) return undefined;
  const at = `${base}/molarConversion`;
  let ok = true;
  for (const [field, probe, what] of [['massUnit', 'g/L', 'a mass concentration'], ['molarUnit', 'mol/L', 'a substance concentration']] as const) {
    const unit = mc[field];
    const bad = ucumProblem(unit);
    if (bad || !commensurable(unit, probe)) {
      report(`${at}/${field}`, bad ? `'${unit}' is not valid UCUM: ${bad}` : `'${unit}' is not ${what}`);
      ok = false;
    }
  }
  if (!ok) return undefined;
  const mw = molecularWeightFor(mc);
  if (typeof mw === 'string') {
    report(at, mw);
    return undefined;
  }
  return mw;
}

function checkAliases(json: AnalyteJson, base: string, report: Report, mw: number | undefined): Map<string, string> {
  const aliases = new Map<string, string>();
  const units = json.codes.map((c) => c.unit).filter((u): u is string => !!u && ucumProblem(u) === null);
  for (const [from, to] of Object.entries(json.unitAliases ?? {})) {
    const at = `${base}${ptr('unitAliases', from)}`;
    const normalised = normaliseUnitText(from);
    const bad = ucumProblem(to);
    if (normalised !== from) report(at, `alias key '${from}' never matches: feed units are normalised first, write it as '${normalised}'`);
    else if (bad) report(at, `alias target '${to}' is not valid UCUM: ${bad}`);
    else if (units.length && !units.some((u) => commensurable(to, u, mw))) report(at, `alias target '${to}' fits none of the analyte's units`);
    else aliases.set(from, to);
  }
  return aliases;
}
