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

/** Reason of the review item raised for a value that waits for re-review. */
export const SOURCE_CHANGED_AFTER_REVIEW = 'source-changed-after-review';

/**
 * A new version of a source resource whose older value a person accepted,
 * corrected or rejected does not silently replace that decision: the person's
 * value keeps its status and keeps counting, and the new version's value is
 * marked as waiting for re-review (`rereview_of`) and raises a review item
 * (README "Review API": new versions). Values are matched by source resource
 * and CRF item, so a value a person entered by hand (rule `manual`) counts too.
 * Returns the ids of the values marked.
 */
export async function markRereviews(db: Db, inboundIds: readonly number[]): Promise<number[]> {
  if (!inboundIds.length) return [];
  const r = await db.query<{ id: number; inbound_id: number; trial: string; subject: string; rule_id: string; form: string; item: string; old_id: number; source_type: string; source_id: string; source_version: string }>(
    `WITH prior AS (
       SELECT DISTINCT ON (n.id) n.id, o.id AS old_id FROM crf_values n
       JOIN crf_values o ON o.site = n.site AND o.source_type = n.source_type AND o.source_id = n.source_id AND o.trial = n.trial
         AND o.subject = n.subject AND o.form = n.form AND o.item = n.item AND o.inbound_id <> n.inbound_id
         AND o.status IN ('accepted', 'corrected', 'rejected')
       WHERE n.inbound_id = ANY($1::bigint[]) AND n.status = 'auto' AND n.rereview_of IS NULL
       ORDER BY n.id, o.id DESC)
     UPDATE crf_values c SET rereview_of = prior.old_id, updated_at = now() FROM prior WHERE c.id = prior.id
     RETURNING c.id, c.inbound_id, c.trial, c.subject, c.rule_id, c.form, c.item, prior.old_id, c.source_type, c.source_id, c.source_version`,
    [inboundIds],
  );
  // The detail names references and ids only, never the values (design.md habit 9).
  await insertReviewItems(db, r.rows.map((x) => ({
    inboundId: Number(x.inbound_id), trial: x.trial, subject: x.subject, ruleId: x.rule_id, reason: SOURCE_CHANGED_AFTER_REVIEW,
    detail: `${x.source_type}/${x.source_id} version ${x.source_version} arrived after a person reviewed CRF value ${x.old_id} (${x.form}.${x.item}); its value ${x.id} counts once a person accepts it`,
  })));
  return r.rows.map((x) => Number(x.id));
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

/** A person's review of a CRF value (migration 009). */
export interface CrfReview {
  readonly by: string | null;
  readonly at: string | null;
  readonly reason: string | null;
  readonly note: string | null;
  /** What the pipeline had computed before a person corrected the value (null when never corrected). */
  readonly autoValue: number | string | null;
  readonly autoUnit: string | null;
}

export interface CrfValueRow {
  id: number; trial: string; subject: string; site: string; form: string; item: string; value: number | string; unit: string | null;
  originalValue: number | string; originalUnit: string | null; effective: string;
  source: { reference: string; version: string; inboundId: number; localCode: string | null }; ruleId: string; code: string; status: string;
  review: CrfReview;
  /** The reviewed value of an older source version this value competes with (README "Review API": re-review). */
  rereviewOf: number | null;
  /** True while a person has not decided about a value of a newer version: it counts in no evaluation. */
  pendingReview: boolean;
}

/** Columns read into a CrfValueRow, for every query of crf_values. */
export const CRF_COLUMNS = `id, trial, subject, site, form, item, value, unit, original_value, original_unit, effective, source_type, source_id, source_version,
  inbound_id, rule_id, code, local_code, status, reviewed_by, reviewed_at, review_reason, review_note, auto_value, auto_unit, rereview_of`;

export interface RawCrfValue {
  id: number; trial: string; subject: string; site: string; form: string; item: string; value: number | string; unit: string | null;
  original_value: number | string; original_unit: string | null; effective: Date; source_type: string; source_id: string; source_version: string;
  inbound_id: number; rule_id: string; code: string; local_code: string | null; status: string;
  reviewed_by: string | null; reviewed_at: Date | null; review_reason: string | null; review_note: string | null;
  auto_value: number | string | null; auto_unit: string | null; rereview_of: number | null;
}

export function crfValueRow(x: RawCrfValue): CrfValueRow {
  return {
    id: Number(x.id), trial: x.trial, subject: x.subject, site: x.site, form: x.form, item: x.item, value: x.value, unit: x.unit,
    originalValue: x.original_value, originalUnit: x.original_unit, effective: new Date(x.effective).toISOString(),
    source: { reference: `${x.source_type}/${x.source_id}`, version: x.source_version, inboundId: Number(x.inbound_id), localCode: x.local_code },
    ruleId: x.rule_id, code: x.code, status: x.status,
    review: {
      by: x.reviewed_by, at: x.reviewed_at ? new Date(x.reviewed_at).toISOString() : null, reason: x.review_reason, note: x.review_note,
      autoValue: x.auto_value ?? null, autoUnit: x.auto_unit,
    },
    rereviewOf: x.rereview_of === null ? null : Number(x.rereview_of),
    pendingReview: x.status === 'auto' && x.rereview_of !== null,
  };
}

export async function subjectCrf(db: Db, subject: string, opts: { trial?: string; site?: string; includeSuperseded?: boolean } = {}): Promise<CrfValueRow[]> {
  const r = await db.query<RawCrfValue>(
    `SELECT ${CRF_COLUMNS}
     FROM crf_values WHERE subject = $1 AND ($2::text IS NULL OR trial = $2) AND ($3 OR status <> 'superseded') AND ($4::text IS NULL OR site = $4)
     ORDER BY trial, form, item, effective, id`,
    [subject, opts.trial ?? null, opts.includeSuperseded ?? false, opts.site ?? null],
  );
  return r.rows.map(crfValueRow);
}

/** A CRF value by id, or null. */
export async function crfValueById(db: Db, id: number, forUpdate = false): Promise<CrfValueRow | null> {
  const r = await db.query<RawCrfValue>(`SELECT ${CRF_COLUMNS} FROM crf_values WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows.length ? crfValueRow(r.rows[0]) : null;
}

export interface ReviewItemRow {
  id: number; inboundId: number; trial: string; subject: string; site: string; resource: string; version: string; ruleId: string; reason: string; detail: string;
  status: string; createdAt: string;
  resolvedBy: string | null; resolvedAt: string | null; resolutionReason: string | null; resolutionNote: string | null; crfValueId: number | null;
}

interface RawReviewItem {
  id: number; inbound_id: number; trial: string; subject: string; site: string; resource_type: string; resource_id: string; version: string; rule_id: string;
  reason: string; detail: string; status: string; created_at: Date;
  resolved_by: string | null; resolved_at: Date | null; resolution_reason: string | null; resolution_note: string | null; crf_value_id: number | null;
}

/** Review items joined to their inbound row (site, resource, version), as `x`, for scope conditions on x.trial and x.site. */
const REVIEW_ITEMS_X = `(SELECT r.id, r.inbound_id, r.trial, r.subject, i.site, i.resource_type, i.resource_id, i.version, r.rule_id, r.reason, r.detail, r.status,
  r.created_at, r.resolved_by, r.resolved_at, r.resolution_reason, r.resolution_note, r.crf_value_id
  FROM review_items r JOIN inbound i ON i.id = r.inbound_id) x`;

function reviewItemRow(x: RawReviewItem): ReviewItemRow {
  return {
    id: Number(x.id), inboundId: Number(x.inbound_id), trial: x.trial, subject: x.subject, site: x.site, resource: `${x.resource_type}/${x.resource_id}`,
    version: x.version, ruleId: x.rule_id, reason: x.reason, detail: x.detail, status: x.status, createdAt: new Date(x.created_at).toISOString(),
    resolvedBy: x.resolved_by, resolvedAt: x.resolved_at ? new Date(x.resolved_at).toISOString() : null, resolutionReason: x.resolution_reason,
    resolutionNote: x.resolution_note, crfValueId: x.crf_value_id === null ? null : Number(x.crf_value_id),
  };
}

/** An SQL condition over `x.trial` / `x.site` (http/scope.ts scopeSql) with its parameters starting at $1. */
export interface ScopeCondition {
  readonly sql: string;
  readonly params: readonly unknown[];
}

export async function listReviewItems(
  db: Db,
  q: { status?: string; reason?: string; subject?: string; trial?: string; site?: string; afterId?: number; limit: number; scope?: ScopeCondition },
): Promise<ReviewItemRow[]> {
  const params: unknown[] = [...(q.scope?.params ?? [])];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const r = await db.query<RawReviewItem>(
    `SELECT * FROM ${REVIEW_ITEMS_X}
     WHERE (${q.scope?.sql ?? 'TRUE'}) AND (${p(q.status ?? null)}::text IS NULL OR x.status = $${params.length}) AND (${p(q.reason ?? null)}::text IS NULL OR x.reason = $${params.length})
       AND (${p(q.subject ?? null)}::text IS NULL OR x.subject = $${params.length}) AND (${p(q.trial ?? null)}::text IS NULL OR x.trial = $${params.length})
       AND (${p(q.site ?? null)}::text IS NULL OR x.site = $${params.length}) AND x.id > ${p(q.afterId ?? 0)}
     ORDER BY x.id LIMIT ${p(q.limit)}`,
    params,
  );
  return r.rows.map(reviewItemRow);
}

/** One review item by id, or null. */
export async function reviewItemById(db: Db, id: number, forUpdate = false): Promise<ReviewItemRow | null> {
  const r = forUpdate
    ? await db.query<RawReviewItem>(
        `SELECT r.id, r.inbound_id, r.trial, r.subject, i.site, i.resource_type, i.resource_id, i.version, r.rule_id, r.reason, r.detail, r.status,
           r.created_at, r.resolved_by, r.resolved_at, r.resolution_reason, r.resolution_note, r.crf_value_id
         FROM review_items r JOIN inbound i ON i.id = r.inbound_id WHERE r.id = $1 FOR UPDATE OF r`,
        [id],
      )
    : await db.query<RawReviewItem>(`SELECT * FROM ${REVIEW_ITEMS_X} WHERE x.id = $1`, [id]);
  return r.rows.length ? reviewItemRow(r.rows[0]) : null;
}
