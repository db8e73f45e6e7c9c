/**
 * The audit trail (21 CFR Part 11 §11.10(e)): append-only rows of who did what,
 * when (UTC and site-local), to which entity and field, old and new value, why.
 *
 * Changes to CRF values are written by a database trigger (migration 008), so
 * automatic changes by the pipeline are audited without any code remembering
 * to; a person's change runs inside `asActor`, which tells the trigger who is
 * acting and why. Other human actions (answers, signatures, flag and review
 * item decisions) call `appendAudit` in the same transaction as the change.
 * The database refuses UPDATE, DELETE and TRUNCATE on the table.
 */
import type { Db } from './db';
import { filters } from './sql';
import { csvField } from '../util/csv';

export interface Actor {
  readonly id: string;
  /** The role under which the user acted (the grant that allowed it), or 'system'. */
  readonly role: string;
  readonly name: string;
}

export const SYSTEM_ACTOR: Actor = { id: 'trialbridge', role: 'system', name: 'trialbridge' };

export interface AuditEntry {
  readonly trial: string | null;
  readonly site: string | null;
  readonly subject: string | null;
  readonly entity: string;
  readonly entityId: string;
  readonly action: string;
  readonly field?: string | null;
  readonly oldValue?: unknown;
  readonly newValue?: unknown;
  readonly reason?: string | null;
}

/**
 * Runs `fn` in one transaction as `actor`: every CRF value change inside is
 * audited under that actor, with `action` and `reason`.
 */
export async function asActor<T>(db: Db, ctx: { actor: Actor; action: string; reason?: string | null; traceId?: string | null }, fn: (tx: Db) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query(
      `SELECT set_config('trialbridge.actor', $1, true), set_config('trialbridge.action', $2, true),
              set_config('trialbridge.reason', $3, true), set_config('trialbridge.trace', $4, true)`,
      [JSON.stringify(ctx.actor), ctx.action, ctx.reason ?? '', ctx.traceId ?? ''],
    );
    return fn(tx);
  });
}

/** Appends one audit row as `actor` (use the transaction handle of the change it records). */
export async function appendAudit(tx: Db, actor: Actor, e: AuditEntry, traceId?: string | null): Promise<number> {
  const r = await tx.query<{ id: number }>(
    `INSERT INTO audit_log (at_local, actor, actor_role, actor_name, trial, site, subject, entity, entity_id, action, field, old_value, new_value, reason, trace_id)
     VALUES (audit_local_time(clock_timestamp(), $4), $1, $2, $3, $5, $4, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13, $14) RETURNING id`,
    [actor.id, actor.role, actor.name, e.site, e.trial, e.subject, e.entity, e.entityId, e.action, e.field ?? null,
      e.oldValue === undefined ? null : JSON.stringify(e.oldValue), e.newValue === undefined ? null : JSON.stringify(e.newValue), e.reason ?? null, traceId ?? null],
  );
  return Number(r.rows[0].id);
}

export interface AuditRow {
  readonly id: number;
  readonly at: string;
  readonly atLocal: string | null;
  readonly actor: string;
  readonly actorRole: string;
  readonly actorName: string | null;
  readonly trial: string | null;
  readonly site: string | null;
  readonly subject: string | null;
  readonly entity: string;
  readonly entityId: string;
  readonly action: string;
  readonly field: string | null;
  readonly oldValue: unknown;
  readonly newValue: unknown;
  readonly reason: string | null;
}

export interface AuditQuery {
  readonly trial?: string;
  readonly site?: string;
  readonly subject?: string;
  readonly entity?: string;
  readonly entityId?: string;
  readonly afterId?: number;
  readonly limit: number;
  /**
   * Extra SQL condition over the columns trial and site (a principal's scope,
   * from http/scope.ts `scopeSql`), with its parameters starting at $1.
   */
  readonly scope?: { sql: string; params: readonly unknown[] };
}

/** Audit rows, oldest first, filtered; the scope condition limits them to what the reader may see. */
export async function listAudit(db: Db, q: AuditQuery): Promise<AuditRow[]> {
  const { params, where, eq } = filters(q.scope);
  eq('trial', q.trial);
  eq('site', q.site);
  eq('subject', q.subject);
  eq('entity', q.entity);
  eq('entity_id', q.entityId);
  params.push(q.afterId ?? 0, q.limit);
  const r = await db.query<{
    id: number; at: Date; at_local: string | null; actor: string; actor_role: string; actor_name: string | null; trial: string | null; site: string | null;
    subject: string | null; entity: string; entity_id: string; action: string; field: string | null; old_value: unknown; new_value: unknown; reason: string | null;
  }>(
    `SELECT id, at, at_local, actor, actor_role, actor_name, trial, site, subject, entity, entity_id, action, field, old_value, new_value, reason
     FROM audit_log WHERE ${where.join(' AND ')} AND id > $${params.length - 1} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  return r.rows.map((x) => ({
    id: Number(x.id), at: new Date(x.at).toISOString(), atLocal: x.at_local, actor: x.actor, actorRole: x.actor_role, actorName: x.actor_name,
    trial: x.trial, site: x.site, subject: x.subject, entity: x.entity, entityId: x.entity_id, action: x.action, field: x.field,
    oldValue: x.old_value, newValue: x.new_value, reason: x.reason,
  }));
}

const CSV_COLUMNS = ['id', 'at', 'atLocal', 'actor', 'actorRole', 'actorName', 'trial', 'site', 'subject', 'entity', 'entityId', 'action', 'field', 'oldValue', 'newValue', 'reason'] as const;

/** RFC 4180 field with spreadsheet-formula protection (src/util/csv.ts); exported here for existing callers. */
export { csvField };

/** The audit rows as CSV (header line, CRLF line ends per RFC 4180). */
export function auditCsv(rows: readonly AuditRow[], header = true): string {
  const lines = rows.map((r) => CSV_COLUMNS.map((c) => csvField(r[c])).join(','));
  return (header ? [CSV_COLUMNS.join(','), ...lines] : lines).map((l) => `${l}\r\n`).join('');
}

/** Records the configured site time zones, so audit rows carry the site-local time (called at boot). */
export async function syncSiteTimeZones(db: Db, sites: readonly { id: string; timeZone: string }[]): Promise<void> {
  if (!sites.length) return;
  await db.query(
    `INSERT INTO site_time_zones (site, time_zone) SELECT * FROM unnest($1::text[], $2::text[])
     ON CONFLICT (site) DO UPDATE SET time_zone = EXCLUDED.time_zone WHERE site_time_zones.time_zone <> EXCLUDED.time_zone`,
    [sites.map((s) => s.id), sites.map((s) => s.timeZone)],
  );
}
