/**
 * Purge of data about patients with no enrollment (minimum necessary: a hospital
 * will not stream every patient's labs to a trial system). A resource parked
 * because its patient has no ResearchSubject, and the Patient resources of
 * such patients, are deleted once older than the retention ([A] default 30
 * days, TRIALBRIDGE_UNENROLLED_RETENTION_DAYS). An enrollment arriving within
 * the retention releases the parked rows as before. Only counts leave this
 * module: never ids or values.
 *
 * Pre-screened patients who raise nothing keep this retention. A potential
 * candidate's data are kept while it is potential, and for its own retention
 * (the site's prescreen.retentionDays, stored on the row) once it is
 * dismissed, withdrawn or moved to screening; then the candidate row goes
 * with the patient's parked data (README "Pre-screening and alerts").
 */
import type { Db } from './db';

/** Rows deleted per statement, so one purge never holds long locks. */
export const PURGE_BATCH = 5000;

export type PurgeCounts = Record<string, number>;

/** The enrollment (any status) a patient key would match: by logical id or by the identifier it was named with. */
const NOT_ENROLLED = `NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.site = i.site AND (e.patient_id = i.patient_id
  OR i.patient_id = 'identifier:' || e.individual_system || '|' || e.individual_value))`;

/** A pre-screen candidate that still keeps patient `pid` of site `site` (SQL expressions), potential or within its retention. */
const keptCandidate = (site: string, pid: string) => `EXISTS (SELECT 1 FROM prescreen_candidates pc WHERE pc.site = ${site} AND pc.patient_id = ${pid}
  AND (pc.status = 'potential' OR pc.updated_at >= now() - make_interval(days => pc.retain_days)))`;

/** The inbound row's patient key names a kept candidate's patient, by logical id or by an identifier of it. */
const NOT_KEPT = `NOT ${keptCandidate('i.site', 'i.patient_id')} AND NOT EXISTS (SELECT 1 FROM patient_identifiers pi
  WHERE pi.site = i.site AND i.patient_id = 'identifier:' || pi.system || '|' || pi.value AND ${keptCandidate('pi.site', 'pi.patient_id')})`;

/** Deletes what is due; returns counts per site and resource type. */
export async function purgeUnenrolled(db: Db, retentionDays: number): Promise<Map<string, PurgeCounts>> {
  const out = new Map<string, PurgeCounts>();
  const add = (site: string, type: string, n: number) => {
    const c = out.get(site) ?? out.set(site, {}).get(site)!;
    c[type] = (c[type] ?? 0) + n;
  };
  for (;;) {
    const r = await db.transaction(async (tx) => {
      const doomed = await tx.query<{ id: number; site: string; resource_type: string }>(
        `SELECT i.id, i.site, i.resource_type FROM inbound i
         WHERE i.state = 'unmatched' AND i.received_at < now() - make_interval(days => $1) AND ${NOT_ENROLLED} AND ${NOT_KEPT}
         ORDER BY i.id LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED`,
        [retentionDays],
      );
      if (!doomed.rows.length) return 0;
      const ids = doomed.rows.map((x) => x.id);
      await tx.query('DELETE FROM review_items WHERE inbound_id = ANY($1)', [ids]);
      await tx.query('DELETE FROM inbound WHERE id = ANY($1)', [ids]);
      doomed.rows.forEach((x) => add(x.site, x.resource_type, 1));
      return ids.length;
    });
    if (r < PURGE_BATCH) break;
  }
  await db.transaction(async (tx) => {
    // Patients nobody enrolled, last heard of before the retention.
    const pats = await tx.query<{ site: string; patient_id: string }>(
      `SELECT p.site, p.patient_id FROM patients p
       WHERE p.updated_at < now() - make_interval(days => $1)
         AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.site = p.site AND e.patient_id = p.patient_id)
         AND NOT EXISTS (SELECT 1 FROM patient_identifiers pi JOIN enrollments e ON e.site = pi.site
                         AND e.individual_system = pi.system AND e.individual_value = pi.value
                         WHERE pi.site = p.site AND pi.patient_id = p.patient_id)
         AND NOT ${keptCandidate('p.site', 'p.patient_id')}
       LIMIT ${PURGE_BATCH}`,
      [retentionDays],
    );
    for (const p of pats.rows) {
      await tx.query('DELETE FROM patient_identifiers WHERE site = $1 AND patient_id = $2', [p.site, p.patient_id]);
      await tx.query('DELETE FROM patients WHERE site = $1 AND patient_id = $2', [p.site, p.patient_id]);
      await tx.query(
        `DELETE FROM review_items WHERE inbound_id IN (SELECT id FROM inbound WHERE site = $1 AND resource_type = 'Patient' AND resource_id = $2)`,
        [p.site, p.patient_id],
      );
      const d = await tx.query(`DELETE FROM inbound WHERE site = $1 AND resource_type = 'Patient' AND resource_id = $2`, [p.site, p.patient_id]);
      add(p.site, 'Patient', d.rowCount);
    }
    // Candidates past their retention: the parked data they kept went above (flags and the access log keep only the pre-screen id).
    const gone = await tx.query<{ site: string }>(
      `DELETE FROM prescreen_candidates WHERE status <> 'potential' AND updated_at < now() - make_interval(days => retain_days) RETURNING site`,
    );
    gone.rows.forEach((x) => add(x.site, 'PrescreenCandidate', 1));
  });
  return out;
}

/**
 * Notification bookkeeping older than the retention: applied notifications
 * and their event claims, except each subscription's highest event (gap
 * detection needs it). Rejected notifications go too.
 */
export async function pruneNotifications(db: Db, retentionDays: number): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query(
      `DELETE FROM notification_events ne USING notifications n
       WHERE ne.notification_id = n.id AND n.received_at < now() - make_interval(days => $1)
         AND ne.event_number < (SELECT max(event_number) FROM notification_events m WHERE m.site = ne.site AND m.subscription_id = ne.subscription_id)`,
      [retentionDays],
    );
    // Rejected ones too: they keep only a masked head, length and hash (migration 007), and no longer than the rest.
    const r = await tx.query(
      `DELETE FROM notifications n WHERE n.state IN ('processed', 'duplicate', 'rejected') AND n.received_at < now() - make_interval(days => $1)
         AND NOT EXISTS (SELECT 1 FROM notification_events ne WHERE ne.notification_id = n.id)`,
      [retentionDays],
    );
    return r.rowCount;
  });
}

/**
 * Counts of unmapped codes (migration 006) are kept per day for as long as the
 * retention: days older than it are deleted. Returns the day rows deleted.
 */
export async function purgeUnmappedCounts(db: Db, retentionDays: number): Promise<number> {
  const r = await db.query('DELETE FROM unmapped_codes WHERE day < current_date - $1::int', [retentionDays]);
  return r.rowCount;
}
