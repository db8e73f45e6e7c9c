/** CRF values with provenance, and review items. */
import type { MappedValue } from '../mapping/types';
import type { Db } from './db';
import { chunks, valuesList } from './sql';

/** A mapped value (src/mapping) with the subject and the source it came from: one CRF row with provenance. */
export interface NewCrfValue extends Omit<MappedValue, 'kind'> {
  readonly subject: string;
  readonly site: string;
  readonly sourceType: string;
  readonly sourceId: string;
  readonly sourceVersion: string;
  readonly inboundId: number;
}

/** Idempotent upsert keyed on (trial, subject, site, source, version, rule): a retried job writes nothing new. */
export async function upsertCrfValues(db: Db, values: readonly NewCrfValue[]): Promise<void> {
  for (const part of chunks(values, 400)) {
    const { sql, params } = valuesList(
      part.map((v) => [v.trial, v.subject, v.site, v.form, v.item, JSON.stringify(v.value), v.unit, JSON.stringify(v.originalValue), v.originalUnit, v.effective, v.sourceType, v.sourceId, v.sourceVersion, v.inboundId, v.ruleId, v.code, v.localCode ?? null]),
      ['', '', '', '', '', 'jsonb', '', 'jsonb', '', 'timestamptz', '', '', '', 'bigint', '', '', ''],
    );
    await db.query(
      `INSERT INTO crf_values (trial, subject, site, form, item, value, unit, original_value, original_unit, effective, source_type, source_id, source_version, inbound_id, rule_id, code, local_code)
       VALUES ${sql} ON CONFLICT (trial, subject, site, source_type, source_id, source_version, rule_id) DO NOTHING`,
      params,
    );
  }
}

/**
 * Marks automatic values from older versions of the given source resources as
 * superseded: a newer version of a lab result replaces the old CRF value
 *. Values a data manager already accepted or corrected keep their
 * status; the review workflow decides about them.
 */
export async function supersedeOlderVersions(db: Db, inboundIds: readonly number[]): Promise<number> {
  if (!inboundIds.length) return 0;
  // Two steps: older versions are rare, and a join straight into crf_values made
  // the planner scan it (measured: this step took 60% of a map job).
  const older = await db.query<{ id: number }>(
    `SELECT DISTINCT old.id FROM inbound me
     JOIN inbound old ON old.site = me.site AND old.resource_type = me.resource_type AND old.resource_id = me.resource_id AND old.id <> me.id
     WHERE me.id = ANY($1::bigint[])
       AND (coalesce(old.last_updated, old.received_at), old.id) < (coalesce(me.last_updated, me.received_at), me.id)`,
    [inboundIds],
  );
  if (!older.rows.length) return 0;
  // The problems of an older version are gone with it (a corrected result replaces a unit-less one).
  await db.query(`UPDATE review_items SET status = 'resolved' WHERE inbound_id = ANY($1::bigint[]) AND status = 'open'`, [older.rows.map((x) => x.id)]);
  const r = await db.query(
    `UPDATE crf_values SET status = 'superseded', updated_at = now() WHERE inbound_id = ANY($1::bigint[]) AND status = 'auto'`,
    [older.rows.map((x) => x.id)],
  );
  return r.rowCount;
}

export interface NewReviewItem {
  readonly inboundId: number;
  readonly trial: string | null;
  readonly subject: string | null;
  readonly ruleId: string | null;
  readonly reason: string;
  readonly detail: string;
}

export async function insertReviewItems(db: Db, items: readonly NewReviewItem[]): Promise<void> {
  // One item per unique key (the first wins), so no statement meets its own row twice.
  const byKey = new Map<string, NewReviewItem>();
  for (const i of items) {
    const key = JSON.stringify([i.inboundId, i.trial ?? '', i.ruleId ?? '', i.reason]);
    if (!byKey.has(key)) byKey.set(key, i);
  }
  const unique = [...byKey.values()];
  for (const part of chunks(unique, 1000)) {
    const { sql, params } = valuesList(part.map((i) => [i.inboundId, i.trial ?? '', i.subject ?? '', i.ruleId ?? '', i.reason, i.detail]), ['bigint']);
    await db.query(
      `INSERT INTO review_items (inbound_id, trial, subject, rule_id, reason, detail) VALUES ${sql}
       ON CONFLICT (inbound_id, trial, rule_id, reason) DO NOTHING`,
      params,
    );
  }
}

export interface CrfValueRow {
  id: number; trial: string; subject: string; site: string; form: string; item: string; value: number | string; unit: string | null;
  originalValue: number | string; originalUnit: string | null; effective: string;
  source: { reference: string; version: string; inboundId: number; localCode: string | null }; ruleId: string; code: string; status: string;
}

export async function subjectCrf(db: Db, subject: string, opts: { trial?: string; includeSuperseded?: boolean } = {}): Promise<CrfValueRow[]> {
  const r = await db.query<{
    id: number; trial: string; subject: string; site: string; form: string; item: string; value: number | string; unit: string | null;
    original_value: number | string; original_unit: string | null; effective: Date; source_type: string; source_id: string; source_version: string;
    inbound_id: number; rule_id: string; code: string; local_code: string | null; status: string;
  }>(
    `SELECT id, trial, subject, site, form, item, value, unit, original_value, original_unit, effective, source_type, source_id, source_version, inbound_id, rule_id, code, local_code, status
     FROM crf_values WHERE subject = $1 AND ($2::text IS NULL OR trial = $2) AND ($3 OR status <> 'superseded')
     ORDER BY trial, form, item, effective, id`,
    [subject, opts.trial ?? null, opts.includeSuperseded ?? false],
  );
  return r.rows.map((x) => ({
    id: Number(x.id), trial: x.trial, subject: x.subject, site: x.site, form: x.form, item: x.item, value: x.value, unit: x.unit,
    originalValue: x.original_value, originalUnit: x.original_unit, effective: new Date(x.effective).toISOString(),
    source: { reference: `${x.source_type}/${x.source_id}`, version: x.source_version, inboundId: Number(x.inbound_id), localCode: x.local_code },
    ruleId: x.rule_id, code: x.code, status: x.status,
  }));
}

export interface ReviewItemRow { id: number; inboundId: number; trial: string; subject: string; ruleId: string; reason: string; detail: string; status: string; createdAt: string }

export async function listReviewItems(db: Db, q: { status?: string; reason?: string; subject?: string; afterId?: number; limit: number }): Promise<ReviewItemRow[]> {
  const r = await db.query<{ id: number; inbound_id: number; trial: string; subject: string; rule_id: string; reason: string; detail: string; status: string; created_at: Date }>(
    `SELECT id, inbound_id, trial, subject, rule_id, reason, detail, status, created_at FROM review_items
     WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR reason = $2) AND ($3::text IS NULL OR subject = $3) AND id > $4
     ORDER BY id LIMIT $5`,
    [q.status ?? null, q.reason ?? null, q.subject ?? null, q.afterId ?? 0, q.limit],
  );
  return r.rows.map((x) => ({ id: Number(x.id), inboundId: Number(x.inbound_id), trial: x.trial, subject: x.subject, ruleId: x.rule_id, reason: x.reason, detail: x.detail, status: x.status, createdAt: new Date(x.created_at).toISOString() }));
}
