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
import { ehrResourceOf, getDelivery, markAttemptFailed, markSent, patientOfFlag, preferencesOf, researchStudyOf, saveEhrResource, type Delivery } from '../store/notify';
import { toAlert } from './alert';
import { alertEmail, type Mailer } from './email';
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

async function send(deps: DeliverDeps, d: Delivery): Promise<void> {
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
      const m = alertEmail(alert);
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
 * Sends delivery `id`. `finalAttempt` says whether BullMQ will try again after
 * a failure, so the delivery is marked failed on the last one (and on a permanent error).
 */
export async function deliver(deps: DeliverDeps, id: number, finalAttempt: boolean): Promise<DeliverOutcome> {
  const d = await getDelivery(deps.db, id);
  if (!d) return 'gone';
  if (d.status === 'sent') return 'already-sent';
  try {
    await send(deps, d);
  } catch (e) {
    const permanent = e instanceof PermanentDeliveryError;
    const reason = (e as Error).message ?? String(e);
    await markAttemptFailed(deps.db, id, reason, permanent || finalAttempt);
    deps.log.warn({ delivery: id, channel: d.channel, target: d.target, flag: d.flagId, reason, final: permanent || finalAttempt }, 'delivery attempt failed');
    throw e;
  }
  await markSent(deps.db, id);
  deps.log.info({ delivery: id, channel: d.channel, target: d.target, flag: d.flagId, event: d.event }, 'delivery sent');
  return 'sent';
}
