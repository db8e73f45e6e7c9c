/** Subject reports, visit assignments and flags (the live evaluation path). */
import type { Db } from './db';
import { valuesList } from './sql';

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

/**
 * Stores one evaluation: the report, the visit assignments (replaced), and the
 * flags: new causes raised, causes gone resolved, unchanged ones left alone.
 * Returns how many flags were raised and resolved.
 */
export async function saveEvaluation(db: Db, k: SubjectKey, report: unknown, assignments: readonly AssignmentInput[], flags: readonly FlagInput[]): Promise<{ raised: number; resolved: number }> {
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
  const merged = mergeFlagsByKey(flags);
  const keys = merged.map((m) => m.key);
  const resolved = await db.query(
    `UPDATE flags SET status = 'resolved', resolved_at = now()
     WHERE trial = $1 AND subject = $2 AND site = $3 AND status = 'open' AND NOT (key = ANY($4::text[]))`,
    [k.trial, k.subject, k.site, keys],
  );
  let raised = 0;
  if (merged.length) {
    const { sql, params } = valuesList(
      merged.map(({ key, flag: f }) => [k.trial, k.subject, k.site, key, f.code, f.severity, f.visit, f.criterion, f.message, JSON.stringify(f.evidence)]),
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

export async function latestReports(db: Db, subject: string): Promise<{ trial: string; site: string; report: unknown; evaluatedAt: string }[]> {
  const r = await db.query<{ trial: string; site: string; report: unknown; evaluated_at: Date }>(
    'SELECT trial, site, report, evaluated_at FROM subject_reports WHERE subject = $1 ORDER BY trial, site',
    [subject],
  );
  return r.rows.map((x) => ({ trial: x.trial, site: x.site, report: x.report, evaluatedAt: new Date(x.evaluated_at).toISOString() }));
}

export interface FlagRow { id: number; trial: string; subject: string; site: string; code: string; severity: string; visit: string | null; criterion: string | null; message: string; evidence: string[]; status: string; raisedAt: string; resolvedAt: string | null }

export async function listFlags(db: Db, q: { subject?: string; status?: string; code?: string; limit: number; afterId?: number }): Promise<FlagRow[]> {
  const r = await db.query<{ id: number; trial: string; subject: string; site: string; code: string; severity: string; visit: string | null; criterion: string | null; message: string; evidence: string[]; status: string; raised_at: Date; resolved_at: Date | null }>(
    `SELECT id, trial, subject, site, code, severity, visit, criterion, message, evidence, status, raised_at, resolved_at FROM flags
     WHERE ($1::text IS NULL OR subject = $1) AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR code = $3) AND id > $4
     ORDER BY id LIMIT $5`,
    [q.subject ?? null, q.status ?? null, q.code ?? null, q.afterId ?? 0, q.limit],
  );
  return r.rows.map((x) => ({
    id: Number(x.id), trial: x.trial, subject: x.subject, site: x.site, code: x.code, severity: x.severity, visit: x.visit, criterion: x.criterion,
    message: x.message, evidence: x.evidence, status: x.status, raisedAt: new Date(x.raised_at).toISOString(), resolvedAt: x.resolved_at ? new Date(x.resolved_at).toISOString() : null,
  }));
}
