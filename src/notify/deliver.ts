/**
 * Sends one delivery (a job of the notify queue): email, webhook or FHIR
 * write-back. At-least-once jobs, exactly one success per delivery: a delivery
 * already sent returns at once, and the first success is what is recorded.
 * A failure throws for BullMQ to retry with backoff; after the last attempt
 * the delivery stays `failed`, listed for admins and re-sendable.
 */
import type { SiteConfig } from '../config';
import type { SiteClient } from '../connect/types';
import type { Logger } from '../logger';
import type { Db } from '../store/db';
import { ehrResourceOf, getDeliveries, markAttemptFailed, markSent, patientOfFlag, preferencesOf, researchStudyOf, saveEhrResource, type Delivery } from '../store/notify';
import { toAlert } from './alert';
import { alertsEmail, type Mailer } from './email';
import type { NotifySettings } from './fanout';
import { writeRaised, writeResolved } from './fhir';
import { postWebhook } from './webhook';

export interface DeliverDeps {
  readonly db: Db;
  readonly log: Logger;
  readonly settings: NotifySettings;
  /** null when no SMTP relay is configured. */
  readonly mailer: Mailer | null;
  readonly clientOf: (site: SiteConfig) => SiteClient;
  readonly now?: () => Date;
}

/** A failure no retry can cure (the delivery is failed at once). */
export class PermanentDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentDeliveryError';
  }
}

export type DeliverOutcome = 'sent' | 'already-sent' | 'gone';

/** Sends `d`; `also` are more immediate emails to the same recipient, sent in the same message. */
async function send(deps: DeliverDeps, d: Delivery, also: readonly Delivery[]): Promise<void> {
  const alert = toAlert(d.flag, d.event, deps.settings.publicUrl);
  const now = deps.now?.() ?? new Date();
  switch (d.channel) {
    case 'webhook': {
      const hook = deps.settings.notify.webhooks.find((w) => w.id === d.target);
      if (!hook) throw new PermanentDeliveryError(`webhook ${d.target} is no longer configured`);
      await postWebhook(hook, alert, d.id, () => now.getTime());
      return;
    }
    case 'email': {
      if (!deps.mailer) throw new PermanentDeliveryError('no SMTP relay configured');
      const user = deps.settings.users.find((u) => u.id === d.target);
      const to = (await preferencesOf(deps.db, [d.target])).get(d.target)?.email ?? user?.email;
      if (!user || !to) throw new PermanentDeliveryError(`user ${d.target} has no email address`);
      const m = alertsEmail([alert, ...also.map((x) => toAlert(x.flag, x.event, deps.settings.publicUrl))]);
      await deps.mailer.send(to, m.subject, m.text);
      return;
    }
    case 'fhir': {
      const site = deps.settings.sites.find((s) => s.id === d.target);
      if (!site?.fhir?.writeBack) throw new PermanentDeliveryError(`site ${d.target} does not allow write-back`);
      const client = deps.clientOf(site);
      if (d.event === 'raised') {
        const patientId = await patientOfFlag(deps.db, d.flag);
        if (!patientId) throw new PermanentDeliveryError('the patient of the flag is not known');
        const stored = await writeRaised(client, { alert, patientId, researchStudyId: await researchStudyOf(deps.db, d.flag.site, d.flag.trial), now });
        await saveEhrResource(deps.db, { flagId: d.flagId, site: site.id, resourceType: stored.resourceType, resourceId: stored.id!, versionId: stored.meta?.versionId ?? null, status: stored.status ?? 'active' });
        return;
      }
      const ref = await ehrResourceOf(deps.db, d.flagId);
      // The raise is still on its way (or failed): retried, the resolution follows it.
      if (!ref) throw new Error('the raised flag is not in the EHR yet');
      const stored = await writeResolved(client, ref, now);
      if (stored) await saveEhrResource(deps.db, { ...ref, versionId: stored.meta?.versionId ?? null, status: (stored as { status?: string }).status ?? 'inactive' });
      return;
    }
  }
}

/**
 * Sends delivery `id`, and with it the deliveries `also` (immediate emails to
 * the same recipient that the poller grouped: a burst of alerts is one message).
 * They share one outcome. `finalAttempt` says whether BullMQ will try again
 * after a failure, so the deliveries are marked failed on the last one (and on
 * a permanent error).
 */
export async function deliver(deps: DeliverDeps, id: number, finalAttempt: boolean, also: readonly number[] = []): Promise<DeliverOutcome> {
  const all = (await getDeliveries(deps.db, [id, ...also])).filter((x) => x.status !== 'sent');
  const d = all.find((x) => x.id === id) ?? all[0];
  if (!d) return (await getDeliveries(deps.db, [id])).length ? 'already-sent' : 'gone';
  // Only what may share one message: immediate emails to the same recipient.
  const rest = all.filter((x) => x !== d && x.channel === 'email' && d.channel === 'email' && x.target === d.target && x.mode === 'immediate');
  const ids = [d.id, ...rest.map((x) => x.id)];
  try {
    await send(deps, d, rest);
  } catch (e) {
    const permanent = e instanceof PermanentDeliveryError;
    const reason = (e as Error).message ?? String(e);
    await markAttemptFailed(deps.db, ids, reason, permanent || finalAttempt);
    deps.log.warn({ delivery: d.id, with: rest.length, channel: d.channel, target: d.target, flag: d.flagId, reason, final: permanent || finalAttempt }, 'delivery attempt failed');
    throw e;
  }
  await markSent(deps.db, ids);
  deps.log.info({ delivery: d.id, with: rest.length, channel: d.channel, target: d.target, flag: d.flagId, event: d.event }, 'delivery sent');
  return 'sent';
}
