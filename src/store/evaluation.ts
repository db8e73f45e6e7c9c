/** Subject reports, visit assignments and flags (the live evaluation path). */
import crypto from 'node:crypto';
import { appendAudit, type Actor } from './audit';
import type { Db } from './db';
import { filters, valuesList } from './sql';

export interface FlagInput {
  readonly code: string;
  readonly severity: string;
  readonly visit: string | null;
  readonly criterion: string | null;
  readonly message: string;
  readonly evidence: readonly string[];
}

export interface AssignmentInput {
  readonly visit: string;
  readonly item: string;
  readonly crfValueId: number;
  readonly placement: string;
}

/**
 * Identity of a flag's cause: code, visit and criterion; for a value needing
 * review, also its source (one flag per problem value).
 */
export const flagKey = (f: Pick<FlagInput, 'code' | 'visit' | 'criterion' | 'evidence'>): string =>
  [f.code, f.visit ?? '', f.criterion ?? '', f.code === 'value-needs-review' ? [...f.evidence].sort().join(',') : ''].join('|');

const SEVERITY_RANK: Readonly<Record<string, number>> = { info: 0, warning: 1, error: 2 };

/**
 * One flag per key: two causes with the same identity (e.g. two review items on one
 * Observation) become one flag with both messages and all evidence. A multi-row
 * `ON CONFLICT DO UPDATE` must never see a key twice: PostgreSQL rejects the whole
 * statement ("cannot affect row a second time"), and the subject would never be
 * evaluated again.
 */
export function mergeFlagsByKey(flags: readonly FlagInput[]): Array<{ key: string; flag: FlagInput }> {
  const byKey = new Map<string, FlagInput>();
  for (const f of flags) {
    const key = flagKey(f);
    const prev = byKey.get(key);
    if (!prev) {
      byKey.set(key, f);
      continue;
    }
    const messages = prev.message.split('; ').includes(f.message) ? prev.message : `${prev.message}; ${f.message}`;
    const severity = (SEVERITY_RANK[f.severity] ?? 0) > (SEVERITY_RANK[prev.severity] ?? 0) ? f.severity : prev.severity;
    byKey.set(key, { ...prev, severity, message: messages, evidence: [...new Set([...prev.evidence, ...f.evidence])] });
  }
  return [...byKey].map(([key, flag]) => ({ key, flag }));
}

export interface SubjectKey {
  readonly trial: string;
  readonly subject: string;
  readonly site: string;
}

/** SHA-256 of a flag's cause as a person saw it: its message and evidence (order-free). */
export function flagEvidenceHash(f: Pick<FlagInput, 'message' | 'evidence'>): string {
  return crypto.createHash('sha256').update(JSON.stringify([f.message, [...f.evidence].sort()]), 'utf8').digest('hex');
}

/** Stable, PHI-free id of a subject for job ids and locks (no ':' for BullMQ). */
export function subjectKeyHash(k: SubjectKey): string {
  return crypto.createHash('sha1').update(`${k.trial}\u0000${k.site}\u0000${k.subject}`).digest('hex').slice(0, 24);
}

/** Advisory-lock class of per-subject evaluation (design.md: per-subject evaluation is serialised). */
const SUBJECT_LOCK = 7_243_003;

/** Serialises work on one subject until the end of the caller's transaction (evaluation, signing). */
export async function lockSubject(tx: Db, k: SubjectKey): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SUBJECT_LOCK, subjectKeyHash(k)]);
}

/** Stores the latest report and replaces the visit assignments. */
export async function saveReport(db: Db, k: SubjectKey, report: unknown, assignments: readonly AssignmentInput[]): Promise<void> {
  await db.query(
    `INSERT INTO subject_reports (trial, subject, site, report) VALUES ($1, $2, $3, $4::jsonb)
     ON CONFLICT (trial, subject, site) DO UPDATE SET report = EXCLUDED.report, evaluated_at = now()`,
    [k.trial, k.subject, k.site, JSON.stringify(report)],
  );
  await db.query('DELETE FROM visit_assignments WHERE trial = $1 AND subject = $2 AND site = $3', [k.trial, k.subject, k.site]);
  if (assignments.length) {
    const { sql, params } = valuesList(assignments.map((a) => [k.trial, k.subject, k.site, a.visit, a.item, a.crfValueId, a.placement]), ['', '', '', '', '', 'bigint', '']);
    await db.query(`INSERT INTO visit_assignments (trial, subject, site, visit, item, crf_value_id, placement) VALUES ${sql} ON CONFLICT DO NOTHING`, params);
  }
}

/**
 * Stores the flags of one evaluation: new causes raised, causes gone resolved,
 * unchanged ones left alone. A cause a person resolved is not raised again
 * while its evidence is what they saw (its latest row is person-resolved with
 * the same evidence hash): their decision stands until the data change, or
 * until the cause goes away (a later return is raised as new).
 */
export async function saveFlags(db: Db, k: SubjectKey, flags: readonly FlagInput[]): Promise<{ raised: number; resolved: number }> {
  const merged = mergeFlagsByKey(flags);
  const keys = merged.map((m) => m.key);
  const resolved = await db.query(
    `UPDATE flags SET status = 'resolved', resolved_at = now()
     WHERE trial = $1 AND subject = $2 AND site = $3 AND status = 'open' AND NOT (key = ANY($4::text[]))`,
    [k.trial, k.subject, k.site, keys],
  );
  // A cause gone since a person resolved it: their decision lapses, so a later return is a new occurrence.
  await db.query(
    `UPDATE flags SET resolved_evidence_hash = NULL
     WHERE trial = $1 AND subject = $2 AND site = $3 AND status = 'resolved' AND resolved_evidence_hash IS NOT NULL AND NOT (key = ANY($4::text[]))`,
    [k.trial, k.subject, k.site, keys],
  );
  const decided = await db.query<{ key: string; resolved_evidence_hash: string }>(
    `SELECT key, resolved_evidence_hash FROM (
       SELECT DISTINCT ON (key) key, status, resolved_by, resolved_evidence_hash FROM flags
       WHERE trial = $1 AND subject = $2 AND site = $3 AND key = ANY($4::text[]) ORDER BY key, id DESC) latest
     WHERE status = 'resolved' AND resolved_by IS NOT NULL`,
    [k.trial, k.subject, k.site, keys],
  );
  const standing = new Map(decided.rows.map((x) => [x.key, x.resolved_evidence_hash]));
  const toRaise = merged.filter(({ key, flag }) => standing.get(key) !== flagEvidenceHash(flag));
  let raised = 0;
  if (toRaise.length) {
    const { sql, params } = valuesList(
      toRaise.map(({ key, flag: f }) => [k.trial, k.subject, k.site, key, f.code, f.severity, f.visit, f.criterion, f.message, JSON.stringify(f.evidence)]),
      ['', '', '', '', '', '', '', '', '', 'jsonb'],
    );
    const r = await db.query(
      `INSERT INTO flags (trial, subject, site, key, code, severity, visit, criterion, message, evidence) VALUES ${sql}
       ON CONFLICT (trial, subject, site, key) WHERE status = 'open' DO UPDATE SET message = EXCLUDED.message, evidence = EXCLUDED.evidence
       RETURNING (xmax = 0) AS inserted`,
      params,
    );
    raised = r.rows.filter((x) => (x as { inserted: boolean }).inserted).length;
  }
  return { raised, resolved: resolved.rowCount };
}

/**
 * Stores one evaluation: the report, the visit assignments (replaced), and the
 * flags (saveFlags). Returns how many flags were raised and resolved.
 */
export async function saveEvaluation(db: Db, k: SubjectKey, report: unknown, assignments: readonly AssignmentInput[], flags: readonly FlagInput[]): Promise<{ raised: number; resolved: number }> {
  await saveReport(db, k, report, assignments);
  return saveFlags(db, k, flags);
}

export async function latestReports(db: Db, subject: string): Promise<{ trial: string; site: string; report: unknown; evaluatedAt: string }[]> {
  const r = await db.query<{ trial: string; site: string; report: unknown; evaluated_at: Date }>(
    'SELECT trial, site, report, evaluated_at FROM subject_reports WHERE subject = $1 ORDER BY trial, site',
    [subject],
  );
  return r.rows.map((x) => ({ trial: x.trial, site: x.site, report: x.report, evaluatedAt: new Date(x.evaluated_at).toISOString() }));
}

export interface FlagRow {
  id: number; trial: string; subject: string; site: string; code: string; severity: string; visit: string | null; criterion: string | null; message: string;
  evidence: string[]; status: string; raisedAt: string; resolvedAt: string | null;
  acknowledgedBy: string | null; acknowledgedByName: string | null; acknowledgedAt: string | null; acknowledgeNote: string | null;
  resolvedBy: string | null; resolvedByName: string | null; resolutionNote: string | null;
}

type RawFlag = {
  id: number; trial: string; subject: string; site: string; code: string; severity: string; visit: string | null; criterion: string | null; message: string;
  evidence: string[]; status: string; raised_at: Date; resolved_at: Date | null; acknowledged_by: string | null; acknowledged_by_name: string | null;
  acknowledged_at: Date | null; acknowledge_note: string | null; resolved_by: string | null; resolved_by_name: string | null; resolution_note: string | null;
};

const FLAG_COLUMNS = `id, trial, subject, site, code, severity, visit, criterion, message, evidence, status, raised_at, resolved_at,
  acknowledged_by, acknowledged_by_name, acknowledged_at, acknowledge_note, resolved_by, resolved_by_name, resolution_note`;

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

function flagFromRaw(x: RawFlag): FlagRow {
  return {
    id: Number(x.id), trial: x.trial, subject: x.subject, site: x.site, code: x.code, severity: x.severity, visit: x.visit, criterion: x.criterion,
    message: x.message, evidence: x.evidence, status: x.status, raisedAt: new Date(x.raised_at).toISOString(), resolvedAt: iso(x.resolved_at),
    acknowledgedBy: x.acknowledged_by, acknowledgedByName: x.acknowledged_by_name, acknowledgedAt: iso(x.acknowledged_at), acknowledgeNote: x.acknowledge_note,
    resolvedBy: x.resolved_by, resolvedByName: x.resolved_by_name, resolutionNote: x.resolution_note,
  };
}

export interface FlagQuery {
  readonly subject?: string;
  readonly status?: string;
  readonly code?: string;
  readonly trial?: string;
  readonly site?: string;
  readonly limit: number;
  readonly afterId?: number;
  /**
   * Extra SQL condition over the columns trial and site (a principal's scope,
   * from http/scope.ts `scopeSql`), with its parameters starting at $1.
   */
  readonly scope?: { sql: string; params: readonly unknown[] };
}

/** Flags, oldest first, filtered; the scope condition limits them to what the reader may see. */
export async function listFlags(db: Db, q: FlagQuery): Promise<FlagRow[]> {
  const { params, where, eq } = filters(q.scope);
  eq('subject', q.subject);
  eq('status', q.status);
  eq('code', q.code);
  eq('trial', q.trial);
  eq('site', q.site);
  params.push(q.afterId ?? 0, q.limit);
  const r = await db.query<RawFlag>(
    `SELECT ${FLAG_COLUMNS} FROM flags WHERE ${where.join(' AND ')} AND id > $${params.length - 1} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  return r.rows.map(flagFromRaw);
}

export async function flagById(db: Db, id: number): Promise<FlagRow | null> {
  const r = await db.query<RawFlag>(`SELECT ${FLAG_COLUMNS} FROM flags WHERE id = $1`, [id]);
  return r.rows[0] ? flagFromRaw(r.rows[0]) : null;
}

/**
 * A person acknowledges an open flag (seen, being handled): who, when, note;
 * audited in the same transaction. Null when the flag is not open.
 */
export async function acknowledgeFlag(tx: Db, id: number, actor: Actor, note: string | null): Promise<FlagRow | null> {
  const r = await tx.query<RawFlag>(
    `UPDATE flags SET acknowledged_by = $2, acknowledged_by_name = $3, acknowledged_at = clock_timestamp(), acknowledge_note = $4
     WHERE id = $1 AND status = 'open' RETURNING ${FLAG_COLUMNS}`,
    [id, actor.id, actor.name, note],
  );
  if (!r.rows[0]) return null;
  const f = flagFromRaw(r.rows[0]);
  await appendAudit(tx, actor, { trial: f.trial, site: f.site, subject: f.subject, entity: 'flag', entityId: String(f.id), action: 'acknowledge', field: f.code, oldValue: 'open', newValue: 'acknowledged', reason: note });
  return f;
}

/**
 * A person resolves an open flag with a note, remembering the evidence it had
 * (saveFlags re-raises the cause only when that evidence changes); audited.
 * Null when the flag is not open.
 */
export async function resolveFlag(tx: Db, id: number, actor: Actor, note: string): Promise<FlagRow | null> {
  const cur = await tx.query<{ message: string; evidence: string[] }>(`SELECT message, evidence FROM flags WHERE id = $1 AND status = 'open' FOR UPDATE`, [id]);
  if (!cur.rows[0]) return null;
  const r = await tx.query<RawFlag>(
    `UPDATE flags SET status = 'resolved', resolved_at = clock_timestamp(), resolved_by = $2, resolved_by_name = $3, resolution_note = $4, resolved_evidence_hash = $5
     WHERE id = $1 AND status = 'open' RETURNING ${FLAG_COLUMNS}`,
    [id, actor.id, actor.name, note, flagEvidenceHash(cur.rows[0])],
  );
  const f = flagFromRaw(r.rows[0]);
  await appendAudit(tx, actor, { trial: f.trial, site: f.site, subject: f.subject, entity: 'flag', entityId: String(f.id), action: 'resolve', field: f.code, oldValue: 'open', newValue: 'resolved', reason: note });
  return f;
}
