/**
 * A real HTTP webhook receiver on loopback: verifies each POST's
 * X-Trialbridge-Signature (HMAC-SHA256 of `timestamp.body` with the shared
 * secret, compared in constant time) and records it. `failNext(n)` answers the
 * next n requests 503, to exercise retries.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedHook {
  readonly body: any;
  readonly raw: string;
  readonly headers: http.IncomingHttpHeaders;
  /** The signature matched the body and timestamp. */
  readonly valid: boolean;
  /** What the receiver answered. */
  readonly status: number;
}

export interface WebhookReceiver {
  readonly url: string;
  /** Every request, failed ones included. */
  readonly requests: ReceivedHook[];
  /** Requests answered 2xx. */
  accepted(): ReceivedHook[];
  failNext(n: number): void;
  waitFor(pred: (accepted: ReceivedHook[]) => boolean, timeoutMs?: number): Promise<ReceivedHook[]>;
  close(): Promise<void>;
}

export function verifySignature(secret: string, timestamp: string, raw: string, header: string): boolean {
  const expected = Buffer.from(`sha256=${crypto.createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex')}`);
  const got = Buffer.from(header);
  return got.length === expected.length && crypto.timingSafeEqual(got, expected);
}

export async function startWebhookReceiver(secret: string, path = '/hook'): Promise<WebhookReceiver> {
  const requests: ReceivedHook[] = [];
  let failures = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const valid = req.method === 'POST' && req.url === path && verifySignature(secret, String(req.headers['x-trialbridge-timestamp'] ?? ''), raw, String(req.headers['x-trialbridge-signature'] ?? ''));
      const status = failures > 0 ? (failures--, 503) : valid ? 204 : 401;
      let body: unknown = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
      requests.push({ body, raw, headers: req.headers, valid, status });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const accepted = () => requests.filter((r) => r.status < 300);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    requests,
    accepted,
    failNext(n) {
      failures = n;
    },
    async waitFor(pred, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(accepted())) {
        if (Date.now() > deadline) throw new Error(`webhook receiver: condition not met; ${requests.length} requests, ${accepted().length} accepted`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return accepted();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
