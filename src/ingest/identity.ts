/**
 * Identity and version of an inbound resource, pure (FHIR R4 http.html):
 * - a PUT's URL (`Type/id`) is the identity: a body without an id takes it,
 *   a body naming another type or id is refused (http.html#update, #trules);
 * - `If-None-Exist` is supported on `identifier` only (http.html#ccreate);
 * - `If-Match` carries a weak ETag of our version (http.html#concurrency);
 * - the version decision: same id and the current content again is a
 *   redelivery; different content is a new version, whatever meta.versionId
 *   says (a corrected result is often re-sent under the same versionId).
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { ErrorCode } from '../errors';
import { FHIR_ID } from './validate';

/** A refused entry: catalogue code, what is wrong, and where. */
export interface EntryProblem {
  readonly code: ErrorCode;
  readonly issues: OperationOutcomeIssue[];
}

const problem = (code: ErrorCode, issueCode: OperationOutcomeIssue['code'], at: string, text: string): EntryProblem => ({
  code,
  issues: [{ severity: 'error', code: issueCode, details: { text }, expression: [at] }],
});

/** `Type/id` of a PUT URL, relative or absolute (a transaction may name the full URL), without query or history. */
export function parsePutUrl(url: string): { type: string; id: string } | null {
  const m = /(?:^|\/)([A-Z][A-Za-z]{0,63})\/([^/?#]+)\/?(?:[?#].*)?$/.exec(url.trim());
  return m ? { type: m[1], id: m[2] } : null;
}

/**
 * The id a PUT's URL gives the body: the URL id when the body has none or the
 * same; a problem when the URL is not `Type/id` or names another type or id.
 * `at` is the FHIRPath of the URL (`Bundle.entry[2].request.url`), `resourceAt` of the body.
 */
export function putIdentity(url: string, body: { resourceType: string; id?: unknown }, at: string, resourceAt: string): { id: string } | EntryProblem {
  const u = parsePutUrl(url);
  if (!u) return problem('invalid-request', 'invalid', at, 'a PUT URL must be [type]/[id]');
  if (!FHIR_ID.test(u.id)) return problem('invalid-id', 'value', at, 'the URL id is not a FHIR id ([A-Za-z0-9-.]{1,64})');
  if (u.type !== body.resourceType) return problem('resource-type-mismatch', 'invalid', `${resourceAt}.resourceType`, `the URL names ${u.type}, the resource is ${body.resourceType}`);
  if (body.id !== undefined && body.id !== u.id) return problem('id-mismatch', 'invalid', `${resourceAt}.id`, `the URL names id ${u.id}, the resource has id ${String(body.id)}`);
  return { id: u.id };
}

/** An `identifier` token search: `system|value`, `|value` (no system), `system|` (any value), or `value` (any system). */
export interface IdentifierQuery {
  /** undefined: any system; null: the identifier has no system. */
  readonly system?: string | null;
  /** undefined: any value in the system. */
  readonly value?: string;
}

/**
 * Parses an If-None-Exist search (FHIR R4 http.html#ccreate; token search,
 * search.html#token). Only one `identifier` parameter is supported; anything
 * else is a 412, as the spec requires of a server that cannot honour the condition.
 */
export function parseIfNoneExist(raw: string, at: string): IdentifierQuery | EntryProblem {
  const q = raw.trim().replace(/^[A-Za-z]*\?/, '');
  let params: [string, string][];
  try {
    params = q.split('&').filter(Boolean).map((p) => {
      const eq = p.indexOf('=');
      const name = decodeURIComponent(eq < 0 ? p : p.slice(0, eq));
      return [name, eq < 0 ? '' : decodeURIComponent(p.slice(eq + 1).replace(/\+/g, ' '))];
    });
  } catch {
    return problem('invalid-request', 'invalid', at, 'If-None-Exist is not a URL query (bad percent-encoding)');
  }
  const unsupported = params.filter(([name]) => name !== 'identifier').map(([name]) => name);
  if (unsupported.length || params.length !== 1) {
    const what = unsupported.length ? `search parameter(s) ${unsupported.join(', ')}` : params.length ? 'more than one identifier' : 'an empty search';
    return problem('unsupported-condition', 'not-supported', at, `conditional create supports exactly one identifier=[system|]value search; got ${what}`);
  }
  const token = params[0][1];
  if (!token || token === '|') return problem('unsupported-condition', 'not-supported', at, 'identifier= needs a value: identifier=[system|]value');
  const bar = token.indexOf('|');
  if (bar < 0) return { value: token };
  const system = token.slice(0, bar);
  const value = token.slice(bar + 1);
  return { system: system === '' ? null : system, ...(value ? { value } : {}) };
}

/** Whether a resource's identifiers match the query (token semantics as above). */
export function matchesIdentifier(resource: unknown, q: IdentifierQuery): boolean {
  const ids = (resource as { identifier?: unknown }).identifier;
  if (!Array.isArray(ids)) return false;
  return ids.some((i: { system?: unknown; value?: unknown } | null) => {
    if (!i || typeof i !== 'object') return false;
    if (q.system === null && i.system !== undefined) return false;
    if (typeof q.system === 'string' && i.system !== q.system) return false;
    return q.value === undefined || i.value === q.value;
  });
}

/**
 * The version an If-Match names: `W/"3"`, `"3"` or `3` (clients differ on the
 * quoting; http.html#concurrency shows the weak form). Null when it is not one.
 */
export function parseIfMatch(raw: string): string | null {
  const m = /^\s*(?:W\/)?"?([^"\s]+)"?\s*$/.exec(raw);
  return m ? m[1] : null;
}

/** One stored version of a resource, as the version decision needs it. */
export interface StoredVersion {
  readonly inboundId: number;
  readonly version: string;
  readonly senderVersion: string | null;
  readonly contentHash: string;
  /** meta.lastUpdated as stored (ISO), or null. */
  readonly lastUpdated: string | null;
  /** When we received it (ISO): orders versions that carry no lastUpdated. */
  readonly receivedAt: string;
}

/** What arrived, reduced to what the decision compares. */
export interface Arrival {
  readonly senderVersion: string | null;
  readonly contentHash: string;
  readonly lastUpdated: string | null;
}

/**
 * The current version: latest by meta.lastUpdated (arrival when absent), then
 * by arrival; the same order the map worker uses to supersede older values.
 */
export function currentVersion(versions: readonly StoredVersion[]): StoredVersion | null {
  let best: StoredVersion | null = null;
  const key = (v: StoredVersion): [number, number] => [Date.parse(v.lastUpdated ?? v.receivedAt), v.inboundId];
  for (const v of versions) {
    if (!best) best = v;
    else {
      const [a, b] = key(v);
      const [c, d] = key(best);
      if (a > c || (a === c && b > d)) best = v;
    }
  }
  return best;
}

export type VersionDecision =
  | { readonly kind: 'same'; readonly existing: StoredVersion }
  | { readonly kind: 'new'; readonly version: string; readonly created: boolean };

/**
 * Redelivery or new version:
 * - the current content again (any meta) is a redelivery;
 * - an older version delivered again exactly (same content, sender versionId
 *   and lastUpdated: a retried notification, an overlapping poll page) is a
 *   redelivery too, not a revert;
 * - anything else is a new version. Its version string is the sender's
 *   versionId while that names one content only, else `h` + the content hash
 *   (a correction re-sent under the same versionId), made unique if a revert
 *   brings back an older content under a new lastUpdated.
 */
export function decideVersion(versions: readonly StoredVersion[], a: Arrival): VersionDecision {
  const current = currentVersion(versions);
  if (current && current.contentHash === a.contentHash) return { kind: 'same', existing: current };
  const exact = versions.find((v) => v.contentHash === a.contentHash && v.senderVersion === a.senderVersion && v.lastUpdated === a.lastUpdated);
  if (exact) return { kind: 'same', existing: exact };
  const taken = new Set(versions.map((v) => v.version));
  const byHash = `h${a.contentHash.slice(0, 16)}`;
  const version = a.senderVersion && !taken.has(a.senderVersion) ? a.senderVersion : !taken.has(byHash) ? byHash : `${byHash}-${versions.length + 1}`;
  return { kind: 'new', version, created: versions.length === 0 };
}
