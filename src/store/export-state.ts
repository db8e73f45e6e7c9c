/**
 * The transactional state of ODM exports (migration 016 `export_sent`): what the
 * trial database holds after the transactional files sent so far to one
 * (trial, sites), and the changes since (ODM 1.3.2 TransactionType Insert,
 * Update, Remove). Read and written inside the export's transaction, under its
 * advisory lock, so two exports of one scope never send the same change twice.
 */
import { createHash } from 'node:crypto';
import { valueKey, type ExportValue, type ValueChange } from '../export';
import type { Db } from './db';
import { chunks } from './sql';

/** The state key of a scope: site ids sorted and joined, or '*'. */
export function sitesKey(sites: readonly string[]): string {
  return [...new Set(sites)].sort().join(',');
}

/**
 * SHA-256 of what the trial database sees of a value: everything but the
 * internal row id, so a re-mapped row with the same content is no change, and a
 * review (new audit record) or a correction is an Update.
 */
export function contentHash(v: ExportValue): string {
  const { id: _id, ...content } = v;
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}

/** advisory-lock namespace of transactional exports (pg_advisory_xact_lock(int, int)); the second key is the scope's hash. */
const EXPORT_LOCK_NAMESPACE = 7_243_016;

/** Serialises transactional exports of one (trial, sites) until the transaction ends. */
export async function lockScope(tx: Db, trial: string, key: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [EXPORT_LOCK_NAMESPACE, `${trial}|${key}`]);
}

export interface PlannedChanges {
  readonly changes: ValueChange[];
  /** Hashes of the values to record as sent (inserts and updates). */
  readonly hashes: ReadonlyMap<string, string>;
}

/**
 * The changes from the sent state to `values` (already in export order):
 * inserts and updates in that order, then the removes, each carrying the value as
 * it was last sent so the file can name its event, form and item group.
 */
export async function planChanges(tx: Db, trial: string, key: string, values: readonly ExportValue[]): Promise<PlannedChanges> {
  const sent = await tx.query<{ value_key: string; content_hash: string }>('SELECT value_key, content_hash FROM export_sent WHERE trial = $1 AND sites_key = $2', [trial, key]);
  const before = new Map(sent.rows.map((r) => [r.value_key, r.content_hash]));
  const changes: ValueChange[] = [];
  const hashes = new Map<string, string>();
  const seen = new Set<string>();
  for (const v of values) {
    const k = valueKey(v);
    seen.add(k);
    const h = contentHash(v);
    const was = before.get(k);
    if (was === h) continue;
    changes.push({ kind: was === undefined ? 'insert' : 'update', value: v });
    hashes.set(k, h);
  }
  const gone = [...before.keys()].filter((k) => !seen.has(k)).sort();
  for (const part of chunks(gone, 5000)) {
    const r = await tx.query<{ value_key: string; value: ExportValue }>('SELECT value_key, value FROM export_sent WHERE trial = $1 AND sites_key = $2 AND value_key = ANY($3::text[]) ORDER BY value_key', [trial, key, part]);
    for (const x of r.rows) changes.push({ kind: 'remove', value: x.value });
  }
  return { changes, hashes };
}

/** Moves the sent state by `changes`, recorded as sent by export `seq`. */
export async function applyChanges(tx: Db, trial: string, key: string, seq: number, planned: PlannedChanges): Promise<void> {
  const upserts = planned.changes.filter((c) => c.kind !== 'remove');
  // One JSON document per chunk (json_to_recordset): no array-literal escaping of 5,000 JSON strings.
  for (const part of chunks(upserts, 5000)) {
    const rows = part.map((c) => {
      const k = valueKey(c.value);
      return { k, h: planned.hashes.get(k)!, v: c.value };
    });
    await tx.query(
      `INSERT INTO export_sent (trial, sites_key, value_key, content_hash, value, export_seq)
       SELECT $1, $2, x.k, x.h, x.v, $3 FROM json_to_recordset($4::json) AS x(k text, h text, v jsonb)
       ON CONFLICT (trial, sites_key, value_key) DO UPDATE SET content_hash = EXCLUDED.content_hash, value = EXCLUDED.value, export_seq = EXCLUDED.export_seq`,
      [trial, key, seq, JSON.stringify(rows)],
    );
  }
  const removed = planned.changes.filter((c) => c.kind === 'remove').map((c) => valueKey(c.value));
  for (const part of chunks(removed, 5000)) {
    await tx.query('DELETE FROM export_sent WHERE trial = $1 AND sites_key = $2 AND value_key = ANY($3::text[])', [trial, key, part]);
  }
}
