/**
 * Webhook POSTs: a small JSON body signed with HMAC-SHA256 over
 * `timestamp + "." + body` (the scheme of Stripe and Standard Webhooks), so a
 * receiver can check both origin and freshness (replay window). The delivery id
 * travels as the idempotency key: a retry after a lost answer is recognisable.
 */
import crypto from 'node:crypto';
import type { WebhookConfig } from '../config/notify';
import type { Alert } from './alert';

/** How long one POST may take before it counts as failed (and is retried). */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/** The body: ids and codes only. */
export function webhookBody(a: Alert, deliveryId: number): string {
  return JSON.stringify({ delivery: deliveryId, event: a.event, code: a.code, severity: a.severity, trial: a.trial, site: a.site, subject: a.subject, visit: a.visit, link: a.link });
}

export class WebhookError extends Error {
  constructor(message: string, readonly status: number | null) {
    super(message);
    this.name = 'WebhookError';
  }
}

/** POSTs once; throws WebhookError (a status or a network reason, no body text) unless the receiver answers 2xx. */
export async function postWebhook(hook: WebhookConfig, a: Alert, deliveryId: number, now: () => number = Date.now): Promise<number> {
  const body = webhookBody(a, deliveryId);
  const timestamp = String(Math.floor(now() / 1000));
  let res: Response;
  try {
    res = await fetch(hook.url, {
      method: 'POST',
      redirect: 'error',
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'trialbridge-webhook',
        'x-trialbridge-timestamp': timestamp,
        'x-trialbridge-signature': signWebhook(hook.secret, timestamp, body),
        'x-trialbridge-delivery': String(deliveryId),
        'idempotency-key': String(deliveryId),
      },
      body,
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    throw new WebhookError(`webhook ${hook.id}: ${err.name === 'TimeoutError' ? `timed out after ${WEBHOOK_TIMEOUT_MS} ms` : (err.cause?.code ?? err.name)}`, null);
  }
  await res.body?.cancel().catch(() => undefined);
  if (!res.ok) throw new WebhookError(`webhook ${hook.id}: answered ${res.status}`, res.status);
  return res.status;
}
