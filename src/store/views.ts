/**
 * Read-only queries behind the workbench pages (src/ui). Every query takes the
 * reader's scope as an SQL condition over `trial` and `site` columns (built by
 * the caller from http/scope.ts `scopeSql`, so store/ does not import http/),
 * and never returns a row outside it.
 *
 * Columns that later migrations add (acknowledgement of flags, review states of
 * values) are read through `to_jsonb(row)`, so a page shows them when present
 * and does not break while they are absent.
 */
import type { Db } from './db';

/** Appends the scope's parameters to `params` and returns the condition on `<alias>.trial` / `<alias>.site`. */
export type ScopeFn = (params: unknown[], alias: string) => string;

/**
 * CRF values that wait for a data manager: `auto` (not yet reviewed). Among
 * them, those with `rereview_of` set came from a newer version of a source
 * whose older value a person had reviewed (migration 009): pending re-review.
 */
export const UNREVIEWED = `status = 'auto'`;
export const PENDING_REREVIEW = `status = 'auto' AND rereview_of IS NOT NULL`;

/**
 * Open review items with the site and resource of the inbound row they are
 * about (the site is the sender's: an item exists before any subject does).
 */
const OPEN_ITEMS = `SELECT ri.id, ri.trial, i.site, ri.subject, ri.reason, ri.detail, i.resource_type, i.resource_id, ri.created_at
  FROM review_items ri JOIN inbound i ON i.id = ri.inbound_id WHERE ri.status = 'open'`;

const iso = (d: Date | string | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

// ---------------------------------------------------------------------------------------------
// Overview

export interface TrialOverview {
  readonly trial: string;
  /** Enrollment status (ResearchSubject.status) -> subjects. */
  readonly statuses: Record<string, number>;
  /** eligible / needs-review / ineligible / not evaluated -> subjects. */
  readonly eligibility: Record<string, number>;
  /** Open flag code -> count. */
  readonly openFlags: Record<string, number>;
  readonly openReviewItems: number;
  readonly unreviewedValues: number;
  /** Sites with subjects in this trial, and the last time any data arrived from each. */
  readonly sites: { site: string; subjects: number; lastReceivedAt: string | null }[];
}

/** Per-trial counts for the overview page: one statement per dimension, each a single grouped scan. */
export async function trialOverview(db: Db, scope: ScopeFn): Promise<TrialOverview[]> {
  const by = new Map<string, { statuses: Record<string, number>; eligibility: Record<string, number>; openFlags: Record<string, number>; openReviewItems: number; unreviewedValues: number; sites: Map<string, { subjects: number; lastReceivedAt: string | null }> }>();
  const t = (trial: string) => {
    let o = by.get(trial);
    if (!o) by.set(trial, (o = { statuses: {}, eligibility: {}, openFlags: {}, openReviewItems: 0, unreviewedValues: 0, sites: new Map() }));
    return o;
  };
  let p: unknown[] = [];
  const subjects = await db.query<{ trial: string; site: string; status: string; eligibility: string | null; n: number }>(
    `WITH e AS (SELECT DISTINCT ON (trial, site, subject) trial, site, subject, status FROM enrollments e WHERE ${scope((p = []), 'e')} ORDER BY trial, site, subject, updated_at DESC)
     SELECT e.trial, e.site, e.status, r.report->'eligibility'->>'overall' AS eligibility, count(*)::int AS n
     FROM e LEFT JOIN subject_reports r ON r.trial = e.trial AND r.site = e.site AND r.subject = e.subject
     GROUP BY 1, 2, 3, 4`,
    p,
  );
  for (const r of subjects.rows) {
    const o = t(r.trial);
    o.statuses[r.status] = (o.statuses[r.status] ?? 0) + r.n;
    const el = r.eligibility ?? 'not-evaluated';
    o.eligibility[el] = (o.eligibility[el] ?? 0) + r.n;
    const s = o.sites.get(r.site) ?? { subjects: 0, lastReceivedAt: null };
    s.subjects += r.n;
    o.sites.set(r.site, s);
  }
  const flags = await db.query<{ trial: string; code: string; n: number }>(
    `SELECT trial, code, count(*)::int AS n FROM flags f WHERE status = 'open' AND ${scope((p = []), 'f')} GROUP BY 1, 2`,
    p,
  );
  for (const r of flags.rows) t(r.trial).openFlags[r.code] = r.n;
  const items = await db.query<{ trial: string; n: number }>(
    `SELECT x.trial, count(*)::int AS n FROM (${OPEN_ITEMS}) x WHERE x.trial <> '' AND ${scope((p = []), 'x')} GROUP BY 1`,
    p,
  );
  for (const r of items.rows) t(r.trial).openReviewItems = r.n;
  const values = await db.query<{ trial: string; n: number }>(
    `SELECT trial, count(*)::int AS n FROM crf_values c WHERE ${UNREVIEWED} AND ${scope((p = []), 'c')} GROUP BY 1`,
    p,
  );
  for (const r of values.rows) t(r.trial).unreviewedValues = r.n;
  const siteIds = [...new Set([...by.values()].flatMap((o) => [...o.sites.keys()]))];
  if (siteIds.length) {
    const last = await db.query<{ site: string; at: Date }>('SELECT site, max(received_at) AS at FROM inbound WHERE site = ANY($1::text[]) GROUP BY site', [siteIds]);
    const at = new Map(last.rows.map((r) => [r.site, iso(r.at)]));
    for (const o of by.values()) for (const [site, s] of o.sites) s.lastReceivedAt = at.get(site) ?? null;
  }
  return [...by.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([trial, o]) => ({
    trial, statuses: o.statuses, eligibility: o.eligibility, openFlags: o.openFlags, openReviewItems: o.openReviewItems, unreviewedValues: o.unreviewedValues,
    sites: [...o.sites.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([site, s]) => ({ site, ...s })),
  }));
}

// ---------------------------------------------------------------------------------------------
// Subject list

export interface SubjectFilter {
  readonly trial?: string;
  readonly site?: string;
  /** ResearchSubject statuses to keep (already mapped from the page's status group). */
  readonly statuses?: readonly string[];
  readonly openFlags?: boolean;
  readonly needsReview?: boolean;
  /** Subject number prefix (case-insensitive). */
  readonly search?: string;
  readonly limit: number;
  readonly offset: number;
}

export interface SubjectListRow {
  readonly trial: string; readonly site: string; readonly subject: string; readonly status: string; readonly arm: string | null;
  readonly eligibility: string | null; readonly evaluatedAt: string | null; readonly openFlags: number; readonly openReviewItems: number; readonly unreviewedValues: number;
}

/** LIKE pattern for a prefix search: the user's text matched literally. */
const likePrefix = (s: string): string => `${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * One page of subjects with their open-flag, review-item and unreviewed-value
 * counts, in one statement: each count is grouped once over its table (a hash
 * join), not a subquery per subject, so 1,000 subjects stay one pass each.
 */
export async function listSubjects(db: Db, scope: ScopeFn, f: SubjectFilter): Promise<{ rows: SubjectListRow[]; total: number }> {
  const p: unknown[] = [];
  const add = (v: unknown) => (p.push(v), `$${p.length}`);
  const inScope = scope(p, 'e');
  const where: string[] = [];
  if (f.trial) where.push(`e.trial = ${add(f.trial)}`);
  if (f.site) where.push(`e.site = ${add(f.site)}`);
  if (f.statuses) where.push(`e.status = ANY(${add([...f.statuses])}::text[])`);
  if (f.search) where.push(`e.subject ILIKE ${add(likePrefix(f.search))}`);
  if (f.openFlags) where.push('coalesce(fl.n, 0) > 0');
  if (f.needsReview) where.push(`(coalesce(ri.n, 0) > 0 OR coalesce(cv.n, 0) > 0 OR r.report->'eligibility'->>'overall' = 'needs-review')`);
  const limit = add(f.limit);
  const offset = add(f.offset);
  const r = await db.query<{ trial: string; site: string; subject: string; status: string; arm: string | null; eligibility: string | null; evaluated_at: Date | null; flags: number; items: number; values: number; total: number }>(
    `WITH e AS (
       SELECT DISTINCT ON (trial, site, subject) trial, site, subject, status, arm FROM enrollments e WHERE ${inScope}
       ORDER BY trial, site, subject, updated_at DESC),
     fl AS (SELECT trial, site, subject, count(*)::int AS n FROM flags WHERE status = 'open' GROUP BY 1, 2, 3),
     ri AS (SELECT trial, site, subject, count(*)::int AS n FROM (${OPEN_ITEMS}) x GROUP BY 1, 2, 3),
     cv AS (SELECT trial, site, subject, count(*)::int AS n FROM crf_values WHERE ${UNREVIEWED} GROUP BY 1, 2, 3)
     SELECT e.trial, e.site, e.subject, e.status, e.arm, r.report->'eligibility'->>'overall' AS eligibility, r.evaluated_at,
            coalesce(fl.n, 0) AS flags, coalesce(ri.n, 0) AS items, coalesce(cv.n, 0) AS values, count(*) OVER ()::int AS total
     FROM e
     LEFT JOIN subject_reports r ON r.trial = e.trial AND r.site = e.site AND r.subject = e.subject
     LEFT JOIN fl ON fl.trial = e.trial AND fl.site = e.site AND fl.subject = e.subject
     LEFT JOIN ri ON ri.trial = e.trial AND ri.site = e.site AND ri.subject = e.subject
     LEFT JOIN cv ON cv.trial = e.trial AND cv.site = e.site AND cv.subject = e.subject
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY e.trial, e.site, e.subject LIMIT ${limit} OFFSET ${offset}`,
    p,
  );
  return {
    total: r.rows[0]?.total ?? 0,
    rows: r.rows.map((x) => ({
      trial: x.trial, site: x.site, subject: x.subject, status: x.status, arm: x.arm, eligibility: x.eligibility, evaluatedAt: iso(x.evaluated_at),
      openFlags: x.flags, openReviewItems: x.items, unreviewedValues: x.values,
    })),
  };
}

/** Distinct trials and sites of enrolled subjects in scope (filter choices). */
export async function subjectFacets(db: Db, scope: ScopeFn): Promise<{ trials: string[]; sites: string[] }> {
  const p: unknown[] = [];
  const r = await db.query<{ trial: string; site: string }>(`SELECT DISTINCT trial, site FROM enrollments e WHERE ${scope(p, 'e')}`, p);
  return { trials: [...new Set(r.rows.map((x) => x.trial))].sort(), sites: [...new Set(r.rows.map((x) => x.site))].sort() };
}

// ---------------------------------------------------------------------------------------------
// One subject

export interface SubjectKey {
  readonly trial: string;
  readonly site: string;
  readonly subject: string;
}

export interface SubjectValue {
  readonly id: number; readonly form: string; readonly item: string; readonly value: unknown; readonly unit: string | null;
  readonly effective: string; readonly status: string; readonly source: string; readonly sourceVersion: string;
  /** A newer version of a reviewed value, waiting for a person. */
  readonly pendingReReview: boolean;
}

export interface SubjectView {
  readonly enrollment: { status: string; arm: string | null };
  /** The stored subject report (same JSON as GET /api/subjects/:s/report), null before the first evaluation. */
  readonly report: Record<string, any> | null;
  readonly evaluatedAt: string | null;
  readonly values: SubjectValue[];
  readonly assignments: { visit: string; item: string; crfValueId: number; placement: string }[];
}

/** Everything the subject page shows, or null when the subject is not enrolled there or is outside the scope. */
export async function subjectView(db: Db, scope: ScopeFn, k: SubjectKey): Promise<SubjectView | null> {
  const p: unknown[] = [k.trial, k.site, k.subject];
  const e = await db.query<{ status: string; arm: string | null }>(
    `SELECT status, arm FROM enrollments e WHERE trial = $1 AND site = $2 AND subject = $3 AND ${scope(p, 'e')} ORDER BY updated_at DESC LIMIT 1`,
    p,
  );
  if (!e.rows.length) return null;
  const key = [k.trial, k.site, k.subject];
  const [rep, vals, asg] = await Promise.all([
    db.query<{ report: Record<string, any>; evaluated_at: Date }>('SELECT report, evaluated_at FROM subject_reports WHERE trial = $1 AND site = $2 AND subject = $3', key),
    db.query<{ id: number; form: string; item: string; value: unknown; unit: string | null; effective: Date; status: string; source_type: string; source_id: string; source_version: string; rereview: boolean }>(
      `SELECT id, form, item, value, unit, effective, status, source_type, source_id, source_version, (${PENDING_REREVIEW}) AS rereview FROM crf_values
       WHERE trial = $1 AND site = $2 AND subject = $3 ORDER BY form, item, effective, id`,
      key,
    ),
    db.query<{ visit: string; item: string; crf_value_id: number; placement: string }>(
      'SELECT visit, item, crf_value_id, placement FROM visit_assignments WHERE trial = $1 AND site = $2 AND subject = $3',
      key,
    ),
  ]);
  return {
    enrollment: e.rows[0],
    report: rep.rows[0]?.report ?? null,
    evaluatedAt: iso(rep.rows[0]?.evaluated_at),
    values: vals.rows.map((v) => ({
      id: Number(v.id), form: v.form, item: v.item, value: v.value, unit: v.unit, effective: iso(v.effective)!, status: v.status,
      source: `${v.source_type}/${v.source_id}`, sourceVersion: v.source_version, pendingReReview: v.rereview,
    })),
    assignments: asg.rows.map((a) => ({ visit: a.visit, item: a.item, crfValueId: Number(a.crf_value_id), placement: a.placement })),
  };
}

// ---------------------------------------------------------------------------------------------
// Review queue

export interface ReviewQueueItem {
  readonly id: number; readonly trial: string; readonly site: string; readonly subject: string; readonly reason: string; readonly detail: string;
  readonly resource: string; readonly createdAt: string;
}

export interface PendingValue {
  readonly id: number; readonly trial: string; readonly site: string; readonly subject: string; readonly form: string; readonly item: string;
  readonly value: unknown; readonly unit: string | null; readonly status: string; readonly updatedAt: string;
}

/** Open review items (with the source resource) and values waiting for re-review, oldest first, in scope. */
export async function reviewQueue(db: Db, scope: ScopeFn, limit = 200): Promise<{ items: ReviewQueueItem[]; pending: PendingValue[] }> {
  const p: unknown[] = [];
  const cond = scope(p, 'x');
  p.push(limit);
  const items = await db.query<{ id: number; trial: string; site: string; subject: string; reason: string; detail: string; resource_type: string; resource_id: string; created_at: Date }>(
    `SELECT * FROM (${OPEN_ITEMS}) x WHERE ${cond} ORDER BY x.id LIMIT $${p.length}`,
    p,
  );
  const q: unknown[] = [];
  const c = scope(q, 'c');
  q.push(limit);
  const pending = await db.query<{ id: number; trial: string; site: string; subject: string; form: string; item: string; value: unknown; unit: string | null; status: string; updated_at: Date }>(
    `SELECT id, trial, site, subject, form, item, value, unit, status, updated_at FROM crf_values c
     WHERE ${PENDING_REREVIEW} AND ${c} ORDER BY updated_at, id LIMIT $${q.length}`,
    q,
  );
  return {
    items: items.rows.map((x) => ({ id: Number(x.id), trial: x.trial, site: x.site, subject: x.subject, reason: x.reason, detail: x.detail, resource: `${x.resource_type}/${x.resource_id}`, createdAt: iso(x.created_at)! })),
    pending: pending.rows.map((x) => ({ id: Number(x.id), trial: x.trial, site: x.site, subject: x.subject, form: x.form, item: x.item, value: x.value, unit: x.unit, status: x.status, updatedAt: iso(x.updated_at)! })),
  };
}

// ---------------------------------------------------------------------------------------------
// Flags

export interface InboxFlag {
  readonly id: number; readonly trial: string; readonly site: string; readonly subject: string; readonly code: string; readonly severity: string;
  readonly visit: string | null; readonly criterion: string | null; readonly message: string; readonly raisedAt: string;
  readonly acknowledgedAt: string | null; readonly acknowledgedBy: string | null;
}

const SEVERITY_ORDER = `CASE f.severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END`;

/** Open flags in scope, by severity then age (oldest first). */
export async function flagInbox(db: Db, scope: ScopeFn, f: { trial?: string; site?: string; code?: string; subject?: string; limit: number }): Promise<InboxFlag[]> {
  const p: unknown[] = [];
  const where = [`f.status = 'open'`, scope(p, 'f')];
  const eq = (col: string, v: string | undefined) => {
    if (v === undefined) return;
    p.push(v);
    where.push(`f.${col} = $${p.length}`);
  };
  eq('trial', f.trial);
  eq('site', f.site);
  eq('code', f.code);
  eq('subject', f.subject);
  p.push(f.limit);
  const r = await db.query<{ row: Record<string, any> }>(
    `SELECT to_jsonb(f) AS row FROM flags f WHERE ${where.join(' AND ')} ORDER BY ${SEVERITY_ORDER}, f.raised_at, f.id LIMIT $${p.length}`,
    p,
  );
  return r.rows.map(({ row: x }) => ({
    id: Number(x.id), trial: x.trial, site: x.site, subject: x.subject, code: x.code, severity: x.severity, visit: x.visit, criterion: x.criterion,
    message: x.message, raisedAt: iso(x.raised_at)!, acknowledgedAt: iso(x.acknowledged_at), acknowledgedBy: x.acknowledged_by ?? null,
  }));
}

/** Open flag codes in scope (filter choices). */
export async function openFlagCodes(db: Db, scope: ScopeFn): Promise<string[]> {
  const p: unknown[] = [];
  const r = await db.query<{ code: string }>(`SELECT DISTINCT code FROM flags f WHERE status = 'open' AND ${scope(p, 'f')} ORDER BY code`, p);
  return r.rows.map((x) => x.code);
}

// ---------------------------------------------------------------------------------------------
// Live updates

export type ChangeEvent =
  | { readonly type: 'subject'; readonly trial: string; readonly site: string; readonly subject: string; readonly at: string }
  | { readonly type: 'flag'; readonly id: number; readonly trial: string; readonly site: string; readonly subject: string; readonly code: string; readonly severity: string; readonly at: string };

/**
 * What changed after `since` (ISO instant): re-evaluated subjects, changed CRF
 * values (as subject events) and raised or resolved flags. One statement for
 * every listener; the caller filters by each listener's scope. Keys and codes
 * only: no values, names or dates of care.
 */
export async function changesSince(db: Db, since: string, limit = 1000): Promise<ChangeEvent[]> {
  const r = await db.query<{ kind: string; trial: string; site: string; subject: string; id: number | null; code: string | null; severity: string | null; at: Date }>(
    `SELECT * FROM (
       SELECT 'subject' AS kind, trial, site, subject, NULL::bigint AS id, NULL AS code, NULL AS severity, evaluated_at AS at FROM subject_reports WHERE evaluated_at > $1
       UNION ALL
       SELECT 'subject', trial, site, subject, NULL, NULL, NULL, max(updated_at) FROM crf_values WHERE updated_at > $1 GROUP BY trial, site, subject
       UNION ALL
       SELECT 'flag', trial, site, subject, id, code, severity, greatest(raised_at, coalesce(resolved_at, raised_at)) FROM flags WHERE raised_at > $1 OR resolved_at > $1
     ) x ORDER BY at LIMIT $2`,
    [since, limit],
  );
  return r.rows.map((x) => x.kind === 'flag'
    ? { type: 'flag' as const, id: Number(x.id), trial: x.trial, site: x.site, subject: x.subject, code: x.code!, severity: x.severity!, at: iso(x.at)! }
    : { type: 'subject' as const, trial: x.trial, site: x.site, subject: x.subject, at: iso(x.at)! });
}

/** The database's clock, so watermarks never depend on this process's clock. */
export async function dbNow(db: Db): Promise<string> {
  const r = await db.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  return iso(r.rows[0].now)!;
}

// ---------------------------------------------------------------------------------------------
// Signatures and answers of one subject (migration 011)

export interface SignatureView {
  readonly id: number; readonly visit: string | null; readonly printedName: string; readonly meaning: string; readonly signedAt: string;
  readonly status: 'valid' | 'void'; readonly voidedAt: string | null; readonly voidReason: string | null;
}

/** The latest signature per visit (key '' = the whole CRF): valid, or void once the signed values changed. */
export async function latestSignatures(db: Db, k: SubjectKey): Promise<Map<string, SignatureView>> {
  const r = await db.query<{ id: number; visit: string | null; printed_name: string; meaning: string; signed_at: Date; voided_at: Date | null; void_reason: string | null }>(
    `SELECT DISTINCT ON (coalesce(visit, '')) id, visit, printed_name, meaning, signed_at, voided_at, void_reason FROM signatures
     WHERE trial = $1 AND site = $2 AND subject = $3 ORDER BY coalesce(visit, ''), id DESC`,
    [k.trial, k.site, k.subject],
  );
  return new Map(r.rows.map((x) => [x.visit ?? '', {
    id: Number(x.id), visit: x.visit, printedName: x.printed_name, meaning: x.meaning, signedAt: iso(x.signed_at)!,
    status: x.voided_at ? 'void' as const : 'valid' as const, voidedAt: iso(x.voided_at), voidReason: x.void_reason,
  }]));
}

export interface AnswerView { readonly answer: string; readonly note: string | null; readonly by: string; readonly at: string }

/** The latest clinician answer per criterion of one subject. */
export async function latestAnswers(db: Db, k: SubjectKey): Promise<Map<string, AnswerView>> {
  const r = await db.query<{ criterion: string; answer: string; note: string | null; printed_name: string; answered_at: Date }>(
    `SELECT DISTINCT ON (criterion) criterion, answer, note, printed_name, answered_at FROM clinician_answers
     WHERE trial = $1 AND subject = $3 AND site = $2 ORDER BY criterion, id DESC`,
    [k.trial, k.site, k.subject],
  );
  return new Map(r.rows.map((x) => [x.criterion, { answer: x.answer, note: x.note, by: x.printed_name, at: iso(x.answered_at)! }]));
}

/** Source reference (`Observation/x`) → CRF value ids of one subject, for evidence links. */
export async function valueIdsBySource(db: Db, k: SubjectKey): Promise<Map<string, number[]>> {
  const r = await db.query<{ ref: string; id: number }>(
    `SELECT source_type || '/' || source_id AS ref, id FROM crf_values WHERE trial = $1 AND site = $2 AND subject = $3 AND status <> 'superseded' ORDER BY id`,
    [k.trial, k.site, k.subject],
  );
  const m = new Map<string, number[]>();
  for (const x of r.rows) m.set(x.ref, [...(m.get(x.ref) ?? []), Number(x.id)]);
  return m;
}
