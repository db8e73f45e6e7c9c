/**
 * Per-site connector state (migration 004): contact and errors, poll cursors,
 * our Subscriptions and their event numbers, notifications, and the patient
 * scope. Nothing here holds PHI except rejected notification bodies.
 */
import type { Db } from './db';
import { valuesList } from './sql';

/** Records a successful exchange with the site's server; clears the error and any alert. */
export async function recordContact(db: Db, site: string): Promise<void> {
  await db.query(
    `INSERT INTO site_state (site, last_contact_at) VALUES ($1, now())
     ON CONFLICT (site) DO UPDATE SET last_contact_at = now(), last_error = NULL, alert = NULL, updated_at = now()`,
    [site],
  );
}

/** Records a failure; `alert` marks one a person must act on (authentication refused after a refresh). */
export async function recordError(db: Db, site: string, message: string, alert = false): Promise<void> {
  await db.query(
    `INSERT INTO site_state (site, last_error, last_error_at, alert) VALUES ($1, $2, now(), $3)
     ON CONFLICT (site) DO UPDATE SET last_error = $2, last_error_at = now(), alert = COALESCE($3, site_state.alert), updated_at = now()`,
    [site, message.slice(0, 500), alert ? message.slice(0, 500) : null],
  );
}

export async function recordNotificationSeen(db: Db, site: string): Promise<void> {
  await db.query(
    `INSERT INTO site_state (site, last_notification_at) VALUES ($1, now())
     ON CONFLICT (site) DO UPDATE SET last_notification_at = now(), updated_at = now()`,
    [site],
  );
}

export async function scopeHash(db: Db, site: string): Promise<string | null> {
  const r = await db.query<{ scope_hash: string | null }>('SELECT scope_hash FROM site_state WHERE site = $1', [site]);
  return r.rows[0]?.scope_hash ?? null;
}

export async function setScopeHash(db: Db, site: string, hash: string): Promise<void> {
  await db.query(
    `INSERT INTO site_state (site, scope_hash) VALUES ($1, $2) ON CONFLICT (site) DO UPDATE SET scope_hash = $2, updated_at = now()`,
    [site, hash],
  );
}

/** The cursor of one resource type (ISO instant), null before the first poll. */
export async function getCursor(db: Db, site: string, type: string): Promise<string | null> {
  const r = await db.query<{ cursor: Date }>('SELECT cursor FROM site_cursors WHERE site = $1 AND resource_type = $2', [site, type]);
  return r.rows[0] ? new Date(r.rows[0].cursor).toISOString() : null;
}

/** Moves a cursor forward only: a late page never moves it back. */
export async function advanceCursor(db: Db, site: string, type: string, cursor: string): Promise<void> {
  await db.query(
    `INSERT INTO site_cursors (site, resource_type, cursor) VALUES ($1, $2, $3)
     ON CONFLICT (site, resource_type) DO UPDATE SET cursor = GREATEST(site_cursors.cursor, EXCLUDED.cursor), updated_at = now()`,
    [site, type, cursor],
  );
}

export interface SiteSubscriptionRow {
  readonly subscriptionId: string;
  readonly key: string;
  readonly resourceType: string;
  readonly criteria: string;
  readonly status: string | null;
  readonly error: string | null;
  readonly lastEventNumber: number;
  readonly lastSeenAt: string | null;
}

export async function listSiteSubscriptions(db: Db, site: string): Promise<SiteSubscriptionRow[]> {
  const r = await db.query<{ subscription_id: string; key: string; resource_type: string; criteria: string; status: string | null; error: string | null; last_event_number: number; last_seen_at: Date | null }>(
    'SELECT * FROM site_subscriptions WHERE site = $1 ORDER BY key', [site]);
  return r.rows.map((x) => ({
    subscriptionId: x.subscription_id, key: x.key, resourceType: x.resource_type, criteria: x.criteria, status: x.status, error: x.error,
    lastEventNumber: Number(x.last_event_number), lastSeenAt: x.last_seen_at ? new Date(x.last_seen_at).toISOString() : null,
  }));
}

export async function upsertSiteSubscription(db: Db, site: string, s: Omit<SiteSubscriptionRow, 'lastEventNumber' | 'lastSeenAt'>): Promise<void> {
  await db.query(
    `INSERT INTO site_subscriptions (site, subscription_id, key, resource_type, criteria, status, error) VALUES ($1,$2,$3,$4,$5,$6,$7)
     ON CONFLICT (site, subscription_id) DO UPDATE SET key = $3, resource_type = $4, criteria = $5, status = $6, error = $7, updated_at = now()`,
    [site, s.subscriptionId, s.key, s.resourceType, s.criteria, s.status, s.error],
  );
}

export async function deleteSiteSubscription(db: Db, site: string, subscriptionId: string): Promise<void> {
  await db.query('DELETE FROM site_subscriptions WHERE site = $1 AND subscription_id = $2', [site, subscriptionId]);
}

/** Updates what a notification told us of a subscription (status, and its events-since-start counter when it is higher). */
export async function noteSubscriptionStatus(db: Db, site: string, subscriptionId: string, status: string | null): Promise<void> {
  await db.query(
    `UPDATE site_subscriptions SET status = COALESCE($3, status), last_seen_at = now(), updated_at = now() WHERE site = $1 AND subscription_id = $2`,
    [site, subscriptionId, status],
  );
}

/** The highest event number applied for a subscription (0 before any). */
export async function lastEventNumber(db: Db, site: string, subscriptionId: string): Promise<number> {
  const r = await db.query<{ n: number | null }>('SELECT max(event_number) AS n FROM notification_events WHERE site = $1 AND subscription_id = $2', [site, subscriptionId]);
  return Number(r.rows[0]?.n ?? 0);
}

/** Claims event numbers; returns those not applied before (a repeated notification claims none). */
export async function claimEvents(db: Db, site: string, subscriptionId: string, notificationId: number, numbers: readonly number[]): Promise<number[]> {
  if (!numbers.length) return [];
  const { sql, params } = valuesList([...new Set(numbers)].map((n) => [site, subscriptionId, n, notificationId]));
  const r = await db.query<{ event_number: number }>(
    `INSERT INTO notification_events (site, subscription_id, event_number, notification_id) VALUES ${sql}
     ON CONFLICT DO NOTHING RETURNING event_number`,
    params,
  );
  await db.query(
    `UPDATE site_subscriptions SET last_event_number = GREATEST(last_event_number, $3), last_seen_at = now(), updated_at = now()
     WHERE site = $1 AND subscription_id = $2`,
    [site, subscriptionId, Math.max(...numbers)],
  );
  return r.rows.map((x) => Number(x.event_number));
}

export type NotificationState = 'received' | 'processed' | 'duplicate' | 'rejected' | 'failed';

export interface NewNotification {
  readonly site: string;
  readonly kind: 'backport' | 'ping';
  readonly subscriptionId: string | null;
  readonly type: string | null;
  readonly content: string | null;
  readonly refs: readonly string[] | null;
  readonly state: NotificationState;
  readonly problem: string | null;
  /** Kept only when the notification is rejected (for inspection). */
  readonly body: string | null;
}

export async function insertNotification(db: Db, n: NewNotification): Promise<number> {
  const r = await db.query<{ id: number }>(
    `INSERT INTO notifications (site, kind, subscription_id, type, content, refs, state, problem, body) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id`,
    [n.site, n.kind, n.subscriptionId, n.type, n.content, n.refs ? JSON.stringify(n.refs) : null, n.state, n.problem, n.body],
  );
  return Number(r.rows[0].id);
}

export async function notificationRefs(db: Db, id: number): Promise<{ site: string; refs: string[] } | null> {
  const r = await db.query<{ site: string; refs: string[] | null }>('SELECT site, refs FROM notifications WHERE id = $1', [id]);
  return r.rows[0] ? { site: r.rows[0].site, refs: r.rows[0].refs ?? [] } : null;
}

export async function setNotificationState(db: Db, id: number, state: NotificationState, problem: string | null = null): Promise<void> {
  await db.query('UPDATE notifications SET state = $2, problem = $3 WHERE id = $1', [id, state, problem]);
}

/**
 * Enrollment statuses whose patients a site is asked for (candidate,
 * screening or on study; follow-up visits need labs too). Patients who left the
 * study (off-study, withdrawn) or never qualified drop out of the scope.
 */
export const SCOPE_STATUSES = [
  'candidate', 'potential-candidate', 'screening', 'eligible', 'pending-on-study', 'on-study', 'on-study-intervention', 'on-study-observation', 'follow-up',
] as const;

/** Patients in scope at a site: logical ids of enrolled patients, sorted. */
export async function enrolledPatients(db: Db, site: string): Promise<string[]> {
  const r = await db.query<{ patient_id: string }>(
    `SELECT DISTINCT patient_id FROM enrollments WHERE site = $1 AND patient_id IS NOT NULL AND status = ANY($2) ORDER BY patient_id`,
    [site, SCOPE_STATUSES],
  );
  return r.rows.map((x) => x.patient_id);
}

/** Brings scoped_patients in line with `patients`; returns those not yet backfilled. */
export async function reconcileScope(db: Db, site: string, patients: readonly string[]): Promise<{ pending: string[]; removed: number }> {
  const removed = await db.query('DELETE FROM scoped_patients WHERE site = $1 AND NOT (patient_id = ANY($2))', [site, patients]);
  if (patients.length) {
    const { sql, params } = valuesList(patients.map((p) => [site, p]));
    await db.query(`INSERT INTO scoped_patients (site, patient_id) VALUES ${sql} ON CONFLICT DO NOTHING`, params);
  }
  const r = await db.query<{ patient_id: string }>('SELECT patient_id FROM scoped_patients WHERE site = $1 AND backfilled_at IS NULL ORDER BY patient_id', [site]);
  return { pending: r.rows.map((x) => x.patient_id), removed: removed.rowCount ?? 0 };
}

export async function markBackfilled(db: Db, site: string, patients: readonly string[]): Promise<void> {
  await db.query('UPDATE scoped_patients SET backfilled_at = now() WHERE site = $1 AND patient_id = ANY($2)', [site, patients]);
}

export interface SiteOverviewRow {
  readonly lastContactAt: string | null;
  readonly lastNotificationAt: string | null;
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
  readonly alert: string | null;
  readonly cursors: Record<string, string>;
  readonly queued: number;
  readonly parked: number;
  readonly scopedPatients: number;
  readonly subscriptions: readonly SiteSubscriptionRow[];
  readonly rejectedNotifications: number;
}

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

/** Per-site state for GET /api/sites: counts and times only, no PHI. */
export async function siteOverview(db: Db, site: string): Promise<SiteOverviewRow> {
  const [st, cur, counts, scoped, rejected] = await Promise.all([
    db.query<{ last_contact_at: Date | null; last_notification_at: Date | null; last_error: string | null; last_error_at: Date | null; alert: string | null }>(
      'SELECT * FROM site_state WHERE site = $1', [site]),
    db.query<{ resource_type: string; cursor: Date }>('SELECT resource_type, cursor FROM site_cursors WHERE site = $1 ORDER BY resource_type', [site]),
    db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM inbound WHERE site = $1 AND state IN ('received', 'unmatched') GROUP BY state`, [site]),
    db.query<{ n: number }>('SELECT count(*)::int AS n FROM scoped_patients WHERE site = $1', [site]),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM notifications WHERE site = $1 AND state = 'rejected'`, [site]),
  ]);
  const s = st.rows[0];
  const by = Object.fromEntries(counts.rows.map((r) => [r.state, Number(r.n)]));
  return {
    lastContactAt: iso(s?.last_contact_at ?? null), lastNotificationAt: iso(s?.last_notification_at ?? null), lastError: s?.last_error ?? null,
    lastErrorAt: iso(s?.last_error_at ?? null), alert: s?.alert ?? null,
    cursors: Object.fromEntries(cur.rows.map((r) => [r.resource_type, iso(r.cursor)!])),
    queued: by.received ?? 0, parked: by.unmatched ?? 0, scopedPatients: Number(scoped.rows[0]?.n ?? 0),
    subscriptions: await listSiteSubscriptions(db, site), rejectedNotifications: Number(rejected.rows[0]?.n ?? 0),
  };
}

/** Identifiers of enrolled individuals whose Patient has not been seen (ResearchSubject.individual by identifier only). */
export async function unresolvedIndividuals(db: Db, site: string): Promise<{ system: string; value: string }[]> {
  const r = await db.query<{ individual_system: string; individual_value: string }>(
    `SELECT DISTINCT individual_system, individual_value FROM enrollments
     WHERE site = $1 AND patient_id IS NULL AND individual_value IS NOT NULL AND status = ANY($2) ORDER BY 1, 2`,
    [site, SCOPE_STATUSES],
  );
  return r.rows.map((x) => ({ system: x.individual_system ?? '', value: x.individual_value }));
}
