/**
 * Inbound JSON, parsed so that no key can reach an object's prototype, and the
 * hazards JSON allows but FHIR and PostgreSQL do not, found with their paths.
 *
 * `JSON.parse` defines every member with CreateDataProperty (ECMA-262
 * §25.5.1.1 InternalizeJSONProperty), so `"__proto__"` becomes an ordinary own
 * member and the prototype is untouched. The danger is later: code that copies
 * members by assignment (`o[k] = v`, `Object.assign`) hands `__proto__` to the
 * setter and the copy inherits whatever the sender put there, while the member
 * itself vanishes from serialisation. Copies of inbound JSON therefore go
 * through {@link copyJsonObject}, and {@link jsonHazards} rejects member names
 * that shadow `Object.prototype` as unknown elements: @medplum/core looks
 * element names up in plain objects, so it takes `constructor`, `toString` and
 * the like for known elements and never reports them.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { AppError } from '../errors';

/** Member names that collide with `Object.prototype` (`__proto__`, `constructor`, `toString`, ...). None is a FHIR element. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/** Deepest nesting accepted; FHIR resources are far shallower, and the walkers here recurse. */
export const MAX_JSON_DEPTH = 64;

/** A body that is not JSON; the message names the grammar problem and position only, never the input text. */
export class JsonSyntaxError extends Error {
  constructor(readonly problem: string) {
    super(problem);
    this.name = 'JsonSyntaxError';
  }
}

/**
 * Node 20's JSON.parse messages quote the input (`Unexpected token 'x', "{..." is not valid JSON`),
 * which may be PHI: keep the grammar part and the position only.
 */
export function jsonProblem(e: unknown): string {
  const msg = (e as Error)?.message ?? '';
  const m = /^([^"]{1,80}?) in JSON at position (\d+)/.exec(msg);
  if (m) return `${m[1]} at character ${Number(m[2]) + 1}`;
  if (/^Unexpected end of JSON input/.test(msg)) return 'unexpected end of input';
  return 'unexpected token';
}

/** Parses one JSON text (a leading byte order mark is ignored). Throws {@link JsonSyntaxError}. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new JsonSyntaxError(jsonProblem(e));
  }
}

/** A copy of a JSON object's members made with data properties, so `__proto__` stays a member. */
export function copyJsonObject(members: Iterable<readonly [string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of members) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

const LONE_SURROGATE = /\p{Cs}/u;

function stringProblem(s: string): string | null {
  // PostgreSQL's jsonb cannot store U+0000 ("unsupported Unicode escape sequence"), nor an unpaired surrogate.
  if (s.includes('\u0000')) return 'contains a NUL character (U+0000), which FHIR strings cannot hold and the store refuses';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired UTF-16 surrogate (not a Unicode character)';
  return null;
}

const issue = (code: OperationOutcomeIssue['code'], path: string, text: string): OperationOutcomeIssue => ({ severity: 'error', code, details: { text }, expression: [path] });

/**
 * Problems in a parsed JSON value that no FHIR validator reports: member names
 * shadowing `Object.prototype`, strings (member names included) that the store
 * would refuse, and nesting deeper than {@link MAX_JSON_DEPTH}. `path` is the
 * FHIRPath of `value`, e.g. `Observation` or `Bundle.entry[2].resource`.
 */
export function jsonHazards(value: unknown, path: string, depth = 0): OperationOutcomeIssue[] {
  if (typeof value === 'string') {
    const p = stringProblem(value);
    return p ? [issue('value', path, p)] : [];
  }
  if (!value || typeof value !== 'object') return [];
  if (depth >= MAX_JSON_DEPTH) return [issue('too-costly', path, `nested deeper than ${MAX_JSON_DEPTH} levels`)];
  if (Array.isArray(value)) return value.flatMap((x, i) => jsonHazards(x, `${path}[${i}]`, depth + 1));
  const out: OperationOutcomeIssue[] = [];
  for (const [k, v] of Object.entries(value)) {
    const at = `${path}.${k}`;
    const keyProblem = stringProblem(k);
    if (keyProblem) out.push(issue('structure', path, `a member name ${keyProblem}`));
    else if (PROTOTYPE_KEYS.has(k)) out.push(issue('structure', at, `Invalid additional property "${k}"`));
    else out.push(...jsonHazards(v, at, depth + 1));
  }
  return out;
}

/**
 * Body parser for every JSON body on /fhir: the raw bytes (bounded by `limit`)
 * through {@link parseJson}. Content-Type is checked by the route before.
 */
export function jsonBody(limit: number) {
  const raw = express.raw({ type: () => true, limit });
  return (req: Request, res: Response, next: NextFunction) => {
    raw(req, res, (err?: unknown) => {
      if (err) return next(err);
      const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
      try {
        req.body = parseJson(text);
        next();
      } catch (e) {
        next(e instanceof JsonSyntaxError ? new AppError('not-json', e.problem) : e);
      }
    });
  };
}
