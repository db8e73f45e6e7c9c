/**
 * Inbound rows: every accepted resource version with its processing state
 * (design.md habit 7). Written before anything is queued.
 */
import type { Db } from './db';
import { chunks, valuesList } from './sql';

export type InboundState = 'received' | 'mapped' | 'unmatched' | 'needs_review' | 'superseded' | 'failed';
export const INBOUND_STATES: readonly InboundState[] = ['received', 'mapped', 'unmatched', 'needs_review', 'superseded', 'failed'];

export interface NewInbound {
  readonly site: string;
  readonly resourceType: string;
  readonly resourceId: string;
  /** Our version (see migration 007): unique per resource. */
  readonly version: string;
  /** meta.versionId as sent, or null. */
  readonly senderVersion: string | null;
  /** meta.lastUpdated as an ISO instant already checked to be a real one (PostgreSQL refuses 2024-02-30), or null. */
  readonly lastUpdated: string | null;
  readonly contentHash: string;
  readonly body: unknown;
  readonly context: Record<string, unknown> | null;
  readonly patientId: string | null;
  /** `received` (queued after commit), or `needs_review` when the door already found a problem (a possible duplicate). */
  readonly state: 'received' | 'needs_review';
}

/** One stored version of a resource: what the door compares a new arrival with. */
export interface VersionRow {
  readonly inboundId: number;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly version: string;
  readonly senderVersion: string | null;
  readonly contentHash: string;
  readonly lastUpdated: string | null;
  readonly receivedAt: string;
  readonly state: InboundState;
}

/** A stored version found by identifier, with its body (the answer to a matched conditional create). */
export interface MatchedVersion extends VersionRow {
  readonly body: Record<string, unknown>;
}

export interface InboundRow {
  readonly id: number;
  readonly site: string;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly version: string;
  readonly lastUpdated: string | null;
  readonly body: Record<string, unknown>;
  readonly context: Record<string, unknown> | null;
  readonly patientId: string | null;
  readonly state: InboundState;
  readonly attempts: number;
}

/** Namespace of the per-resource and per-identifier advisory locks of the door (two-key form, apart from other locks). */
const INTAKE_LOCK_NAMESPACE = 7_243_007;

/**
 * Serialises arrivals for the same resources and identifier searches until
 * this transaction ends: the version decision and conditional create read,
 * decide and insert, and two concurrent requests must not both decide
 * "new". Locks are taken in one sorted order so two transactions never deadlock.
 */
export async function lockIntakeKeys(tx: Db, keys: readonly string[]): Promise<void> {
  if (!keys.length) return;
  await tx.query(
    `SELECT pg_advisory_xact_lock($1, h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($2::text[]) AS k ORDER BY 1) s`,
    [INTAKE_LOCK_NAMESPACE, [...new Set(keys)]],
  );
}

/** A resource of a site. */
export interface ResourceRef {
  readonly site: string;
  readonly resourceType: string;
  readonly resourceId: string;
}

/** Map key of a resource of a site. */
export const resourceKey = (r: ResourceRef): string => `${r.site}\u0000${r.resourceType}/${r.resourceId}`;

type RawVersion = {
  id: number; resource_type: string; resource_id: string; version: string; sender_version: string | null; content_hash: string;
  last_updated: Date | string | null; received_at: Date | string; state: InboundState;
};
const VERSION_COLS = 'i.id, i.resource_type, i.resource_id, i.version, i.sender_version, i.content_hash, i.last_updated, i.received_at, i.state';
const iso = (d: Date | string) => new Date(d).toISOString();
const toVersion = (r: RawVersion): VersionRow => ({
  inboundId: Number(r.id), resourceType: r.resource_type, resourceId: r.resource_id, version: r.version, senderVersion: r.sender_version,
  contentHash: r.content_hash, lastUpdated: r.last_updated === null ? null : iso(r.last_updated), receivedAt: iso(r.received_at), state: r.state,
});

/** Every stored version of these resources, keyed by {@link resourceKey}. */
export async function versionsOf(tx: Db, refs: readonly ResourceRef[]): Promise<Map<string, VersionRow[]>> {
  const out = new Map<string, VersionRow[]>();
  for (const part of chunks(refs, 1000)) {
    const { sql, params } = valuesList(part.map((r) => [r.site, r.resourceType, r.resourceId]));
    const r = await tx.query<RawVersion & { site: string }>(
      `SELECT i.site, ${VERSION_COLS} FROM inbound i
       JOIN (VALUES ${sql}) AS k(site, t, rid) ON i.site = k.site AND i.resource_type = k.t AND i.resource_id = k.rid
       ORDER BY i.id`,
      params,
    );
    for (const row of r.rows) {
      const k = resourceKey({ site: row.site, resourceType: row.resource_type, resourceId: row.resource_id });
      (out.get(k) ?? out.set(k, []).get(k)!).push(toVersion(row));
    }
  }
  return out;
}

/**
 * Current versions of the site's resources of `type` whose identifiers
 * contain `identifier` (an array of one partial Identifier, jsonb
 * containment), at most `limit`: enough to tell none, one and several apart.
 */
export async function findByIdentifier(tx: Db, site: string, type: string, identifier: readonly Record<string, string>[], limit = 2): Promise<MatchedVersion[]> {
  const r = await tx.query<RawVersion & { body: Record<string, unknown> }>(
    `WITH hits AS (
       SELECT DISTINCT resource_id FROM inbound WHERE site = $1 AND resource_type = $2 AND body -> 'identifier' @> $3::jsonb),
     cur AS (
       SELECT DISTINCT ON (i.resource_id) ${VERSION_COLS}, i.body FROM inbound i JOIN hits h ON h.resource_id = i.resource_id
       WHERE i.site = $1 AND i.resource_type = $2
       ORDER BY i.resource_id, coalesce(i.last_updated, i.received_at) DESC, i.id DESC)
     SELECT * FROM cur i WHERE i.body -> 'identifier' @> $3::jsonb ORDER BY i.id LIMIT $4`,
    [site, type, JSON.stringify(identifier), limit],
  );
  return r.rows.map((x) => ({ ...toVersion(x), body: x.body }));
}

/** What a possible-duplicate check needs of a content-identified Observation. */
export interface ContentIdentified {
  readonly resourceId: string;
  readonly contentHash: string;
  readonly body: Record<string, unknown>;
  readonly context: Record<string, unknown> | null;
}

/**
 * Observations of a patient stored under a content-derived id (no natural id)
 * that share one of `codings` ({system, code} each). The caller compares times.
 */
export async function contentIdentifiedObservations(tx: Db, site: string, patientId: string, codings: readonly { system?: string; code: string }[]): Promise<ContentIdentified[]> {
  if (!codings.length) return [];
  const r = await tx.query<{ resource_id: string; content_hash: string; body: Record<string, unknown>; context: Record<string, unknown> | null }>(
    `SELECT resource_id, content_hash, body, context FROM inbound
     WHERE site = $1 AND patient_id = $2 AND resource_type = 'Observation' AND resource_id = 'h' || left(content_hash, 40)
       AND body -> 'code' -> 'coding' @> ANY($3::jsonb[])
     ORDER BY id LIMIT 100`,
    [site, patientId, codings.map((c) => JSON.stringify([c]))],
  );
  return r.rows.map((x) => ({ resourceId: x.resource_id, contentHash: x.content_hash, body: x.body, context: x.context }));
}

const COLS = '(site, resource_type, resource_id, version, sender_version, last_updated, content_hash, body, context, patient_id, state)';

/** Inserts new versions (decided by the caller under {@link lockIntakeKeys}); returns their ids and arrival times, in input order. */
export async function insertVersions(tx: Db, items: readonly NewInbound[]): Promise<{ id: number; receivedAt: string }[]> {
  const out: { id: number; receivedAt: string }[] = [];
  for (const part of chunks(items, 500)) {
    const { sql, params } = valuesList(
      part.map((x) => [x.site, x.resourceType, x.resourceId, x.version, x.senderVersion, x.lastUpdated, x.contentHash, JSON.stringify(x.body), x.context ? JSON.stringify(x.context) : null, x.patientId, x.state]),
      ['', '', '', '', '', 'timestamptz', '', 'jsonb', 'jsonb', '', ''],
    );
    // SQL does not promise RETURNING in VALUES order: match rows by their unique key.
    const ins = await tx.query<{ id: number; received_at: Date | string; site: string; resource_type: string; resource_id: string; version: string }>(
      `INSERT INTO inbound ${COLS} VALUES ${sql} RETURNING id, received_at, site, resource_type, resource_id, version`,
      params,
    );
    const key = (site: string, t: string, i: string, v: string) => `${site}\u0000${t}/${i}/${v}`;
    const byKey = new Map(ins.rows.map((r) => [key(r.site, r.resource_type, r.resource_id, r.version), { id: Number(r.id), receivedAt: iso(r.received_at) }]));
    out.push(...part.map((x) => byKey.get(key(x.site, x.resourceType, x.resourceId, x.version))!));
  }
  return out;
}

/** Review items the door raises itself (e.g. possible-duplicate), before any mapping; idempotent on (row, reason). */
export async function raiseIntakeReviews(tx: Db, items: readonly { inboundId: number; reason: string; detail: string }[]): Promise<void> {
  if (!items.length) return;
  const { sql, params } = valuesList(items.map((i) => [i.inboundId, i.reason, i.detail]), ['bigint', 'text', 'text']);
  await tx.query(`INSERT INTO review_items (inbound_id, reason, detail) VALUES ${sql} ON CONFLICT DO NOTHING`, params);
}

type RawRow = {
  id: number; site: string; resource_type: string; resource_id: string; version: string; last_updated: Date | null;
  body: Record<string, unknown>; context: Record<string, unknown> | null; patient_id: string | null; state: InboundState; attempts: number;
};

function toRow(r: RawRow): InboundRow {
  return {
    id: Number(r.id), site: r.site, resourceType: r.resource_type, resourceId: r.resource_id, version: r.version,
    lastUpdated: r.last_updated ? new Date(r.last_updated).toISOString() : null, body: r.body, context: r.context,
    patientId: r.patient_id, state: r.state, attempts: r.attempts,
  };
}

/**
 * Loads rows by id (order by id) and locks them for this transaction, so two
 * deliveries of the same job cannot process a row twice: the second waits,
 * then sees the row no longer `received`.
 */
export async function claimInbound(db: Db, ids: readonly number[]): Promise<InboundRow[]> {
  if (!ids.length) return [];
  const r = await db.query<RawRow>(
    `SELECT id, site, resource_type, resource_id, version, last_updated, body, context, patient_id, state, attempts
     FROM inbound WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
    [ids],
  );
  return r.rows.map(toRow);
}

export async function setInboundStates(db: Db, updates: readonly { id: number; state: InboundState; error?: string | null }[]): Promise<void> {
  if (!updates.length) return;
  const { sql, params } = valuesList(updates.map((u) => [u.id, u.state, u.error ?? null]), ['bigint', 'text', 'text']);
  await db.query(
    `UPDATE inbound i SET state = u.state, last_error = u.error, attempts = i.attempts + 1, updated_at = now()
     FROM (VALUES ${sql}) AS u(id, state, error) WHERE i.id = u.id`,
    params,
  );
}

/**
 * Ids of versions of the same resources that are newer than the given rows
 * (by meta.lastUpdated, then arrival), limited to versions already processed.
 */
export async function newerVersionExists(db: Db, rows: readonly InboundRow[]): Promise<Set<number>> {
  if (!rows.length) return new Set();
  const { sql, params } = valuesList(rows.map((r) => [r.id]), ['bigint']);
  const r = await db.query<{ id: number }>(
    `SELECT DISTINCT me.id FROM inbound me JOIN (VALUES ${sql}) AS k(id) ON me.id = k.id
     JOIN inbound o ON o.site = me.site AND o.resource_type = me.resource_type AND o.resource_id = me.resource_id AND o.id <> me.id
     WHERE o.state IN ('mapped', 'needs_review', 'unmatched')
       AND (coalesce(o.last_updated, o.received_at), o.id) > (coalesce(me.last_updated, me.received_at), me.id)`,
    params,
  );
  return new Set(r.rows.map((x) => Number(x.id)));
}

export interface InboundSummary {
  id: number; site: string; resourceType: string; resourceId: string; version: string; state: InboundState;
  attempts: number; lastError: string | null; receivedAt: string; updatedAt: string;
}

/** Lists rows by state without bodies (no PHI in listings). Keyset pagination on id. */
/**
 * Which inbound rows a reader may list: `all`, or the (trial, site) pairs of
 * their grants. An inbound row has a site but no trial of its own; it belongs
 * to a trial through the enrollment of its patient (or, for a ResearchSubject,
 * its own enrollment), so a reader of one trial does not see another trial's
 * traffic at a shared site (README "Review API": scope).
 */
export interface InboundScope {
  readonly all: boolean;
  readonly pairs: readonly { readonly trial: string; readonly site: string }[];
}

export async function listInbound(db: Db, q: { state?: InboundState; site?: string; afterId?: number; limit: number; scope?: InboundScope }): Promise<InboundSummary[]> {
  const params: unknown[] = [q.state ?? null, q.site ?? null, q.afterId ?? 0, q.limit];
  let scope = 'TRUE';
  if (q.scope && !q.scope.all) {
    params.push(q.scope.pairs.map((x) => x.trial), q.scope.pairs.map((x) => x.site));
    scope = `EXISTS (SELECT 1 FROM unnest($5::text[], $6::text[]) AS g(trial, site) WHERE (g.site = '*' OR g.site = i.site) AND (g.trial = '*'
      OR EXISTS (SELECT 1 FROM enrollments e WHERE e.site = i.site AND e.trial = g.trial AND (e.inbound_id = i.id OR (i.patient_id IS NOT NULL AND e.patient_id = i.patient_id)))))`;
  }
  const r = await db.query<{ id: number; site: string; resource_type: string; resource_id: string; version: string; state: InboundState; attempts: number; last_error: string | null; received_at: Date; updated_at: Date }>(
    `SELECT id, site, resource_type, resource_id, version, state, attempts, last_error, received_at, updated_at FROM inbound i
     WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR site = $2) AND id > $3 AND ${scope}
     ORDER BY id LIMIT $4`,
    params,
  );
  return r.rows.map((x) => ({
    id: Number(x.id), site: x.site, resourceType: x.resource_type, resourceId: x.resource_id, version: x.version, state: x.state,
    attempts: x.attempts, lastError: x.last_error, receivedAt: new Date(x.received_at).toISOString(), updatedAt: new Date(x.updated_at).toISOString(),
  }));
}

/** The stored body and context of one inbound row (a person resolving a review item reads its source). */
export async function inboundBody(db: Db, id: number): Promise<{ body: Record<string, unknown>; context: Record<string, unknown> | null } | null> {
  const r = await db.query<{ body: Record<string, unknown>; context: Record<string, unknown> | null }>('SELECT body, context FROM inbound WHERE id = $1', [id]);
  return r.rows[0] ?? null;
}

/** Rows left in 'received' for longer than `olderThanMs` (Redis was down when they arrived). */
export async function staleReceived(db: Db, olderThanMs: number, limit: number): Promise<number[]> {
  const r = await db.query<{ id: number }>(
    `SELECT id FROM inbound WHERE state = 'received' AND updated_at < now() - ($1::double precision * interval '1 millisecond') ORDER BY id LIMIT $2`,
    [olderThanMs, limit],
  );
  return r.rows.map((x) => Number(x.id));
}

/** Parked rows of these patients, moved back to 'received' for re-mapping. */
export async function releaseUnmatched(db: Db, site: string, patientIds: readonly string[]): Promise<number[]> {
  if (!patientIds.length) return [];
  const r = await db.query<{ id: number }>(
    `UPDATE inbound SET state = 'received', updated_at = now() WHERE state = 'unmatched' AND site = $1 AND patient_id = ANY($2::text[]) RETURNING id`,
    [site, patientIds],
  );
  return r.rows.map((x) => Number(x.id)).sort((a, b) => a - b);
}

export async function countByState(db: Db): Promise<Record<string, number>> {
  const r = await db.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM inbound GROUP BY state');
  return Object.fromEntries(r.rows.map((x) => [x.state, Number(x.n)]));
}
