/**
 * Receiving subscription notifications (README "Connect a site"), every form an EHR may send
 * to our endpoint (`{public base}/fhir`):
 * - R4 rest-hook with payload: `PUT /fhir/{type}/{id}` (the ordinary receiver);
 * - R4 rest-hook without payload: an empty POST → a sync from the cursor;
 * - Subscriptions Backport IG / R5: a Bundle whose first entry is the
 *   SubscriptionStatus, handled here by type (handshake, heartbeat,
 *   event-notification, query-status) and content (full-resource, id-only, empty).
 *
 * Event numbers are claimed per subscription: a repeated notification is
 * applied once, and a jump past the last number seen (a notification the EHR
 * gave up delivering) triggers a catch-up sync, so nothing is lost.
 * Nothing here waits on the site's server: reads and syncs are queued.
 */
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { SiteConfig } from '../config';
import { AppError, okOutcome } from '../errors';
import type { Logger } from '../logger';
import type { SiteSyncQueue } from '../queue/site-sync';
import type { Db } from '../store/db';
import { insertRejectedNotification } from '../store/notifications';
import { claimEvents, insertNotification, lastEventNumber, noteSubscriptionStatus, recordNotificationSeen, setNotificationState } from '../store/sites';
import type { Receiver } from './accept';
import { parseNotification, typeAndId, type ParsedNotification } from './notification';
import { isSupportedType } from './supported';

export interface NotifyDeps {
  readonly db: Db;
  readonly receiver: Receiver;
  readonly log: Logger;
  readonly queue: SiteSyncQueue;
}

/**
 * Keeps what an operator needs to diagnose a notification we could not use
 * (store/notifications.ts: length, SHA-256, a masked head; never the body);
 * `problem` names positions and FHIRPaths only. Returns its row id.
 */
export async function keepRejected(deps: Pick<NotifyDeps, 'db'>, site: SiteConfig, raw: string, problem: string): Promise<number> {
  return insertRejectedNotification(deps.db, site.id, raw, problem);
}

/** Counts of what a full-resource notification stored. */
interface Stored {
  created: number;
  duplicate: number;
  invalid: number;
}

/** Full resources of a notification go through the front door like any push (validated, versioned, stored, queued). */
async function storeFull(deps: NotifyDeps, site: SiteConfig, resources: readonly Resource[], traceId: string): Promise<Stored> {
  const results = await deps.receiver.accept(site.id, resources.map((r, i) => ({ resource: r, path: `Bundle.entry[${i + 1}].resource` })), { atomic: false, traceId, source: 'notification' });
  const s: Stored = { created: 0, duplicate: 0, invalid: 0 };
  for (const r of results) {
    if (r.outcome === 'created' || r.outcome === 'updated') s.created++;
    else if (r.outcome === 'unchanged') s.duplicate++;
    else if (r.outcome !== 'ignored') s.invalid++;
  }
  return s;
}

function requireConnected(site: SiteConfig, what: string): void {
  if (!site.fhir) throw new AppError('site-not-connected', `${what} from site ${site.id}, which has no fhir block in TRIALBRIDGE_SITES`);
}

/** An R4 rest-hook without payload: "something changed", so fetch changes since the cursor. */
export async function handlePing(deps: NotifyDeps, site: SiteConfig): Promise<OperationOutcome> {
  requireConnected(site, 'an empty rest-hook notification');
  await recordNotificationSeen(deps.db, site.id);
  const id = await insertNotification(deps.db, { site: site.id, kind: 'ping', subscriptionId: null, type: 'event-notification', content: 'empty', refs: null, state: 'processed', problem: null, body: null });
  await deps.queue.requestSync(site.id, 'rest-hook');
  deps.log.info({ site: site.id, notification: id }, 'empty rest-hook notification; sync queued');
  return okOutcome('notification received; changes are fetched from the site server');
}

/** A Backport/R5 notification Bundle (already JSON-parsed). Throws AppError invalid-notification (kept) when malformed. */
export async function handleNotification(deps: NotifyDeps, site: SiteConfig, body: unknown, traceId: string): Promise<OperationOutcome> {
  const parsed = parseNotification(body);
  if (!parsed.ok) {
    // Kept without diagnostics text: validator messages may quote the values they refuse.
    const problem = parsed.issues.map((i) => `${i.expression?.[0] ?? ''}: ${i.code}`).join('; ');
    const id = await keepRejected(deps, site, JSON.stringify(body), problem);
    deps.log.warn({ site: site.id, notification: id, problems: parsed.issues.length }, 'notification rejected and kept');
    throw new AppError('invalid-notification', `kept as notification ${id}`, undefined, parsed.issues);
  }
  const n = parsed.notification;
  await recordNotificationSeen(deps.db, site.id);
  const sub = n.subscriptionId ?? n.subscription;
  switch (n.type) {
    case 'handshake':
      await record(deps, site, n, 'processed');
      await noteSubscriptionStatus(deps.db, site.id, sub, n.status === 'requested' ? 'active' : n.status);
      return okOutcome('handshake acknowledged');
    case 'heartbeat':
    case 'query-status':
    case 'query-event':
      return counterOnly(deps, site, n, sub);
    case 'event-notification':
      return events(deps, site, n, sub, traceId);
  }
}

function record(deps: NotifyDeps, site: SiteConfig, n: ParsedNotification, state: 'received' | 'processed', refs: readonly string[] | null = null): Promise<number> {
  return insertNotification(deps.db, { site: site.id, kind: 'backport', subscriptionId: n.subscriptionId ?? n.subscription, type: n.type, content: n.content, refs, state, problem: null, body: null });
}

/** A heartbeat says how many events there have been: more than we saw means some were lost. */
async function counterOnly(deps: NotifyDeps, site: SiteConfig, n: ParsedNotification, sub: string): Promise<OperationOutcome> {
  await record(deps, site, n, 'processed');
  await noteSubscriptionStatus(deps.db, site.id, sub, n.status);
  const last = await lastEventNumber(deps.db, site.id, sub);
  if (n.eventsSinceSubscriptionStart !== null && n.eventsSinceSubscriptionStart > last && site.fhir) {
    await deps.queue.requestSync(site.id, 'event-gap');
    deps.log.warn({ site: site.id, subscription: sub, last, server: n.eventsSinceSubscriptionStart }, 'notifications missed; catch-up sync queued');
    return okOutcome(`${n.type} received; ${n.eventsSinceSubscriptionStart - last} event(s) not received, catching up`);
  }
  return okOutcome(`${n.type} received`);
}

async function events(deps: NotifyDeps, site: SiteConfig, n: ParsedNotification, sub: string, traceId: string): Promise<OperationOutcome> {
  if (n.content !== 'full-resource') requireConnected(site, `an ${n.content} notification`);
  const refs = n.content === 'id-only' ? n.references.filter((r) => isSupportedType(typeAndId(r)?.split('/')[0] ?? '')) : [];
  const numbers = n.events.map((e) => e.eventNumber).filter((x): x is number => x !== null);
  const last = await lastEventNumber(deps.db, site.id, sub);
  // Full resources are stored before the events are claimed: a store failure leaves them unclaimed, so the EHR's retry applies them.
  const s = n.content === 'full-resource' ? await storeFull(deps, site, n.resources, traceId) : { created: 0, duplicate: 0, invalid: 0 };
  const id = await record(deps, site, n, 'received', refs);
  const fresh = numbers.length ? await claimEvents(deps.db, site.id, sub, id, numbers) : [];
  if (numbers.length && !fresh.length) {
    await setNotificationState(deps.db, id, 'duplicate');
    return okOutcome('notification already applied; nothing changed');
  }
  const lowest = fresh.length ? Math.min(...fresh) : null;
  const gap = lowest !== null && lowest > last + 1;
  try {
    if (gap && site.fhir) await deps.queue.requestSync(site.id, 'event-gap');
    if (n.content === 'empty') await deps.queue.requestSync(site.id, 'empty-notification');
    if (refs.length) await deps.queue.requestResolve(site.id, id);
  } catch (e) {
    // Unclaim, so the EHR's retry of this notification is not mistaken for a repeat.
    await deps.db.query('DELETE FROM notification_events WHERE notification_id = $1', [id]);
    await setNotificationState(deps.db, id, 'failed', 'queue unavailable');
    throw new AppError('queue-unavailable', `notification kept (${(e as Error).message})`);
  }
  if (!refs.length) await setNotificationState(deps.db, id, 'processed');
  deps.log.info({ site: site.id, notification: id, content: n.content, events: fresh.length, gap, created: s.created }, 'notification applied');
  const parts = [`${fresh.length || n.events.length} event(s) received`];
  if (gap) parts.push(`events ${last + 1}-${lowest! - 1} not received, catching up`);
  if (n.content === 'full-resource') parts.push(`${s.created} resource(s) stored, ${s.duplicate} already stored, ${s.invalid} invalid`);
  if (refs.length) parts.push(`${refs.length} resource(s) to read from the site server`);
  return okOutcome(parts.join('; '));
}
