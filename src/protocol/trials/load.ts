/**
 * loadTrials: read every trial file, validate it against the JSON schema, cross-check
 * ids, weeks and stages, and either return the immutable TrialSet or throw ONE
 * TrialLoadError listing every problem as {file, pointer, message} (design.md habits
 * 1-2; same style as src/mapping/load.ts).
 *
 * Files read: `<dir>/*.json` except `*.schema.json`. The schema is the one shipped with
 * the code (TRIAL_SCHEMA_PATH), whichever directory is validated.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseJsonFiles, type ParsedFile } from '../../util/load-problems';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { buildTrial } from './build';
import { DEFAULT_TRIALS_DIR, TRIAL_SCHEMA_PATH } from './defaults';
import type { TrialFileJson } from './json';
import { ProblemSink, TrialLoadError, type TrialLoadProblem } from './problems';
import { LoadedTrialSet } from './trial-set';
import type { Trial, TrialSet } from './types';


/** Loads the trial definitions under `dir`; throws TrialLoadError listing all problems. */
export function loadTrials(dir: string = DEFAULT_TRIALS_DIR): TrialSet {
  const { trials, problems } = readTrials(dir);
  if (problems.length > 0) throw new TrialLoadError(dir, problems);
  return new LoadedTrialSet(trials);
}

/**
 * Every trial definition under `dir` that built without a problem, and every problem
 * (grouped by file). For loaders that go on checking the good files against others
 * (the trial package check) before failing once.
 */
export function readTrials(dir: string = DEFAULT_TRIALS_DIR): { readonly trials: readonly Trial[]; readonly problems: readonly TrialLoadProblem[] } {
  const sink = new ProblemSink();
  const files = readFiles(dir, sink);
  const validate = schemaValidator(sink);
  const trials: Trial[] = [];
  const owners = new Map<string, string>();
  for (const parsed of validate ? files : []) {
    if (!schemaValid(validate!, parsed)) continue;
    const before = sink.problems.length;
    const json = parsed.json as TrialFileJson;
    const expected = path.basename(parsed.file, '.json');
    if (json.key !== expected) parsed.report('/key', `key '${json.key}' must match the file name '${expected}.json'`);
    const owner = owners.get(json.key);
    if (owner) parsed.report('/key', `trial '${json.key}' is already defined in ${owner}`);
    else owners.set(json.key, parsed.file);
    const trial = buildTrial(json, parsed.file, parsed.report);
    if (sink.problems.length === before) trials.push(trial);
  }
  if (files.length === 0 && sink.problems.length === 0) sink.add('.', '', 'no trial definition (<key>.json) found');
  return { trials, problems: sink.sorted() };
}

/**
 * Validates and builds one trial definition held in memory (tests, the CLI checking a
 * single file). Throws TrialLoadError listing all problems.
 */
export function trialFromJson(json: unknown, file = '<memory>'): Trial {
  const sink = new ProblemSink();
  const validate = schemaValidator(sink);
  const parsed: ParsedFile = { file, json, report: sink.forFile(file) };
  const trial = validate && schemaValid(validate, parsed) ? buildTrial(json as TrialFileJson, file, parsed.report) : null;
  if (!trial || sink.problems.length > 0) throw new TrialLoadError(file, sink.sorted());
  return trial;
}

/** Parses `<dir>/*.json` (schemas excluded) in a stable order; reports unreadable files. */
function readFiles(dir: string, sink: ProblemSink): ParsedFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.json') && !e.name.endsWith('.schema.json')).map((e) => e.name);
  } catch (err) {
    sink.add('.', '', `cannot read trials directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return [];
  }
  return parseJsonFiles(dir, names, sink);
}

let cachedValidator: ValidateFunction | null = null;

/** The compiled schema (compiled once per process: the schema ships with the code). */
function schemaValidator(sink: ProblemSink): ValidateFunction | null {
  if (cachedValidator) return cachedValidator;
  try {
    const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, discriminator: true });
    ajv.addSchema(JSON.parse(fs.readFileSync(TRIAL_SCHEMA_PATH, 'utf8')), 'trial');
    cachedValidator = ajv.getSchema('trial#/definitions/trialFile') as ValidateFunction;
    return cachedValidator;
  } catch (err) {
    sink.add(path.basename(TRIAL_SCHEMA_PATH), '', `schema cannot be compiled: ${(err as Error).message}`);
    return null;
  }
}

/** Reports every schema error; a file with any is not built (the builder trusts the shape). */
function schemaValid(validate: ValidateFunction, parsed: ParsedFile): boolean {
  if (validate(parsed.json)) return true;
  for (const e of validate.errors ?? []) parsed.report(e.instancePath, describe(e));
  return false;
}

/** ajv's message plus the detail it keeps in params (which property, which values). */
function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown property '${String(p.additionalProperty)}'`;
    case 'enum':
      return `${e.message}: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'discriminator':
      return `'${String(p.tag)}' ${p.tagValue === undefined ? 'is missing' : `${JSON.stringify(p.tagValue)} is not a known ${String(p.tag)}`}`;
    default:
      return `schema: ${e.message ?? e.keyword}`;
  }
}
