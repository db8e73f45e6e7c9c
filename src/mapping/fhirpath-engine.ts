/**
 * The one FHIRPath engine of the mapping hot path: HL7's fhirpath.js, R4 model.
 *
 * Chosen by measurement (scripts/bench-fhirpath.ts, node 20.20, 2-vCPU container shared
 * with other jobs, so figures vary by ±40% between runs; every evaluation gets a fresh
 * Observation object, as in production where each resource is mapped once):
 *
 *   resources/s (range over 5 runs)                   fhirpath.js   @medplum/core   medplum + R4 defs
 *   A. where(...) rule (code filter + value)           11k-20k       24k-45k         35k-70k
 *   B. extraction (value + 4 effective[x] paths)       25k-38k        7k-11k         46k-85k
 *
 * The issue statement's ≈52k/s (fhirpath.js) vs ≈150k/s (medplum) were measured on ONE
 * object evaluated repeatedly; fhirpath.js caches per-object work, so that loop shows
 * 600k/s for `Observation.value` and is not representative.
 *
 * Why fhirpath.js although medplum wins workload A:
 *  - Workload B is what mapResource runs: codes are matched through a precomputed Map
 *    (mapping-set.ts), never by a where(...) per rule. On B fhirpath.js is 3x faster than
 *    plain medplum. Medplum beats it only after indexing the R4 StructureDefinitions into
 *    its process-wide registry (about 1 s at start-up and a global side effect, against
 *    design.md habit 8).
 *  - Either engine costs 10-100 µs per resource, next to milliseconds for the database
 *    upsert of the same resource, so speed does not decide; correctness does.
 *  - fhirpath.js is the HL7 reference implementation the stack mandates, and its parser
 *    is strict: medplum's parseFhirPath accepts `Observation.valu e` silently. Using the
 *    same engine to validate at load and to evaluate means the semantics checked are the
 *    semantics run.
 */
import { compile, resolveInternalTypes, types } from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

/** A value returned by an expression, with its FHIR type (e.g. 'Quantity', 'string'). */
export interface TypedResult {
  readonly type: string;
  readonly value: unknown;
}

/** An expression compiled once at load and evaluated per resource. */
export interface CompiledExpression {
  readonly source: string;
  /** Evaluates against a resource; may throw on a runtime error (unknown function). */
  evaluate(resource: unknown): TypedResult[];
}

/** For tests: the engine's own answer, bypassing the direct reading of the default paths. */
export function compileWithEngineOnly(source: string): CompiledExpression {
  return { source, evaluate: viaEngine(compile(source, r4, { resolveInternalTypes: false }) as (r: unknown) => unknown[]) };
}

function viaEngine(fn: (resource: unknown) => unknown[]): (resource: unknown) => TypedResult[] {
  return (resource) => {
    const nodes = fn(resource);
    const names = types(nodes);
    const values = resolveInternalTypes(nodes) as unknown[];
    return values.map((value, i) => ({ type: stripNamespace(names[i]), value }));
  };
}

export type CompileResult = { readonly ok: true; readonly expression: CompiledExpression } | { readonly ok: false; readonly message: string };

/** Compiles with the R4 model (needed for choice elements such as value[x], effective[x]). */
export function compileExpression(source: string): CompileResult {
  let fn: (resource: unknown) => unknown[];
  try {
    const compiled = compile(source, r4, { resolveInternalTypes: false });
    fn = (resource) => compiled(resource) as unknown[];
  } catch (err) {
    return { ok: false, message: `FHIRPath does not parse: ${firstLine(err)}` };
  }
  const engine = viaEngine(fn);
  const direct = DIRECT_PATHS.get(source);
  const expression: CompiledExpression = { source, evaluate: direct ? (resource) => direct(resource) ?? engine(resource) : engine };
  return { ok: true, expression };
}

type DirectPath = (resource: unknown) => TypedResult[] | undefined;

/** Observation.value[x] in the R4 order of its choice types, with the type names fhirpath.js gives. */
const VALUE_TYPES: readonly (readonly [string, string])[] = [
  ['valueQuantity', 'Quantity'], ['valueCodeableConcept', 'CodeableConcept'], ['valueString', 'string'], ['valueBoolean', 'boolean'],
  ['valueInteger', 'integer'], ['valueRange', 'Range'], ['valueRatio', 'Ratio'], ['valueSampledData', 'SampledData'],
  ['valueTime', 'time'], ['valueDateTime', 'dateTime'], ['valuePeriod', 'Period'],
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A primitive string element: [] when absent; undefined (ask the engine) for any other shape. */
const primitive = (v: unknown, type: string): TypedResult[] | undefined => (v === undefined ? [] : typeof v === 'string' ? [{ type, value: v }] : undefined);

/**
 * The default expressions of the CRF files (rules.schema.json `defaults`), read
 * straight from an R4 Observation's JSON: they run for every lab of every trial,
 * and through the engine they are most of the mapping time. Each gives exactly
 * what fhirpath.js gives (fhirpath-engine.test.ts compares both on every public
 * sample); anything but a plain Observation (another type, an array where R4 has
 * one value) is left to the engine (undefined).
 */
const DIRECT_PATHS: ReadonlyMap<string, DirectPath> = new Map(Object.entries({
  'Observation.value': (r) => {
    if (!isObject(r) || r.resourceType !== 'Observation') return undefined;
    for (const [key, type] of VALUE_TYPES) {
      const v = r[key];
      if (v === undefined) continue;
      if (v === null || Array.isArray(v)) return undefined;
      return [{ type, value: v }];
    }
    return [];
  },
  'Observation.effective.ofType(dateTime)': (r) => (isObject(r) && r.resourceType === 'Observation' ? primitive(r.effectiveDateTime, 'dateTime') : undefined),
  'Observation.effective.ofType(Period).start': (r) => {
    if (!isObject(r) || r.resourceType !== 'Observation') return undefined;
    if (r.effectivePeriod === undefined) return [];
    return isObject(r.effectivePeriod) ? primitive(r.effectivePeriod.start, 'dateTime') : undefined;
  },
  'Observation.effective.ofType(instant)': (r) => (isObject(r) && r.resourceType === 'Observation' ? primitive(r.effectiveInstant, 'instant') : undefined),
  'Observation.issued': (r) => (isObject(r) && r.resourceType === 'Observation' ? primitive(r.issued, 'instant') : undefined),
} satisfies Record<string, DirectPath>));

/**
 * Runs a compiled expression against a probe resource to catch what fhirpath.js only
 * reports at run time (unknown functions, undefined %variables). Returns the error or null.
 */
export function probeExpression(expression: CompiledExpression, probe: unknown): string | null {
  try {
    expression.evaluate(probe);
    return null;
  } catch (err) {
    return `FHIRPath fails on a sample resource: ${firstLine(err)}`;
  }
}

/** 'FHIR.Quantity' -> 'Quantity', 'System.String' -> 'String'. */
function stripNamespace(name: string | undefined): string {
  if (!name) return 'unknown';
  const dot = name.indexOf('.');
  return dot >= 0 ? name.slice(dot + 1) : name;
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].slice(0, 300);
}
