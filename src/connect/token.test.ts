import crypto from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import pino from 'pino';
import { closeServers, siteFailure, smartTokenServer, type SmartTokenServer } from '../../test/helpers/smart-token-server';
import type { OutboundAuth, SigningAlg } from '../config/sites';
import { cacheLifetimeMs, createTokenSource, JWT_BEARER_ASSERTION } from './token';

const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
const pem = (k: crypto.KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }) as string;

const lines: string[] = [];
const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });

interface Endpoint {
  url: string;
  tokenUrl: string;
  smart: SmartTokenServer;
  /** Requests that reached /token, with their form fields. */
  seen: Record<string, string>[];
}
const servers: Server[] = [];

/** A loopback token endpoint at /token; `aud` is what the server expects as audience (default its own URL). */
async function endpoint(opts: { clients?: { clientId: string; publicKey: crypto.KeyObject }[]; ttlSeconds?: number; now?: () => number; aud?: string } = {}): Promise<Endpoint> {
  const app = express();
  const seen: Record<string, string>[] = [];
  let url = '';
  const smart = smartTokenServer({
    tokenUrl: () => opts.aud ?? `${url}/token`,
    clients: opts.clients ?? [{ clientId: 'tb-rsa', publicKey: rsa.publicKey }, { clientId: 'tb-ec', publicKey: ec.publicKey }],
    ttlSeconds: opts.ttlSeconds,
    now: opts.now,
  });
  // Parsed here too, to record the fields; the handler then finds the body already parsed.
  app.post('/token', express.urlencoded({ extended: false }), (req, _res, next) => (seen.push({ ...req.body }), next()), smart.handler);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  servers.push(server);
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, tokenUrl: `${url}/token`, smart, seen };
}

function smartAuth(tokenUrl: string, alg: SigningAlg = 'RS384', over: Partial<OutboundAuth> = {}): OutboundAuth {
  return {
    type: 'smart-backend', tokenUrl, alg, clientId: alg === 'RS384' ? 'tb-rsa' : 'tb-ec', privateKeyPem: pem(alg === 'RS384' ? rsa.privateKey : ec.privateKey),
    kid: alg === 'RS384' ? 'key-1' : null, scope: 'system/Observation.rs', ...over,
  } as OutboundAuth;
}

const refusal = siteFailure;

afterEach(() => closeServers(servers));

describe('createTokenSource', () => {
  test('none gives null and bearer its static token', async () => {
    const none = createTokenSource({ type: 'none' }, { log });
    const bearer = createTokenSource({ type: 'bearer', token: 'static-abc' }, { log });
    expect(await none.token()).toBeNull();
    bearer.invalidate();
    expect(await bearer.token()).toBe('static-abc');
  });

  test('RS384: a SMART Backend Services client_credentials request with a well-formed assertion', async () => {
    const ep = await endpoint();
    const source = createTokenSource(smartAuth(ep.tokenUrl), { log });
    const token = await source.token();
    expect(token && ep.smart.isValid(token)).toBe(true);
    const form = ep.seen[0];
    expect(form).toMatchObject({ grant_type: 'client_credentials', scope: 'system/Observation.rs', client_assertion_type: JWT_BEARER_ASSERTION });
    expect(decodeProtectedHeader(form.client_assertion)).toEqual({ alg: 'RS384', typ: 'JWT', kid: 'key-1' });
    const claims = decodeJwt(form.client_assertion);
    expect(claims).toMatchObject({ iss: 'tb-rsa', sub: 'tb-rsa', aud: ep.tokenUrl });
    expect(claims.exp! - Date.now() / 1000).toBeLessThanOrEqual(300);
    expect(claims.exp! - Date.now() / 1000).toBeGreaterThan(290);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(ep.smart.rejections).toEqual([]);
  });

  test('ES384 (P-384) gets a token; no kid header when none is configured', async () => {
    const ep = await endpoint();
    const token = await createTokenSource(smartAuth(ep.tokenUrl, 'ES384'), { log }).token();
    expect(token && ep.smart.isValid(token)).toBe(true);
    expect(decodeProtectedHeader(ep.seen[0].client_assertion)).toEqual({ alg: 'ES384', typ: 'JWT' });
  });

  test('caches the token; invalidate() fetches a new one with a new jti', async () => {
    const ep = await endpoint();
    const source = createTokenSource(smartAuth(ep.tokenUrl), { log });
    const first = await source.token();
    expect(await source.token()).toBe(first);
    expect(ep.seen).toHaveLength(1);
    source.invalidate();
    const second = await source.token();
    expect(second).not.toBe(first);
    expect(ep.seen).toHaveLength(2);
    expect(decodeJwt(ep.seen[0].client_assertion).jti).not.toBe(decodeJwt(ep.seen[1].client_assertion).jti);
  });

  test('concurrent callers share one token request', async () => {
    const ep = await endpoint();
    const source = createTokenSource(smartAuth(ep.tokenUrl), { log });
    const got = await Promise.all(Array.from({ length: 5 }, () => source.token()));
    expect(new Set(got).size).toBe(1);
    expect(ep.seen).toHaveLength(1);
    expect(ep.smart.issued).toBe(1);
  });

  test('refreshes 60 s before expiry, or at half the lifetime of a short-lived token', async () => {
    expect(cacheLifetimeMs(300)).toBe(240_000);
    expect(cacheLifetimeMs(60)).toBe(30_000);
    let t = Date.now();
    const now = () => t;
    const ep = await endpoint({ now, ttlSeconds: 300 });
    const source = createTokenSource(smartAuth(ep.tokenUrl), { log, now });
    const first = await source.token();
    t += 239_000;
    expect(await source.token()).toBe(first);
    expect(ep.seen).toHaveLength(1);
    t += 2_000;
    const second = await source.token();
    expect(second).not.toBe(first);
    expect(ep.seen).toHaveLength(2);
    expect(ep.smart.isValid(second!)).toBe(true);

    const short = await endpoint({ now, ttlSeconds: 60 });
    const s2 = createTokenSource(smartAuth(short.tokenUrl), { log, now });
    await s2.token();
    t += 29_000;
    await s2.token();
    t += 2_000;
    await s2.token();
    expect(short.seen).toHaveLength(2);
  });

  test('a key the server does not hold is refused: invalid_client, bad signature', async () => {
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ep = await endpoint();
    const e = await refusal(createTokenSource(smartAuth(ep.tokenUrl, 'RS384', { privateKeyPem: pem(other.privateKey) }), { log }).token());
    expect(e.kind).toBe('auth');
    expect(e.status).toBe(401);
    expect(e.message).toContain('invalid_client');
    expect(ep.smart.rejections).toEqual(['bad signature']);
  });

  test('an assertion for another audience is refused', async () => {
    const ep = await endpoint({ aud: 'https://ehr.example.org/oauth2/token' });
    const e = await refusal(createTokenSource(smartAuth(ep.tokenUrl), { log }).token());
    expect(e.kind).toBe('auth');
    expect(e.message).toContain('aud mismatch');
    expect(ep.smart.rejections).toEqual(['aud mismatch']);
  });

  test('an unknown client id is refused', async () => {
    const ep = await endpoint();
    const e = await refusal(createTokenSource(smartAuth(ep.tokenUrl, 'RS384', { clientId: 'stranger' }), { log }).token());
    expect(e.kind).toBe('auth');
    expect(ep.smart.rejections).toEqual(['unknown client']);
  });

  test('a replayed assertion (same jti) is refused by the server', async () => {
    const ep = await endpoint();
    await createTokenSource(smartAuth(ep.tokenUrl), { log }).token();
    const replay = await fetch(ep.tokenUrl, { method: 'POST', body: new URLSearchParams(ep.seen[0]) });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({ error: 'invalid_client', error_description: 'jti replayed' });
    expect(ep.smart.rejections).toEqual(['jti replayed']);
    expect(ep.smart.issued).toBe(1);
  });

  test('the server refuses an assertion whose sub is not its iss, one already expired, and one without jti', async () => {
    const ep = await endpoint();
    const key = crypto.createPrivateKey(pem(rsa.privateKey));
    const now = Math.floor(Date.now() / 1000);
    const post = async (claims: Record<string, unknown>) => {
      const assertion = await new SignJWT(claims).setProtectedHeader({ alg: 'RS384', typ: 'JWT' }).sign(key);
      return fetch(ep.tokenUrl, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/Observation.rs', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
      });
    };
    const base = { iss: 'tb-rsa', sub: 'tb-rsa', aud: ep.tokenUrl, exp: now + 240, jti: crypto.randomUUID() };
    expect((await post({ ...base, sub: 'someone-else' })).status).toBe(401);
    expect((await post({ ...base, jti: crypto.randomUUID(), exp: now - 120 })).status).toBe(401);
    const { jti: _omit, ...noJti } = base;
    expect((await post(noJti)).status).toBe(401);
    expect(ep.smart.rejections).toHaveLength(3);
    expect(ep.smart.rejections[0]).toMatch(/sub/);
    expect(ep.smart.rejections[1]).toMatch(/expired/);
    expect(ep.smart.rejections[2]).toMatch(/jti/);
    expect((await post({ ...base, jti: crypto.randomUUID() })).status).toBe(200);
  });

  test('the server refuses an exp more than 5 minutes ahead and a non-form body', async () => {
    // Our clock 10 minutes ahead of the server's: the assertion's exp is too far in the server's view.
    const ep = await endpoint();
    const e = await refusal(createTokenSource(smartAuth(ep.tokenUrl), { log, now: () => Date.now() + 600_000 }).token());
    expect(e.kind).toBe('auth');
    const json = await fetch(ep.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(400);
    expect(ep.smart.rejections).toEqual(['exp too far', 'not form-encoded']);
  });

  test('token endpoint trouble: 503 + Retry-After → retry-later, 500 and refused connections → unavailable', async () => {
    const app = express();
    let status = 503;
    app.post('/token', (_req, res) => void res.status(status).set('Retry-After', '7').json({ error: 'temporarily_unavailable' }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    servers.push(server);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    const source = createTokenSource(smartAuth(url), { log });
    const busy = await refusal(source.token());
    expect([busy.kind, busy.status, busy.retryAfterMs]).toEqual(['retry-later', 503, 7000]);
    status = 500;
    expect((await refusal(source.token())).kind).toBe('unavailable');
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    const down = await refusal(source.token());
    expect(down.kind).toBe('unavailable');
    expect(down.message).toContain('ECONNREFUSED');
  });

  test('never logs the token or the assertion', async () => {
    const ep = await endpoint();
    lines.length = 0;
    const source = createTokenSource(smartAuth(ep.tokenUrl), { log });
    const token = await source.token();
    expect(lines.join('\n')).toContain('token: obtained');
    expect(lines.join('\n')).not.toContain(token!);
    expect(lines.join('\n')).not.toContain(ep.seen[0].client_assertion.split('.')[2]);
  });
});
