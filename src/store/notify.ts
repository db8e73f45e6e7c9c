/**
 * Flag alert bookkeeping (migration 014): the outbox the flags trigger fills,
 * the deliveries fanned out from it (one per cause, event, channel and target),
 * what the EHR stored for a written-back flag, and users' alert preferences.
 */
import type { Db } from './db';
import { valuesList } from './sql';

export type DeliveryChannel = 'email' | 'webhook' | 'fhir';
export type DeliveryStatus = 'pending' | 'queued' | 'sent' | 'failed';
export type DeliveryMode = 'immediate' | 'digest';
export type NotifyEvent = 'raised' | 'resolved';

/** The flag row fields an alert may use (ids and codes only). */
export interface AlertFlag {
  readonly id: number;
  readonly trial: string;
  readonly site: string;
  readonly subject: string;
  readonly code: string;
  readonly severity: string;
  readonly visit: string | null;
  readonly status: 'open' | 'resolved';
}

export interface OutboxFlag extends AlertFlag {
  readonly outboxId: number;
  readonly event: NotifyEvent;
}

export interface NewDelivery {
  readonly flagId: number;
  readonly event: NotifyEvent;
  readonly channel: DeliveryChannel;
  readonly target: string;
  readonly mode: DeliveryMode;
}

export interface Delivery {
  readonly id: number;
  readonly flagId: number;
  readonly event: NotifyEvent;
  readonly channel: DeliveryChannel;
  readonly target: string;
  readonly mode: DeliveryMode;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly round: number;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly sentAt: string | null;
  readonly flag: { readonly id: number; readonly trial: string; readonly site: string; readonly subject: string; readonly code: string; readonly severity: string; readonly visit: string | null; readonly status: 'open' | 'resolved' };
}

const FLAG_COLS = 'f.id AS flag_id, f.trial, f.site, f.subject, f.code, f.severity, f.visit, f.status AS flag_status';

/** Locks up to `limit` unprocessed outbox rows with their flags (SKIP LOCKED: several workers share the work). */
export async function claimOutbox(tx: Db, limit: number): Promise<OutboxFlag[]> {
  const r = await tx.query<Record<string, unknown>>(
    `SELECT o.id AS outbox_id, o.event, ${FLAG_COLS} FROM notify_outbox o JOIN flags f ON f.id = o.flag_id
     WHERE o.processed_at IS NULL ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED`,
    [limit],
  );
  return r.rows.map((x) => ({
    outboxId: Number(x.outbox_id), event: x.event as NotifyEvent, id: Number(x.flag_id), trial: String(x.trial), site: String(x.site), subject: String(x.subject),
    code: String(x.code), severity: String(x.severity), visit: (x.visit as string | null) ?? null, status: x.flag_status as 'open' | 'resolved',
  }));
}

/** Inserts deliveries; an existing (flag, event, channel, target) is left alone. Returns how many are new. */
export async function insertDeliveries(tx: Db, rows: readonly NewDelivery[]): Promise<number> {
  if (!rows.length) return 0;
  const { sql, params } = valuesList(rows.map((d) => [d.flagId, d.event, d.channel, d.target, d.mode]), ['bigint', '', '', '', '']);
  const r = await tx.query(`INSERT INTO notify_deliveries (flag_id, event, channel, target, mode) VALUES ${sql} ON CONFLICT (flag_id, event, channel, target) DO NOTHING`, params);
  return r.rowCount;
}

export async function markOutboxProcessed(tx: Db, outboxIds: readonly number[]): Promise<void> {
  if (outboxIds.length) await tx.query('UPDATE notify_outbox SET processed_at = now() WHERE id = ANY($1::bigint[])', [outboxIds]);
}

/** Moves up to `limit` pending non-digest deliveries to queued and returns them (id and round, for the job id). */
/** A delivery taken for queueing, with what grouping needs (channel, mode, recipient). */
export interface TakenDelivery {
  readonly id: number;
  readonly round: number;
  readonly channel: string;
  readonly mode: string;
  readonly target: string;
}

export async function takePending(db: Db, limit: number): Promise<TakenDelivery[]> {
  const r = await db.query<{ id: string; round: number; channel: string; mode: string; target: string }>(
    `UPDATE notify_deliveries SET status = 'queued', updated_at = now() WHERE id IN (
       SELECT id FROM notify_deliveries WHERE status = 'pending' AND NOT (channel = 'email' AND mode = 'digest') ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING id, round, channel, mode, target`,
    [limit],
  );
  return r.rows.map((x) => ({ id: Number(x.id), round: Number(x.round), channel: x.channel, mode: x.mode, target: x.target })).sort((a, b) => a.id - b.id);
}

/**
 * Deliveries left `queued` with no change for `olderThanMs` (their job was lost,
 * e.g. Redis restarted without its data): touched and returned so they are
 * queued again under the same job id, which is a no-op while the job still exists.
 */
export async function staleQueued(db: Db, olderThanMs: number, limit: number): Promise<{ id: number; round: number }[]> {
  const r = await db.query<{ id: string; round: number }>(
    `UPDATE notify_deliveries SET updated_at = now() WHERE id IN (
       SELECT id FROM notify_deliveries WHERE status = 'queued' AND updated_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING id, round`,
    [olderThanMs / 1000, limit],
  );
  return r.rows.map((x) => ({ id: Number(x.id), round: Number(x.round) }));
}

/** Back to pending (the job could not be queued: Redis down); the next tick queues it again. */
export async function requeue(db: Db, ids: readonly number[]): Promise<void> {
  if (ids.length) await db.query("UPDATE notify_deliveries SET status = 'pending', updated_at = now() WHERE id = ANY($1::bigint[]) AND status = 'queued'", [ids]);
}

function toDelivery(x: Record<string, unknown>): Delivery {
  return {
    id: Number(x.id), flagId: Number(x.flag_id), event: x.event as NotifyEvent, channel: x.channel as DeliveryChannel, target: String(x.target), mode: x.mode as DeliveryMode,
    status: x.status as DeliveryStatus, attempts: Number(x.attempts), round: Number(x.round), lastError: (x.last_error as string | null) ?? null,
    createdAt: new Date(x.created_at as string).toISOString(), sentAt: x.sent_at ? new Date(x.sent_at as string).toISOString() : null,
    flag: { id: Number(x.flag_id), trial: String(x.trial), site: String(x.site), subject: String(x.subject), code: String(x.code), severity: String(x.severity), visit: (x.visit as string | null) ?? null, status: x.flag_status as 'open' | 'resolved' },
  };
}

const DELIVERY_SELECT = `SELECT d.id, d.event, d.channel, d.target, d.mode, d.status, d.attempts, d.round, d.last_error, d.created_at, d.sent_at, ${FLAG_COLS}
  FROM notify_deliveries d JOIN flags f ON f.id = d.flag_id`;

export async function getDelivery(db: Db, id: number): Promise<Delivery | null> {
  return (await getDeliveries(db, [id]))[0] ?? null;
}

/** The deliveries with these ids, in id order (missing ones left out). */
export async function getDeliveries(db: Db, ids: readonly number[]): Promise<Delivery[]> {
  const r = await db.query<Record<string, unknown>>(`${DELIVERY_SELECT} WHERE d.id = ANY($1::bigint[]) ORDER BY d.id`, [[...ids]]);
  return r.rows.map(toDelivery);
}

/** Deliveries by status (newest first), for admins. */
export async function listDeliveries(db: Db, opts: { status?: DeliveryStatus; limit: number }): Promise<Delivery[]> {
  const r = await db.query<Record<string, unknown>>(`${DELIVERY_SELECT} WHERE ($1::text IS NULL OR d.status = $1) ORDER BY d.id DESC LIMIT $2`, [opts.status ?? null, opts.limit]);
  return r.rows.map(toDelivery);
}

/** The first success wins: a delivery already sent is never marked again (returns false). */
export async function markSent(db: Db, ids: number | readonly number[]): Promise<boolean> {
  const r = await db.query("UPDATE notify_deliveries SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL, updated_at = now() WHERE id = ANY($1::bigint[]) AND status <> 'sent'", [typeof ids === 'number' ? [ids] : [...ids]]);
  return r.rowCount > 0;
}

/** One failed attempt; `final` = no retry left, the delivery is kept as failed. */
export async function markAttemptFailed(db: Db, ids: number | readonly number[], reason: string, final: boolean): Promise<void> {
  await db.query(
    `UPDATE notify_deliveries SET attempts = attempts + 1, last_error = $2, status = CASE WHEN $3 THEN 'failed' ELSE status END, updated_at = now() WHERE id = ANY($1::bigint[]) AND status <> 'sent'`,
    [typeof ids === 'number' ? [ids] : [...ids], reason.slice(0, 300), final],
  );
}

/** A failed delivery back to pending with a new round (a new job id); null when it is not failed. */
export async function resendDelivery(db: Db, id: number): Promise<Delivery | null> {
  const r = await db.query("UPDATE notify_deliveries SET status = 'pending', round = round + 1, attempts = 0, last_error = NULL, updated_at = now() WHERE id = $1 AND status = 'failed'", [id]);
  return r.rowCount ? getDelivery(db, id) : null;
}

/** Locks a user's digest deliveries created up to `until` (FOR UPDATE: two digest runs never send one twice). */
export async function lockDigest(tx: Db, until: Date): Promise<Delivery[]> {
  const r = await tx.query<Record<string, unknown>>(
    `${DELIVERY_SELECT} WHERE d.channel = 'email' AND d.mode = 'digest' AND d.status = 'pending' AND d.created_at <= $1 ORDER BY d.target, d.id FOR UPDATE OF d SKIP LOCKED`,
    [until.toISOString()],
  );
  return r.rows.map(toDelivery);
}

export async function markDigestSent(tx: Db, ids: readonly number[]): Promise<void> {
  if (ids.length) await tx.query("UPDATE notify_deliveries SET status = 'sent', sent_at = now(), attempts = attempts + 1, updated_at = now() WHERE id = ANY($1::bigint[])", [ids]);
}

// ------------------------------------------------------------ preferences ---

export interface NotificationPreference {
  readonly userId: string;
  readonly email: string | null;
  readonly codes: readonly string[];
  readonly mode: 'default' | 'immediate' | 'digest';
  readonly updatedAt: string | null;
}

export async function preferencesOf(db: Db, userIds: readonly string[]): Promise<Map<string, NotificationPreference>> {
  if (!userIds.length) return new Map();
  const r = await db.query<{ user_id: string; email: string | null; codes: string[]; mode: NotificationPreference['mode']; updated_at: Date }>(
    'SELECT user_id, email, codes, mode, updated_at FROM notification_preferences WHERE user_id = ANY($1::text[])',
    [userIds],
  );
  return new Map(r.rows.map((x) => [x.user_id, { userId: x.user_id, email: x.email, codes: x.codes, mode: x.mode, updatedAt: new Date(x.updated_at).toISOString() }]));
}

export async function savePreference(db: Db, p: Omit<NotificationPreference, 'updatedAt'>): Promise<void> {
  await db.query(
    `INSERT INTO notification_preferences (user_id, email, codes, mode) VALUES ($1, $2, $3::text[], $4)
     ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, codes = EXCLUDED.codes, mode = EXCLUDED.mode, updated_at = now()`,
    [p.userId, p.email, [...p.codes], p.mode],
  );
}

// ------------------------------------------------------------ EHR write-back ---

export interface EhrResource {
  readonly flagId: number;
  readonly site: string;
  readonly resourceType: 'Flag' | 'DetectedIssue';
  readonly resourceId: string;
  readonly versionId: string | null;
  readonly status: string;
}

export async function ehrResourceOf(db: Db, flagId: number): Promise<EhrResource | null> {
  const r = await db.query<{ site: string; resource_type: EhrResource['resourceType']; resource_id: string; version_id: string | null; status: string }>(
    'SELECT site, resource_type, resource_id, version_id, status FROM notify_ehr_resources WHERE flag_id = $1',
    [flagId],
  );
  const x = r.rows[0];
  return x ? { flagId, site: x.site, resourceType: x.resource_type, resourceId: x.resource_id, versionId: x.version_id, status: x.status } : null;
}

export async function saveEhrResource(db: Db, e: EhrResource): Promise<void> {
  await db.query(
    `INSERT INTO notify_ehr_resources (flag_id, site, resource_type, resource_id, version_id, status) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (flag_id) DO UPDATE SET resource_id = EXCLUDED.resource_id, version_id = EXCLUDED.version_id, status = EXCLUDED.status, updated_at = now()`,
    [e.flagId, e.site, e.resourceType, e.resourceId, e.versionId, e.status],
  );
}

/**
 * The EHR's Patient id behind a flag: the enrollment's for a subject, the
 * candidate's for a pre-screen id. The candidates table may not exist in an
 * older schema; it is looked up only when present.
 */
export async function patientOfFlag(db: Db, f: { trial: string; site: string; subject: string }): Promise<string | null> {
  const e = await db.query<{ patient_id: string | null }>('SELECT patient_id FROM enrollments WHERE trial = $1 AND site = $2 AND subject = $3 AND patient_id IS NOT NULL LIMIT 1', [f.trial, f.site, f.subject]);
  if (e.rows[0]?.patient_id) return e.rows[0].patient_id;
  const t = await db.query<{ t: string | null }>("SELECT to_regclass('prescreen_candidates')::text AS t");
  if (!t.rows[0]?.t) return null;
  const c = await db.query<{ patient_id: string }>('SELECT patient_id FROM prescreen_candidates WHERE id = $1 AND site = $2', [f.subject, f.site]);
  return c.rows[0]?.patient_id ?? null;
}

/** The site's own ResearchStudy id for a trial (the one its ResearchSubjects name), if it sent one. */
export async function researchStudyOf(db: Db, site: string, trial: string): Promise<string | null> {
  const r = await db.query<{ research_study_id: string }>('SELECT research_study_id FROM research_studies WHERE site = $1 AND trial = $2 ORDER BY updated_at DESC LIMIT 1', [site, trial]);
  return r.rows[0]?.research_study_id ?? null;
}
