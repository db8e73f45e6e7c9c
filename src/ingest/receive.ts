/**
 * The store step of the front door: inside one database transaction, lock
 * the resources (and identifier searches) concerned, read their stored
 * versions, decide per resource (conditional create, If-Match, redelivery or
 * new version, possible duplicate) and insert the new versions. Queueing
 * happens after the commit (design.md data flow), by the caller.
 *
 * Concurrent small non-atomic requests share one transaction (group commit,
 * src/util/coalesce.ts); a transaction (atomic) request always runs alone,
 * so its all-or-nothing never depends on a neighbour. A value the database
 * refuses despite validation fails only its own entry, outside a transaction.
 */
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { AppError, type ErrorCode } from '../errors';
import { isTransientDbError, type Db } from '../store/db';
import {
  contentIdentifiedObservations, findByIdentifier, insertVersions, lockIntakeKeys, raiseIntakeReviews, resourceKey, versionsOf,
  type InboundState, type NewInbound, type VersionRow,
} from '../store/inbound';
import { coalesce } from '../util/coalesce';
import { currentVersion, decideVersion, matchesIdentifier, type IdentifierQuery } from './identity';
import { nearKey, POSSIBLE_DUPLICATE, sameResultSlot } from './near-duplicate';
import type { Normalized } from './normalize';

/** One resource to store, already validated, with the conditions of its request. */
export interface StoreItem {
  readonly site: string;
  readonly n: Normalized;
  readonly context: Record<string, unknown> | null;
  /** FHIRPath of the resource in the request (for issues). */
  readonly path: string;
  /** The version If-Match names; undefined when the request has none. */
  readonly ifMatch?: string;
  readonly ifMatchAt?: string;
  readonly ifNoneExist?: IdentifierQuery;
  readonly ifNoneExistAt?: string;
}

/** The stored version an item ended at (new, or one already there). */
export interface StoredRef {
  readonly inboundId: number;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly version: string;
  readonly senderVersion: string | null;
  readonly receivedAt: string;
  readonly state: InboundState;
  /** The stored body when it is not the item's own (a conditional create matched another resource). */
  readonly body?: Record<string, unknown>;
}

export type StoreOutcome =
  | ({ readonly kind: 'created' | 'updated' | 'unchanged' } & StoredRef)
  | { readonly kind: 'refused'; readonly outcome: 'precondition-failed' | 'invalid'; readonly code: ErrorCode; readonly issues: OperationOutcomeIssue[] };

/** Items per shared transaction and how long a request may wait to share one. */
export const INSERT_GROUP_MAX = 500;
export const INSERT_GROUP_WAIT_MS = 2;

const refused = (outcome: 'precondition-failed' | 'invalid', code: ErrorCode, at: string, text: string, issueCode: OperationOutcomeIssue['code']): StoreOutcome => ({
  kind: 'refused', outcome, code, issues: [{ severity: 'error', code: issueCode, details: { text }, expression: [at] }],
});

/** Lock names are text (PostgreSQL text cannot hold U+0000): unit separator between site and resource. */
const lockKey = (site: string, what: string) => `${site}\u001f${what}`;
const identifierLockKey = (i: StoreItem) => lockKey(i.site, `${i.n.resourceType}?identifier=${i.ifNoneExist!.system ?? ''}|${i.ifNoneExist!.value ?? ''}`);

/** The partial Identifier a query contains (jsonb containment); an absent system cannot be expressed and is checked after. */
const containment = (q: IdentifierQuery): Record<string, string>[] => [{ ...(q.system ? { system: q.system } : {}), ...(q.value !== undefined ? { value: q.value } : {}) }];

/** A new version not yet inserted, ordered after every stored one. */
interface Pending {
  readonly item: StoreItem;
  readonly row: { -readonly [K in keyof NewInbound]: NewInbound[K] };
  readonly index: number;
}

class Group {
  readonly out: StoreOutcome[] = [];
  readonly pending: Pending[] = [];
  private seq = Number.MAX_SAFE_INTEGER / 2;
  constructor(readonly tx: Db, readonly versions: Map<string, VersionRow[]>) {}

  async conditional(i: StoreItem): Promise<StoreOutcome | null> {
    const q = i.ifNoneExist!;
    const stored = (await findByIdentifier(this.tx, i.site, i.n.resourceType, containment(q))).filter((m) => matchesIdentifier(m.body, q));
    const pending = this.pending.filter((p) => p.item.site === i.site && p.row.resourceType === i.n.resourceType && matchesIdentifier(p.row.body, q));
    const ids = new Set([...stored.map((m) => m.resourceId), ...pending.map((p) => p.row.resourceId)]);
    if (ids.size > 1) return refused('precondition-failed', 'multiple-matches', i.ifNoneExistAt ?? i.path, `If-None-Exist matches ${ids.size} or more ${i.n.resourceType} resources; it must match at most one`, 'multiple-matches');
    if (stored.length) {
      const m = stored[0];
      return { kind: 'unchanged', inboundId: m.inboundId, resourceType: m.resourceType, resourceId: m.resourceId, version: m.version, senderVersion: m.senderVersion, receivedAt: m.receivedAt, state: m.state, body: m.body };
    }
    if (pending.length) {
      const p = pending[0].row;
      return { kind: 'unchanged', inboundId: -1, resourceType: p.resourceType, resourceId: p.resourceId, version: p.version, senderVersion: p.senderVersion, receivedAt: new Date().toISOString(), state: 'received', body: p.body as Record<string, unknown> };
    }
    return null;
  }

  async decide(i: StoreItem): Promise<StoreOutcome> {
    if (i.ifNoneExist) {
      const c = await this.conditional(i);
      if (c) return c;
    }
    const key = resourceKey({ site: i.site, resourceType: i.n.resourceType, resourceId: i.n.resourceId });
    const vs = this.versions.get(key) ?? this.versions.set(key, []).get(key)!;
    if (i.ifMatch !== undefined) {
      const cur = currentVersion(vs);
      if (!cur) return refused('precondition-failed', 'precondition-failed', i.ifMatchAt ?? i.path, `If-Match names version ${i.ifMatch}, but ${i.n.resourceType}/${i.n.resourceId} is not stored`, 'conflict');
      if (cur.version !== i.ifMatch) return refused('precondition-failed', 'precondition-failed', i.ifMatchAt ?? i.path, `If-Match names version ${i.ifMatch}; the current version is ${cur.version}`, 'conflict');
    }
    const d = decideVersion(vs, i.n);
    const base = { resourceType: i.n.resourceType, resourceId: i.n.resourceId };
    if (d.kind === 'same') {
      const e = d.existing as VersionRow;
      return { kind: 'unchanged', ...base, inboundId: e.inboundId, version: e.version, senderVersion: e.senderVersion, receivedAt: e.receivedAt, state: e.state ?? 'received' };
    }
    const row: Pending['row'] = {
      site: i.site, ...base, version: d.version, senderVersion: i.n.senderVersion, lastUpdated: i.n.lastUpdated, contentHash: i.n.contentHash,
      body: i.n.body, context: i.context, patientId: i.n.patientId, state: 'received',
    };
    const receivedAt = new Date().toISOString();
    vs.push({ inboundId: this.seq++, resourceType: row.resourceType, resourceId: row.resourceId, version: row.version, senderVersion: row.senderVersion, contentHash: row.contentHash, lastUpdated: row.lastUpdated, receivedAt, state: 'received' });
    this.pending.push({ item: i, row, index: this.out.length });
    return { kind: d.created ? 'created' : 'updated', ...base, inboundId: -1, version: d.version, senderVersion: i.n.senderVersion, receivedAt, state: 'received' };
  }

  /** Marks pending content-identified Observations that look like another result for the same slot; returns their review details. */
  async nearDuplicates(): Promise<Map<Pending, string>> {
    const found = new Map<Pending, string>();
    const candidates = this.pending.filter((p) => p.item.n.idFromContent && p.row.resourceType === 'Observation' && p.row.patientId);
    for (const p of candidates) {
      const k = nearKey(p.row.body as Record<string, unknown>, p.row.context);
      if (!k) continue;
      const stored = await contentIdentifiedObservations(this.tx, p.row.site, p.row.patientId!, k.codings);
      const earlier = this.pending.filter((o) => o !== p && o.index < p.index && o.item.n.idFromContent && o.row.site === p.row.site && o.row.patientId === p.row.patientId);
      const other = [
        ...stored.map((s) => ({ id: s.resourceId, hash: s.contentHash, key: nearKey(s.body, s.context) })),
        ...earlier.map((o) => ({ id: o.row.resourceId, hash: o.row.contentHash, key: nearKey(o.row.body as Record<string, unknown>, o.row.context) })),
      ].find((o) => o.hash !== p.row.contentHash && o.key && sameResultSlot(k, o.key));
      if (other) found.set(p, `Observation/${other.id} has the same patient, code and effective time with different content; neither has an id or identifier to link a correction (README "FHIR receiver")`);
    }
    return found;
  }
}

/** Decides and inserts one group inside `tx`; see the module comment. With `atomic`, any refusal stores nothing. */
export async function storeGroup(tx: Db, items: readonly StoreItem[], atomic: boolean): Promise<StoreOutcome[]> {
  await lockIntakeKeys(tx, items.flatMap((i) => [
    lockKey(i.site, `${i.n.resourceType}/${i.n.resourceId}`),
    ...(i.ifNoneExist ? [identifierLockKey(i)] : []),
  ]));
  const g = new Group(tx, await versionsOf(tx, items.map((i) => ({ site: i.site, resourceType: i.n.resourceType, resourceId: i.n.resourceId }))));
  for (const i of items) g.out.push(await g.decide(i));
  if (atomic && g.out.some((o) => o.kind === 'refused')) return g.out;
  const dups = await g.nearDuplicates();
  for (const p of dups.keys()) p.row.state = 'needs_review';
  const ids = await insertVersions(tx, g.pending.map((p) => p.row));
  g.pending.forEach((p, k) => {
    const o = g.out[p.index] as StoredRef & { kind: 'created' | 'updated' };
    g.out[p.index] = { ...o, inboundId: ids[k].id, receivedAt: ids[k].receivedAt, state: p.row.state };
  });
  await raiseIntakeReviews(tx, [...dups].map(([p, detail]) => ({ inboundId: ids[g.pending.indexOf(p)].id, reason: POSSIBLE_DUPLICATE, detail })));
  // A conditional create that matched an entry created earlier in this group points at that entry's row.
  const inserted = new Map(g.pending.map((p, k) => [resourceKey({ site: p.row.site, resourceType: p.row.resourceType, resourceId: p.row.resourceId }), ids[k].id]));
  return g.out.map((o, k) => (o.kind === 'unchanged' && o.inboundId === -1 ? { ...o, inboundId: inserted.get(resourceKey({ site: items[k].site, ...o })) ?? -1 } : o));
}

/** SQLSTATE classes 22 data exception, 23 integrity, 54 limits: about the data of one resource, not the servers. */
export function isDataError(e: unknown): boolean {
  if (e instanceof AppError) return false;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

/** A value the database refused although it passed validation; never quotes the value (it may be PHI). */
export function refusedByStore(item: StoreItem, e: unknown): StoreOutcome {
  return refused('invalid', 'validation-failed', item.path, `the database refused a value of this resource (SQLSTATE ${(e as { code: string }).code})`, 'value');
}

/** The store step of one process: group commit for small requests, one transaction per atomic request. */
export interface Store {
  store(items: readonly StoreItem[], atomic: boolean): Promise<StoreOutcome[]>;
}

export function createStore(db: Db): Store {
  const once = (items: readonly StoreItem[], atomic: boolean) => db.transaction((tx) => storeGroup(tx, items, atomic));
  /** Non-atomic: a data error is retried entry by entry, so it stays with the entry that caused it. */
  const isolated = async (items: readonly StoreItem[]): Promise<StoreOutcome[]> => {
    try {
      return await once(items, false);
    } catch (e) {
      if (!isDataError(e)) throw e;
      if (items.length === 1) return [refusedByStore(items[0], e)];
      const out: StoreOutcome[] = [];
      for (const i of items) out.push(...(await isolated([i])));
      return out;
    }
  };
  const grouped = coalesce<StoreItem, StoreOutcome>({ maxItems: INSERT_GROUP_MAX, maxWaitMs: INSERT_GROUP_WAIT_MS, run: isolated });
  return {
    async store(items, atomic) {
      try {
        return atomic ? await once(items, true) : await grouped(items);
      } catch (e) {
        if (isTransientDbError(e)) throw new AppError('store-unavailable', 'the database is unreachable or overloaded; nothing stored, send again');
        throw e;
      }
    },
  };
}

/** The body of a stored version with our identity and meta (FHIR R4 resource.html#Meta: the server's versionId and lastUpdated). */
export function representation(body: Resource | Record<string, unknown>, ref: StoredRef): Resource {
  const b = body as Resource;
  return { ...b, id: ref.resourceId, meta: { ...(b.meta ?? {}), versionId: ref.version, lastUpdated: ref.receivedAt } } as Resource;
}
