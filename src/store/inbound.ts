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
  readonly version: string;
  readonly lastUpdated: string | null;
  readonly contentHash: string;
  readonly body: unknown;
  readonly context: Record<string, unknown> | null;
  readonly patientId: string | null;
}

export interface InsertResult {
  readonly id: number;
  /** false when this exact version was already stored (a redelivery). */
  readonly created: boolean;
  readonly state: InboundState;
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

const COLS = '(site, resource_type, resource_id, version, last_updated, content_hash, body, context, patient_id)';

/** Inserts resource versions; an already stored version is reported, not changed. Order of results = order of input. */
export async function insertInbound(db: Db, items: readonly NewInbound[]): Promise<InsertResult[]> {
  const results = new Map<string, InsertResult>();
  const key = (s: string, t: string, i: string, v: string) => `${s}\u0000${t}\u0000${i}\u0000${v}`;
  for (const part of chunks(items, 500)) {
    const { sql, params } = valuesList(
      part.map((x) => [x.site, x.resourceType, x.resourceId, x.version, x.lastUpdated, x.contentHash, JSON.stringify(x.body), x.context ? JSON.stringify(x.context) : null, x.patientId]),
      ['', '', '', '', 'timestamptz', '', 'jsonb', 'jsonb', ''],
    );
    const ins = await db.query<{ id: number; site: string; resource_type: string; resource_id: string; version: string }>(
      `INSERT INTO inbound ${COLS} VALUES ${sql} ON CONFLICT (site, resource_type, resource_id, version) DO NOTHING
       RETURNING id, site, resource_type, resource_id, version`,
      params,
    );
    for (const r of ins.rows) results.set(key(r.site, r.resource_type, r.resource_id, r.version), { id: r.id, created: true, state: 'received' });
    const missing = part.filter((x) => !results.has(key(x.site, x.resourceType, x.resourceId, x.version)));
    if (missing.length) {
      const m = valuesList(missing.map((x) => [x.site, x.resourceType, x.resourceId, x.version]));
      const old = await db.query<{ id: number; site: string; resource_type: string; resource_id: string; version: string; state: InboundState }>(
        `SELECT i.id, i.site, i.resource_type, i.resource_id, i.version, i.state FROM inbound i
         JOIN (VALUES ${m.sql}) AS k(site, resource_type, resource_id, version)
           ON i.site = k.site AND i.resource_type = k.resource_type AND i.resource_id = k.resource_id AND i.version = k.version`,
        m.params,
      );
      for (const r of old.rows) results.set(key(r.site, r.resource_type, r.resource_id, r.version), { id: r.id, created: false, state: r.state });
    }
  }
  return items.map((x) => {
    const r = results.get(key(x.site, x.resourceType, x.resourceId, x.version));
    if (!r) throw new Error(`inbound row for ${x.resourceType}/${x.resourceId} neither inserted nor found`);
    return r;
  });
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
export async function listInbound(db: Db, q: { state?: InboundState; site?: string; afterId?: number; limit: number }): Promise<InboundSummary[]> {
  const r = await db.query<{ id: number; site: string; resource_type: string; resource_id: string; version: string; state: InboundState; attempts: number; last_error: string | null; received_at: Date; updated_at: Date }>(
    `SELECT id, site, resource_type, resource_id, version, state, attempts, last_error, received_at, updated_at FROM inbound
     WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR site = $2) AND id > $3
     ORDER BY id LIMIT $4`,
    [q.state ?? null, q.site ?? null, q.afterId ?? 0, q.limit],
  );
  return r.rows.map((x) => ({
    id: Number(x.id), site: x.site, resourceType: x.resource_type, resourceId: x.resource_id, version: x.version, state: x.state,
    attempts: x.attempts, lastError: x.last_error, receivedAt: new Date(x.received_at).toISOString(), updatedAt: new Date(x.updated_at).toISOString(),
  }));
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
