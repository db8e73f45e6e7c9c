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
  const expression: CompiledExpression = {
    source,
    evaluate(resource) {
      const nodes = fn(resource);
      const names = types(nodes);
      const values = resolveInternalTypes(nodes) as unknown[];
      return values.map((value, i) => ({ type: stripNamespace(names[i]), value }));
    },
  };
  return { ok: true, expression };
}

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
