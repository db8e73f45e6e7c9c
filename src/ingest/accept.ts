/**
 * The one front door (design.md "One front door"): every inbound resource,
 * however it arrives (POST, PUT, Bundle entry, notification, poll page, bulk
 * export file, NDJSON import), goes through {@link Receiver.accept}: supported
 * type, validation, identity and version, conditional create, If-Match, store
 * (one database transaction when atomic), enqueue after commit.
 */
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { AppError, type ErrorCode } from '../errors';
import type { Logger } from '../logger';
import { metrics } from '../metrics';
import type { MapQueue } from '../queue/map-resource';
import type { Db } from '../store/db';
import { isSupportedType } from './supported';
import { parseIfMatch, parseIfNoneExist, parsePutUrl, putIdentity, type EntryProblem } from './identity';
import { normalize, storableInstant } from './normalize';
import { createStore, representation, type StoreItem, type StoreOutcome } from './receive';
import { validateFhir } from './validate';
import { claimedElsewhere } from './subject-claims';
import { withSiteTimes } from './site-times';
import type { SiteConfig } from '../config';

/** What the sender's request said about one resource (HTTP headers, or a Bundle entry's `request`). */
export interface AcceptRequest {
  /** Only POST (create) and PUT (update) store anything; other methods are refused per entry. */
  readonly method: string;
  /** `Type/id` for a PUT (FHIR R4 http.html#update); the identity of the resource. */
  readonly url?: string;
  /** `If-None-Exist` header or `request.ifNoneExist`: a search, `identifier=[system|]value` only. */
  readonly ifNoneExist?: string;
  /** `If-Match` header or `request.ifMatch`: `W/"<version>"`, compared with our current version of the id. */
  readonly ifMatch?: string;
  /** FHIRPath of the request in the sender's message (`Bundle.entry[3].request`); absent for HTTP headers. */
  readonly at?: string;
}

/** One resource to accept. */
export interface AcceptEntry {
  /** As received: checked here to be a JSON object with a resourceType. */
  readonly resource: unknown;
  /** What the sender's Bundle told us beyond the resource (e.g. a DiagnosticReport's effective time). */
  readonly context?: Record<string, unknown> | null;
  /** FHIRPath of the resource in the request, e.g. `Bundle.entry[3].resource`, or the type for a single resource. */
  readonly path: string;
  readonly request?: AcceptRequest;
}

/** Where the resources came from: logged and counted, never changes the rules. */
export type AcceptSource = 'http' | 'bundle' | 'notification' | 'poll' | 'bulk' | 'file';

export interface AcceptOptions {
  /** A transaction: all entries are stored in one database transaction, or none is (store failures included). */
  readonly atomic: boolean;
  readonly traceId: string;
  readonly source: AcceptSource;
}

/**
 * - `created`: a resource id not seen before; `updated`: a new version of a stored id (FHIR 201 vs 200);
 * - `unchanged`: the current content again (a redelivery), nothing stored;
 * - `ignored`: a resource type trialbridge does not use (acknowledged with a warning);
 * - `invalid`: the entry is refused (validation, request URL, a value the database cannot hold);
 * - `conflict`: the entry collides with another of the same transaction;
 * - `precondition-failed`: If-Match or If-None-Exist does not hold (FHIR 412).
 */
export type AcceptOutcome = 'created' | 'updated' | 'unchanged' | 'ignored' | 'invalid' | 'conflict' | 'precondition-failed';

export interface AcceptResult {
  /** Position of the entry in the input. */
  readonly index: number;
  readonly outcome: AcceptOutcome;
  readonly resourceType?: string;
  readonly id?: string;
  /** Our version of the stored (or matched) resource: the ETag and `_history` segment. */
  readonly versionId?: string;
  /** meta.versionId as the sender gave it (provenance); null when it gave none. */
  readonly senderVersionId?: string | null;
  /** When we stored that version (ISO instant). */
  readonly lastUpdated?: string;
  /** The stored resource with our id and meta (versionId, lastUpdated), for `Prefer: return=representation`. */
  readonly stored?: Resource;
  /** The catalogue code of a refused entry (its HTTP status and OperationOutcome issue code). */
  readonly code?: ErrorCode;
  /** Why an entry was refused or ignored, each with the FHIRPath of the element in the request. */
  readonly issues?: OperationOutcomeIssue[];
}

/** The front door of one process; created once (it groups concurrent small requests into shared inserts). */
export interface Receiver {
  /**
   * Accepts the entries of one request for `site`; results are in input
   * order. Throws AppError `transaction-failed` (atomic, any entry refused:
   * nothing stored), `store-unavailable` (nothing stored) or
   * `queue-unavailable` (stored, queued later by the sweeper).
   */
  accept(site: string, entries: readonly AcceptEntry[], options: AcceptOptions): Promise<AcceptResult[]>;
}

/** True for the outcomes that leave the resource stored (new or already there). */
export const isStoredOutcome = (o: AcceptOutcome): o is 'created' | 'updated' | 'unchanged' => o === 'created' || o === 'updated' || o === 'unchanged';

export interface ReceiveDeps {
  readonly db: Db;
  readonly mapQueue: MapQueue;
  readonly log: Logger;
  /** The configured sites: a site's `localTimeWithoutOffset` applies on every path that reaches the door. */
  readonly sites?: readonly SiteConfig[];
}

const err = (code: ErrorCode, issueCode: OperationOutcomeIssue['code'], at: string | undefined, text: string): EntryProblem => ({
  code,
  issues: [{ severity: 'error', code: issueCode, details: { text }, ...(at ? { expression: [at] } : {}) }],
});

/** What checking one entry gives: a refusal, an ignored type, or an item for the store. */
type Checked =
  | { readonly kind: 'refused'; readonly outcome: 'invalid' | 'precondition-failed' | 'conflict'; readonly problem: EntryProblem; readonly resourceType?: string; readonly id?: string }
  | { readonly kind: 'ignored'; readonly resourceType: string }
  | { readonly kind: 'store'; readonly item: StoreItem };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalid = (problem: EntryProblem, r?: { resourceType?: unknown; id?: unknown }): Checked => ({
  kind: 'refused', outcome: 'invalid', problem,
  ...(typeof r?.resourceType === 'string' ? { resourceType: r.resourceType } : {}), ...(typeof r?.id === 'string' ? { id: r.id } : {}),
});

/** Shape, method, type, URL identity, validation and conditions of one entry (no I/O). */
export function checkEntry(site: string, e: AcceptEntry): Checked {
  const r = e.resource;
  const req = e.request;
  const reqAt = (field: string) => (req?.at ? `${req.at}.${field}` : undefined);
  if (!isObject(r) || typeof r.resourceType !== 'string') return invalid(err('validation-failed', 'required', e.path, 'expected a resource: a JSON object with a resourceType'));
  if (req && req.method !== 'POST' && req.method !== 'PUT') return invalid(err('invalid-request', 'not-supported', reqAt('method'), `request.method ${req.method} is not supported; only POST and PUT store resources`), r);
  if (!isSupportedType(r.resourceType)) return { kind: 'ignored', resourceType: r.resourceType };
  let body = r as unknown as Resource;
  if (req?.method === 'PUT') {
    if (!req.url) return invalid(err('invalid-request', 'required', reqAt('url'), 'a PUT needs request.url [type]/[id]'), r);
    const id = putIdentity(req.url, r as { resourceType: string; id?: unknown }, reqAt('url') ?? e.path, e.path);
    if ('code' in id) return invalid(id, r);
    if (body.id !== id.id) body = { ...body, id: id.id };
  } else if (req?.url) {
    // POST [type]: a URL naming another type is refused like a PUT's (FHIR R4 http.html#create).
    const type = req.url.trim().split(/[/?]/)[0];
    if (/^[A-Z][A-Za-z]+$/.test(type) && type !== r.resourceType && !parsePutUrl(req.url)) {
      return invalid(err('resource-type-mismatch', 'invalid', `${e.path}.resourceType`, `the URL names ${type}, the resource is ${r.resourceType}`), r);
    }
  }
  const issues = validateFhir(body, e.path);
  const lu = body.meta?.lastUpdated;
  if (lu !== undefined && storableInstant(lu) === null && !issues.some((i) => i.expression?.some((x) => x.endsWith('meta.lastUpdated')))) {
    issues.push({ severity: 'error', code: 'value', details: { text: 'meta.lastUpdated must be a FHIR instant on a real calendar date, with a time zone' }, expression: [`${e.path}.meta.lastUpdated`] });
  }
  if (issues.length) return invalid({ code: 'validation-failed', issues }, body);
  const item: { -readonly [K in keyof StoreItem]: StoreItem[K] } = { site, n: normalize(body), context: e.context ?? null, path: e.path };
  if (req?.ifMatch !== undefined) {
    const v = parseIfMatch(req.ifMatch);
    if (v === null) return invalid(err('invalid-request', 'invalid', reqAt('ifMatch'), 'If-Match must be a version ETag, W/"<version>"'), body);
    item.ifMatch = v;
    item.ifMatchAt = reqAt('ifMatch') ?? e.path;
  }
  if (req?.ifNoneExist !== undefined && req.method === 'POST') {
    const q = parseIfNoneExist(req.ifNoneExist, reqAt('ifNoneExist') ?? e.path);
    if ('code' in q) return { kind: 'refused', outcome: q.code === 'unsupported-condition' ? 'precondition-failed' : 'invalid', problem: q, resourceType: body.resourceType };
    item.ifNoneExist = q;
    item.ifNoneExistAt = reqAt('ifNoneExist') ?? e.path;
  }
  return { kind: 'store', item };
}

/** FHIR R4 transaction rules (http.html#trules): two entries naming one resource fail the transaction. */
function duplicateIdentities(checked: Checked[], entries: readonly AcceptEntry[]): void {
  const first = new Map<string, number>();
  checked.forEach((c, k) => {
    if (c.kind !== 'store') return;
    const key = `${c.item.n.resourceType}/${c.item.n.resourceId}`;
    const seen = first.get(key);
    if (seen === undefined) return void first.set(key, k);
    checked[k] = {
      kind: 'refused', outcome: 'conflict', resourceType: c.item.n.resourceType, id: c.item.n.resourceId,
      problem: err('duplicate-identity', 'duplicate', entries[k].path, `${key} is also the resource of ${entries[seen].path}; a transaction may name each resource once`),
    };
  });
}

function transactionFailed(results: readonly AcceptResult[]): AppError {
  const bad = results.filter((r) => r.outcome !== 'ignored' && !isStoredOutcome(r.outcome));
  return new AppError('transaction-failed', `${bad.length} of ${results.length} entries failed`, undefined, bad.flatMap((r) => r.issues ?? []));
}

function fromStore(index: number, o: StoreOutcome, item: StoreItem): AcceptResult {
  if (o.kind === 'refused') return { index, outcome: o.outcome, resourceType: item.n.resourceType, id: item.n.resourceId, code: o.code, issues: o.issues };
  return {
    index, outcome: o.kind, resourceType: o.resourceType, id: o.resourceId, versionId: o.version, senderVersionId: o.senderVersion,
    lastUpdated: o.receivedAt, stored: representation(o.body ?? item.n.body, o),
  };
}

/** Creates the front door of a process (see {@link Receiver}). */
export function createReceiver(deps: ReceiveDeps): Receiver {
  const store = createStore(deps.db);
  return {
    async accept(site, given, options) {
      const cfg = deps.sites?.find((x) => x.id === site);
      const entries = cfg ? withSiteTimes(cfg, given) : given;
      const checked = entries.map((e) => checkEntry(site, e));
      if (options.atomic) duplicateIdentities(checked, entries);
      const results: (AcceptResult | null)[] = checked.map((c, index) => {
        if (c.kind === 'ignored') {
          return { index, outcome: 'ignored', resourceType: c.resourceType, issues: [{ severity: 'warning', code: 'not-supported', diagnostics: `${c.resourceType} is not used by trialbridge; not stored`, expression: [entries[index].path] }] };
        }
        if (c.kind === 'refused') return { index, outcome: c.outcome, resourceType: c.resourceType, id: c.id, code: c.problem.code, issues: c.problem.issues };
        return null;
      });
      let toStore = checked.flatMap((c, index) => (c.kind === 'store' ? [{ index, item: c.item }] : []));
      const claimed = await claimedElsewhere(deps.db, site, toStore);
      if (claimed.size) {
        for (const [index, c] of claimed) {
          const item = toStore.find((s) => s.index === index)!.item;
          results[index] = { index, outcome: 'conflict', resourceType: item.n.resourceType, id: item.n.resourceId, code: 'subject-claimed-by-other-site', issues: [{ severity: 'error', code: 'conflict', details: { text: c.text }, expression: [c.at] }] };
        }
        toStore = toStore.filter((s) => !claimed.has(s.index));
        deps.log.warn({ site, entries: claimed.size, source: options.source }, 'refused ResearchSubject entries naming another site\'s subject');
      }
      if (options.atomic && results.some((r) => r && r.outcome !== 'ignored')) throw transactionFailed(results.filter((r): r is AcceptResult => !!r));
      const outcomes = toStore.length ? await store.store(toStore.map((s) => s.item), options.atomic) : [];
      toStore.forEach((s, k) => (results[s.index] = fromStore(s.index, outcomes[k], s.item)));
      const done = results as AcceptResult[];
      if (options.atomic && outcomes.some((o) => o.kind === 'refused')) throw transactionFailed(done);
      for (const r of done) metrics.inboundReceived.inc({ type: r.resourceType ?? 'unknown', outcome: r.outcome });
      // New versions, and redelivered ones still waiting (their first enqueue may have failed): processing is idempotent.
      const ids = [...new Set(outcomes.flatMap((o) => (o.kind !== 'refused' && o.state === 'received' && o.inboundId > 0 ? [o.inboundId] : [])))];
      try {
        await deps.mapQueue.enqueue(ids, options.traceId);
      } catch (e) {
        deps.log.warn({ err: (e as Error).message, rows: ids.length, source: options.source }, 'enqueue failed; rows stay in received for the sweeper');
        throw new AppError('queue-unavailable', `${ids.length} resource(s) stored; processing resumes when the queue is reachable`);
      }
      return done;
    },
  };
}
