/**
 * The daily digest: every pending digest-mode email delivery, grouped per
 * user into one message. Run by a scheduled job (TRIALBRIDGE_DIGEST_CRON) and
 * callable with a time for tests and operators. The deliveries are locked
 * while the mail goes out and marked sent in the same transaction, so two
 * runs never send the same flag twice.
 */
import type { Logger } from '../logger';
import type { Db } from '../store/db';
import { lockDigest, markDigestSent, preferencesOf } from '../store/notify';
import { toAlert } from './alert';
import { digestEmail, type Mailer } from './email';
import type { NotifySettings } from './fanout';

export async function sendDigests(deps: { db: Db; log: Logger; settings: NotifySettings; mailer: Mailer | null }, now: Date): Promise<{ users: number; flags: number }> {
  if (!deps.mailer) return { users: 0, flags: 0 };
  const mailer = deps.mailer;
  return deps.db.transaction(async (tx) => {
    const pending = await lockDigest(tx, now);
    const byUser = new Map<string, typeof pending>();
    for (const d of pending) byUser.set(d.target, [...(byUser.get(d.target) ?? []), d]);
    const prefs = await preferencesOf(tx, [...byUser.keys()]);
    let users = 0;
    let flags = 0;
    const day = now.toISOString().slice(0, 10);
    for (const [userId, list] of byUser) {
      const to = prefs.get(userId)?.email ?? deps.settings.users.find((u) => u.id === userId)?.email;
      if (!to) continue;
      const m = digestEmail(list.map((d) => toAlert(d.flag, d.event, deps.settings.publicUrl)), day);
      await mailer.send(to, m.subject, m.text);
      await markDigestSent(tx, list.map((d) => d.id));
      users++;
      flags += list.length;
    }
    if (users) deps.log.info({ users, flags }, 'digests sent');
    return { users, flags };
  });
}
