/**
 * loadMappings: read every mapping file, validate it against the JSON schema, compile
 * every FHIRPath once, check cross-references and units, and either return the immutable
 * rule set or throw ONE MappingLoadError listing every problem (design.md habits 1-2).
 *
 * Files read: `<dir>/*.json` and `<dir>/crf/*.json`, dispatched by their `kind`. The schema
 * is the one shipped with the code (mappings/schema/rules.schema.json under the repo
 * root): it describes what this code understands, whichever directory is validated.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseJsonFiles, type ParsedFile } from '../util/load-problems';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { compileAnalytes, type AnalyteSource } from './compile-analytes';
import { compileCrfFile, ExpressionCache, type RuleContext } from './compile-rules';
import { RuleSet } from './mapping-set';
import { MappingLoadError, ProblemSink, ptr } from './problems';
import type { AnalyteInfo, AnalyteJson, AnalytesFileJson, CompiledRule, CrfFileJson, MappingSet } from './rule-types';
import { REPO_ROOT } from './paths';

export const SCHEMA_PATH = path.join(REPO_ROOT, 'mappings', 'schema', 'rules.schema.json');


/** Loads and compiles the mapping files under `dir`; throws MappingLoadError listing all problems. */
export function loadMappings(dir: string): MappingSet {
  const sink = new ProblemSink();
  const files = readFiles(dir, sink);
  const validators = schemaValidators(sink);
  const analyteSources: AnalyteSource[] = [];
  const brokenAnalytes = new Set<string>();
  const crfFiles: Array<{ parsed: ParsedFile; json: CrfFileJson; skip: Set<number> }> = [];
  for (const parsed of files) {
    const kind = (parsed.json as { kind?: unknown } | null)?.kind;
    if (kind !== 'analytes' && kind !== 'crf') {
      parsed.report('/kind', `'kind' must be "analytes" or "crf"`);
      continue;
    }
    if (!validators) continue;
    const bad = schemaErrors(validators[kind], parsed, kind === 'analytes' ? 'analytes' : 'rules');
    if (bad === 'file') continue;
    if (kind === 'analytes') {
      (parsed.json as AnalytesFileJson).analytes.forEach((a, i) => {
        if (bad.has(i)) brokenAnalytes.add(String((a as { id?: unknown }).id));
        else analyteSources.push({ json: a, file: parsed.file, pointer: ptr('analytes', i), report: parsed.report });
      });
    } else {
      crfFiles.push({ parsed, json: parsed.json as CrfFileJson, skip: bad });
    }
  }
  const analytes = compileAnalytes(analyteSources);
  const ctx: RuleContext = { analytes, brokenAnalytes, expressions: new ExpressionCache(), ruleIds: new Map() };
  const trials = new Map<string, string>();
  const rules: CompiledRule[] = [];
  for (const { parsed, json, skip } of crfFiles) {
    const expected = path.basename(parsed.file, '.json');
    if (json.trial !== expected) parsed.report('/trial', `trial '${json.trial}' must match the file name '${expected}.json'`);
    if (trials.has(json.trial)) parsed.report('/trial', `trial '${json.trial}' is already defined in ${trials.get(json.trial)}`);
    else trials.set(json.trial, parsed.file);
    rules.push(...compileCrfFile(json, parsed.file, skip, ctx, parsed.report));
  }
  if (files.length > 0 && crfFiles.length === 0 && sink.problems.length === 0) sink.add('crf', '', 'no CRF rule file (crf/<TRIAL>.json) found');
  if (sink.problems.length > 0) {
    // Stable sort: grouped by file, in check order within a file.
    throw new MappingLoadError(dir, [...sink.problems].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)));
  }
  return new RuleSet(rules, analyteSources.map(({ json }) => analyteInfo(json)));
}

/** The catalogue entry of one schema-valid analyte group. */
function analyteInfo(json: AnalyteJson): AnalyteInfo {
  return { id: json.id, name: json.name, valueType: json.valueType, codes: json.codes.map((c) => ({ code: c.code, name: c.name, unit: c.unit ?? null })) };
}

/** Parses `<dir>/*.json` and `<dir>/crf/*.json` in a stable order; reports unreadable files. */
function readFiles(dir: string, sink: ProblemSink): ParsedFile[] {
  if (!fs.existsSync(dir)) {
    sink.add('.', '', `mappings directory ${dir} does not exist`);
    return [];
  }
  const names: string[] = [];
  for (const sub of ['', 'crf']) {
    const full = path.join(dir, sub);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(full, { withFileTypes: true });
    } catch (err) {
      sink.add(sub, '', `cannot read directory ${full}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      continue;
    }
    for (const e of entries) if (e.isFile() && e.name.endsWith('.json')) names.push(sub ? `${sub}/${e.name}` : e.name);
  }
  return parseJsonFiles(dir, names, sink);
}

type Validators = Record<'analytes' | 'crf', ValidateFunction>;

function schemaValidators(sink: ProblemSink): Validators | null {
  try {
    const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
    ajv.addSchema(JSON.parse(fs.readFileSync(SCHEMA_PATH, 'utf8')), 'rules');
    return {
      analytes: ajv.getSchema('rules#/definitions/analytesFile') as ValidateFunction,
      crf: ajv.getSchema('rules#/definitions/crfFile') as ValidateFunction,
    };
  } catch (err) {
    sink.add(path.relative(REPO_ROOT, SCHEMA_PATH), '', `schema cannot be compiled: ${(err as Error).message}`);
    return null;
  }
}

/**
 * Reports every schema error. Returns 'file' when the file as a whole is unusable, else
 * the indices of `listKey` entries (analytes or rules) that failed and must be skipped.
 */
function schemaErrors(validate: ValidateFunction, parsed: ParsedFile, listKey: string): 'file' | Set<number> {
  if (validate(parsed.json)) return new Set();
  const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'if');
  const items = new Set<number>();
  let fileLevel = false;
  for (const e of errors) {
    parsed.report(e.instancePath, describe(e));
    const m = new RegExp(`^/${listKey}/(\\d+)(/|$)`).exec(e.instancePath);
    if (m) items.add(Number(m[1]));
    else fileLevel = true;
  }
  return fileLevel ? 'file' : items;
}

/** ajv's message plus the detail it keeps in params (which property, which values). */
function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperty' || e.keyword === 'additionalProperties') return `unknown property '${String(p.additionalProperty)}'`;
  if (e.keyword === 'enum') return `${e.message}: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'const') return `must be ${JSON.stringify(p.allowedValue)}`;
  return `schema: ${e.message ?? e.keyword}`;
}
