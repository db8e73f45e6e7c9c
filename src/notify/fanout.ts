/**
 * Fan-out of the outbox: every flag row raised or resolved (recorded by the
 * flags trigger, migration 014) becomes deliveries, once per cause: email to
 * the users whose scope and preference cover it (raised only), each webhook
 * configured for its trial and code, and the FHIR write-back of a connected
 * site that allows it. The unique key of a delivery makes a repeated fan-out
 * a no-op, so the poller may run in several processes.
 */
import type { SiteConfig, UserConfig } from '../config';
import type { NotifyConfig } from '../config/notify';
import { can } from '../http/scope';
import type { Db } from '../store/db';
import { claimOutbox, insertDeliveries, markOutboxProcessed, preferencesOf, type NewDelivery, type NotificationPreference, type OutboxFlag } from '../store/notify';
import { URGENT_CODES } from './alert';

/** What the fan-out needs to know of the deployment. */
export interface NotifySettings {
  readonly notify: NotifyConfig;
  readonly users: readonly UserConfig[];
  readonly sites: readonly SiteConfig[];
  readonly publicUrl: string | null;
}

/** Outbox rows fanned out per transaction. */
export const FANOUT_BATCH = 200;

/**
 * Codes written back to the EHR chart: what an investigator acts on at the
 * bedside. Data-quality flags (values or doses needing review, ineligible) stay
 * in the workbench.
 */
export const WRITE_BACK_CODES: readonly string[] = ['eligible', 'potential-candidate', 'visit-out-of-window', 'visit-missed', 'dose-missed', 'dose-partial', 'dose-deviation', 'dose-interval-short', 'dose-unscheduled'];

/** Dose deviations are written as DetectedIssue (FHIR R4 detectedissue.html), the rest as Flag. */
export const isDoseCode = (code: string): boolean => code.startsWith('dose-');

const listed = (list: readonly string[], v: string) => list.includes('*') || list.includes(v);

/** The address and mode a user gets this flag's email with, or null. */
export function emailFor(user: UserConfig, pref: NotificationPreference | undefined, f: Pick<OutboxFlag, 'trial' | 'site' | 'code'>): { to: string; mode: 'immediate' | 'digest' } | null {
  const to = pref?.email ?? user.email;
  if (!to) return null;
  // People who act on flags (http/scope.ts `flag`): read-only monitors get no alerts.
  if (!can({ id: user.id, name: user.name, grants: user.grants, via: 'token' }, 'flag', f.trial, f.site)) return null;
  if (pref && !listed(pref.codes, f.code)) return null;
  const mode = pref && pref.mode !== 'default' ? pref.mode : URGENT_CODES.includes(f.code) ? 'immediate' : 'digest';
  return { to, mode };
}

/** The deliveries of one outbox row. */
export function deliveriesFor(s: NotifySettings, prefs: ReadonlyMap<string, NotificationPreference>, f: OutboxFlag): NewDelivery[] {
  const out: NewDelivery[] = [];
  const base = { flagId: f.id, event: f.event };
  if (f.event === 'raised' && s.notify.smtp) {
    for (const u of s.users) {
      const e = emailFor(u, prefs.get(u.id), f);
      if (e) out.push({ ...base, channel: 'email', target: u.id, mode: e.mode });
    }
  }
  for (const w of s.notify.webhooks) if (listed(w.trials, f.trial) && listed(w.codes, f.code)) out.push({ ...base, channel: 'webhook', target: w.id, mode: 'immediate' });
  const site = s.sites.find((x) => x.id === f.site);
  if (site?.fhir?.writeBack && WRITE_BACK_CODES.includes(f.code)) out.push({ ...base, channel: 'fhir', target: site.id, mode: 'immediate' });
  return out;
}

/** Fans out one batch of the outbox; returns the outbox rows handled and the deliveries created. */
export async function fanOut(db: Db, s: NotifySettings, limit = FANOUT_BATCH): Promise<{ events: number; deliveries: number }> {
  return db.transaction(async (tx) => {
    const rows = await claimOutbox(tx, limit);
    if (!rows.length) return { events: 0, deliveries: 0 };
    const prefs = await preferencesOf(tx, s.users.map((u) => u.id));
    const deliveries = await insertDeliveries(tx, rows.flatMap((f) => deliveriesFor(s, prefs, f)));
    await markOutboxProcessed(tx, rows.map((r) => r.outboxId));
    return { events: rows.length, deliveries };
  });
}
