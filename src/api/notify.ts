/**
 * /api endpoints of flag alerts (README "Pre-screening and alerts"):
 *  - GET/PUT /api/me/notifications: the caller's email preference (address, codes, immediate or digest);
 *  - GET /api/notifications/deliveries?status=failed: deliveries for admins (ids and codes only);
 *  - POST /api/notifications/deliveries/:id/resend: a failed delivery queued again (admins).
 * An admin sees and resends only deliveries of flags in their admin scope.
 */
import express, { type Router } from 'express';
import type { Config } from '../config';
import { isEmailAddress } from '../config/notify';
import { AppError } from '../errors';
import { ah, can, scopeOf, type Principal, principalOf } from '../http';
import type { Db } from '../store/db';
import { getDelivery, listDeliveries, preferencesOf, resendDelivery, savePreference, type Delivery, type DeliveryStatus } from '../store/notify';
import { URGENT_CODES } from '../notify';

const STATUSES: readonly DeliveryStatus[] = ['pending', 'queued', 'sent', 'failed'];
const MODES = ['default', 'immediate', 'digest'] as const;
const CODE = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** Codes one preference may list. */
export const MAX_PREFERENCE_CODES = 100;

function requireAdmin(p: Principal): void {
  if (!scopeOf(p, 'admin').all && !scopeOf(p, 'admin').pairs.length) throw new AppError('forbidden', 'you may not admin');
}

const bad = (text: string, field: string) => new AppError('invalid-notification-preference', text, [field]);

/** The delivery as admins see it: ids, codes and the failure reason, never flag messages or evidence. */
function view(d: Delivery) {
  return {
    id: d.id, channel: d.channel, target: d.target, event: d.event, mode: d.mode, status: d.status, attempts: d.attempts, lastError: d.lastError, createdAt: d.createdAt, sentAt: d.sentAt,
    flag: { id: d.flag.id, code: d.flag.code, trial: d.flag.trial, site: d.flag.site, subject: d.flag.subject, visit: d.flag.visit },
  };
}

export function notifyRouter(config: Config, db: Db): Router {
  const r = express.Router();
  r.use('/me/notifications', express.json({ limit: '16kb', type: ['application/json', 'application/*+json'] }));

  r.get('/me/notifications', ah(async (req, res) => {
    const p = principalOf(req);
    const pref = (await preferencesOf(db, [p.id])).get(p.id);
    const configured = config.users.find((u) => u.id === p.id)?.email ?? null;
    res.json({
      user: p.id, email: pref?.email ?? configured, configuredEmail: configured, codes: pref?.codes ?? ['*'], mode: pref?.mode ?? 'default',
      urgentCodes: URGENT_CODES, saved: !!pref, updatedAt: pref?.updatedAt ?? null,
    });
  }));

  r.put('/me/notifications', ah(async (req, res) => {
    const p = principalOf(req);
    const b: unknown = req.body;
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw bad('the body must be a JSON object', 'body');
    const o = b as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['email', 'codes', 'mode'].includes(k)) throw bad(`unknown member "${k.slice(0, 40)}" (expected email, codes, mode)`, k.slice(0, 40));
    if (o.email !== undefined && o.email !== null && !isEmailAddress(o.email)) throw bad('email must be an email address, or null for the configured one', 'email');
    const codes = o.codes ?? ['*'];
    if (!Array.isArray(codes) || codes.length > MAX_PREFERENCE_CODES || !codes.every((c) => typeof c === 'string' && (c === '*' || CODE.test(c))))
      throw bad(`codes must be an array of at most ${MAX_PREFERENCE_CODES} flag codes or "*" ([] = no email)`, 'codes');
    const mode = o.mode ?? 'default';
    if (!MODES.includes(mode as (typeof MODES)[number])) throw bad(`mode must be one of ${MODES.join(', ')}`, 'mode');
    await savePreference(db, { userId: p.id, email: typeof o.email === 'string' ? o.email.trim() : null, codes: [...new Set(codes as string[])], mode: mode as (typeof MODES)[number] });
    const pref = (await preferencesOf(db, [p.id])).get(p.id)!;
    res.json({ user: p.id, email: pref.email ?? config.users.find((u) => u.id === p.id)?.email ?? null, codes: pref.codes, mode: pref.mode, saved: true, updatedAt: pref.updatedAt });
  }));

  r.get('/notifications/deliveries', ah(async (req, res) => {
    const p = principalOf(req);
    requireAdmin(p);
    const status = req.query.status;
    if (status !== undefined && (typeof status !== 'string' || !STATUSES.includes(status as DeliveryStatus))) throw new AppError('invalid-query', `status must be one of ${STATUSES.join(', ')}`, ['status']);
    const rows = await listDeliveries(db, { status: status as DeliveryStatus | undefined, limit: 1000 });
    res.json({ rows: rows.filter((d) => can(p, 'admin', d.flag.trial, d.flag.site)).map(view) });
  }));

  r.post('/notifications/deliveries/:id/resend', ah(async (req, res) => {
    const p = principalOf(req);
    requireAdmin(p);
    const id = /^[1-9][0-9]{0,15}$/.test(req.params.id) ? Number(req.params.id) : null;
    const d = id ? await getDelivery(db, id) : null;
    if (!d || !can(p, 'admin', d.flag.trial, d.flag.site)) throw new AppError('not-found', `no delivery "${req.params.id.slice(0, 40)}"`);
    if (d.status !== 'failed') throw new AppError('delivery-not-failed', `delivery ${d.id} is ${d.status}`);
    const again = await resendDelivery(db, d.id);
    if (!again) throw new AppError('delivery-not-failed', `delivery ${d.id} is no longer failed`);
    res.status(202).json(view(again));
  }));
  return r;
}
