import crypto from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { closeServers, siteFailure, smartTokenServer } from '../../test/helpers/smart-token-server';
import { createSiteClient } from './client';
import { parseRetryAfter, withRetry } from './retry';
import { SITE_FHIR_DEFAULTS, type OutboundAuth, type SiteFhirConfig } from '../config/sites';
import { SiteRequestError, type SiteClient } from './types';
import type { Flag } from '@medplum/fhirtypes';
import { startEhrServer } from '../../test/helpers/ehr-server';

const log = pino({ level: 'silent' });
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const servers: Server[] = [];

interface Ehr {
  origin: string;
  /** Requests to /fhir, as "METHOD /fhir/path?query" plus their headers. */
  seen: { line: string; authorization?: string; accept?: string }[];
  client(over?: Partial<SiteFhirConfig>): SiteClient;
}

/** A loopback "EHR" whose /fhir routes are given by `routes`; /auth/token is a SMART token endpoint. */
async function ehr(routes: (app: express.Express, smart: ReturnType<typeof smartTokenServer>) => void) {
  const app = express();
  let origin = '';
  const smart = smartTokenServer({ tokenUrl: () => `${origin}/auth/token`, clients: [{ clientId: 'tb', publicKey: rsa.publicKey }] });
  const seen: Ehr['seen'] = [];
  app.post('/auth/token', smart.handler);
  app.use('/fhir', (req, _res, next) => (seen.push({ line: `${req.method} ${req.originalUrl}`, authorization: req.headers.authorization, accept: req.headers.accept }), next()));
  routes(app, smart);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  servers.push(server);
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const auth: OutboundAuth = {
    type: 'smart-backend', tokenUrl: `${origin}/auth/token`, clientId: 'tb', alg: 'RS384', kid: null, scope: 'system/Observation.rs',
    privateKeyPem: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
  const client = (over: Partial<SiteFhirConfig> = {}) => createSiteClient({ id: 'site-a', fhir: fhirConfig(`${origin}/fhir`, { auth, ...over }) }, { log });
  return { origin, seen, smart, client };
}

function fhirConfig(baseUrl: string, over: Partial<SiteFhirConfig> = {}): SiteFhirConfig {
  return {
    baseUrl, auth: { type: 'none' }, modes: ['poll'], resourceTypes: null, loincCodes: null, pollIntervalMs: 60_000, pageSize: 100, searchParams: {},
    patientScope: true, patientChunk: 50, notificationUrl: null, notificationToken: null, payload: 'id-only', timeoutMs: SITE_FHIR_DEFAULTS.timeoutMs, ...over,
  };
}

const outcome = (text: string) => ({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: text }] });
const fhirJson = (res: express.Response, status: number, body: unknown) => void res.status(status).type('application/fhir+json').send(JSON.stringify(body));

const failure = siteFailure;

afterEach(() => closeServers(servers));

describe('createSiteClient', () => {
  test('search: GET {base}/{type}?params with the bearer token, then a next link as given', async () => {
    const e = await ehr((app, smart) =>
      app.get('/fhir/Observation', (req, res) => {
        if (!smart.isValid(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '')) return fhirJson(res, 401, outcome('no'));
        fhirJson(res, 200, { resourceType: 'Bundle', type: 'searchset', entry: [] });
      }),
    );
    const client = e.client();
    expect(client.baseUrl).toBe(`${e.origin}/fhir`);
    expect((await client.search('Observation', { code: 'http://loinc.org|1975-2', _count: '10' })).resourceType).toBe('Bundle');
    await client.search(`${e.origin}/fhir/Observation?_page=2`);
    expect(e.seen.map((s) => s.line)).toEqual(['GET /fhir/Observation?code=http%3A%2F%2Floinc.org%7C1975-2&_count=10', 'GET /fhir/Observation?_page=2']);
    expect(e.seen[0].accept).toBe('application/fhir+json');
    expect(e.smart.issued).toBe(1);
  });

  test('a 401 once: the token is refreshed and the request retried', async () => {
    const e = await ehr((app, smart) =>
      app.get('/fhir/Patient/1', (req, res) => {
        const ok = smart.isValid(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
        if (!ok) return void res.status(401).set('WWW-Authenticate', 'Bearer error="invalid_token"').end();
        fhirJson(res, 200, { resourceType: 'Patient', id: '1' });
      }),
    );
    const client = e.client();
    expect(await client.read('Patient/1')).toMatchObject({ id: '1' });
    e.smart.revokeAll();
    expect(await client.read('Patient/1')).toMatchObject({ id: '1' });
    expect(e.smart.issued).toBe(2);
    expect(e.seen).toHaveLength(3);
    expect(e.seen[1].authorization).not.toBe(e.seen[2].authorization);
  });

  test('a 401 twice → auth', async () => {
    const e = await ehr((app) => app.get('/fhir/Patient/1', (_req, res) => void res.status(401).end()));
    const err = await failure(e.client().read('Patient/1'));
    expect([err.kind, err.status]).toEqual(['auth', 401]);
    expect(e.seen).toHaveLength(2);
    expect(e.smart.issued).toBe(2);
  });

  test('429 with Retry-After: 2 → retry-later 2000 ms; 503 → retry-later; 500 → unavailable', async () => {
    const e = await ehr((app) => {
      app.get('/fhir/a', (_req, res) => void res.status(429).set('Retry-After', '2').end());
      app.get('/fhir/b', (_req, res) => void res.status(503).end());
      app.get('/fhir/c', (_req, res) => fhirJson(res, 500, outcome('boom')));
    });
    const client = e.client({ auth: { type: 'bearer', token: 'static' } });
    const busy = await failure(client.request('GET', 'a'));
    expect([busy.kind, busy.status, busy.retryAfterMs, busy.retriable]).toEqual(['retry-later', 429, 2000, true]);
    const down = await failure(client.request('GET', 'b'));
    expect([down.kind, down.retryAfterMs]).toEqual(['retry-later', null]);
    const broken = await failure(client.request('GET', 'c'));
    expect([broken.kind, broken.status]).toEqual(['unavailable', 500]);
    expect(e.seen[0].authorization).toBe('Bearer static');
  });

  test('connection refused and timeouts → unavailable', async () => {
    const e = await ehr((app) => app.get('/fhir/slow', () => undefined /* never answers */));
    const slow = await failure(e.client({ auth: { type: 'none' }, timeoutMs: 150 }).request('GET', 'slow'));
    expect(slow.kind).toBe('unavailable');
    expect(slow.message).toContain('timed out after 150 ms');
    const closed = servers.pop()!;
    closed.closeAllConnections();
    await new Promise((r) => closed.close(r));
    const refused = await failure(e.client({ auth: { type: 'none' } }).request('GET', 'Patient/1'));
    expect(refused.kind).toBe('unavailable');
    expect(refused.message).toContain('ECONNREFUSED');
  });

  test("400 with an OperationOutcome → rejected with its text; read 404/410 → null; 2xx non-JSON → bad-response", async () => {
    const e = await ehr((app) => {
      app.get('/fhir/Observation', (_req, res) => fhirJson(res, 400, outcome('Unknown search parameter "foo"')));
      app.get('/fhir/Patient/gone', (_req, res) => fhirJson(res, 410, outcome('deleted')));
      app.get('/fhir/Patient/html', (_req, res) => void res.type('text/html').send('<html>login</html>'));
      app.get('/fhir/Patient/notbundle', (_req, res) => fhirJson(res, 200, { resourceType: 'Patient' }));
    });
    const client = e.client({ auth: { type: 'none' } });
    const bad = await failure(client.search('Observation', { foo: 'x' }));
    expect([bad.kind, bad.status, bad.retriable]).toEqual(['rejected', 400, false]);
    expect(bad.message).toContain('Unknown search parameter "foo"');
    expect(bad.message).not.toContain('foo=x');
    expect(await client.read('Patient/missing')).toBeNull();
    expect(await client.read('Patient/gone')).toBeNull();
    expect((await failure(client.read('Patient/html'))).kind).toBe('bad-response');
    expect((await failure(client.search(`${e.origin}/fhir/Patient/notbundle`))).kind).toBe('bad-response');
    expect(e.seen[0].authorization).toBeUndefined();
  });

  test('an absolute URL on another origin is refused before anything is sent', async () => {
    const e = await ehr(() => undefined);
    const client = e.client();
    const other = e.origin.replace('127.0.0.1', 'localhost');
    for (const url of [`${other}/fhir/Observation`, 'https://evil.example/fhir/Observation', e.origin.replace('http:', 'https:') + '/fhir/x']) {
      const err = await failure(client.search(url));
      expect(err.kind).toBe('rejected');
    }
    expect((await failure(client.download('https://evil.example/file.ndjson'))).kind).toBe('rejected');
    expect(e.seen).toHaveLength(0);
    expect(e.smart.issued).toBe(0);
  });

  test('download streams an NDJSON body from the same origin with the token', async () => {
    const e = await ehr((app) => app.get('/files/1.ndjson', (req, res) => void res.type('application/fhir+ndjson').send(`{"auth":"${req.headers.authorization ? 'yes' : 'no'}","accept":"${req.headers.accept}"}\n{"n":2}\n`)));
    const stream = await e.client().download(`${e.origin}/files/1.ndjson`);
    let text = '';
    for await (const chunk of stream) text += chunk.toString();
    expect(text.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ auth: 'yes', accept: 'application/fhir+ndjson' }, { n: 2 }]);
  });

  test('create and update against a FHIR server: the stored resource with its id and version; conditional create finds the first', async () => {
    const ehrServer = await startEhrServer({ auth: { type: 'bearer', token: 'w' } });
    try {
      const client = createSiteClient({ id: 'site-a', fhir: fhirConfig(ehrServer.baseUrl, { auth: { type: 'bearer', token: 'w' } }) }, { log });
      const flag: Flag = { resourceType: 'Flag', status: 'active', identifier: [{ system: 'urn:tb:test', value: 'd1' }], code: { text: 'eligible' }, subject: { reference: 'Patient/p1' } };
      const made = await client.create(flag, { ifNoneExist: 'identifier=urn:tb:test|d1' });
      expect(made).toMatchObject({ resourceType: 'Flag', status: 'active', meta: { versionId: expect.any(String) } });
      expect(made.id).toEqual(expect.any(String));
      const again = await client.create(flag, { ifNoneExist: 'identifier=urn:tb:test|d1' });
      expect(again.id).toBe(made.id);
      const done = await client.update({ ...made, status: 'inactive' as const }, { ifMatch: made.meta!.versionId });
      expect(done).toMatchObject({ id: made.id, status: 'inactive' });
      expect(done.meta!.versionId).not.toBe(made.meta!.versionId);
      const stale = await failure(client.update({ ...made, status: 'entered-in-error' as const }, { ifMatch: made.meta!.versionId }));
      expect([stale.kind, stale.retriable]).toEqual(['rejected', false]);
      expect(await client.read(`Flag/${made.id}`)).toMatchObject({ status: 'inactive' });
      const writes = ehrServer.requests.filter((r) => r.method !== 'GET');
      expect(writes.map((r) => [r.method, r.path, r.authorization, r.prefer])).toEqual([
        ['POST', '/fhir/Flag', 'Bearer w', 'return=representation'],
        ['POST', '/fhir/Flag', 'Bearer w', 'return=representation'],
        ['PUT', `/fhir/Flag/${made.id}`, 'Bearer w', 'return=representation'],
        ['PUT', `/fhir/Flag/${made.id}`, 'Bearer w', 'return=representation'],
      ]);
      expect((await failure(client.update({ resourceType: 'Flag', status: 'active', code: {}, subject: {} } as never))).kind).toBe('rejected');
      expect((await failure(client.update({ resourceType: 'Flag', id: '../Patient/1', status: 'active', code: {}, subject: {} } as never))).kind).toBe('rejected');
    } finally {
      await ehrServer.close();
    }
    // Indexing the R4 definitions for the harness takes a few seconds on a loaded machine.
  }, 30_000);

  test('a create answered 201 without a body is read back from its Location; neither body nor Location → bad-response', async () => {
    const e = await ehr((app) => {
      app.post('/fhir/Flag', (_req, res) => void res.status(201).set('Location', `${e.origin}/fhir/Flag/f9/_history/3`).end());
      app.get('/fhir/Flag/f9/_history/3', (_req, res) => fhirJson(res, 200, { resourceType: 'Flag', id: 'f9', meta: { versionId: '3' }, status: 'active' }));
      app.post('/fhir/DetectedIssue', (_req, res) => void res.status(201).end());
    });
    const client = e.client({ auth: { type: 'none' } });
    expect(await client.create({ resourceType: 'Flag', status: 'active', code: {}, subject: {} })).toMatchObject({ id: 'f9', meta: { versionId: '3' } });
    expect((await failure(client.create({ resourceType: 'DetectedIssue', status: 'final' }))).kind).toBe('bad-response');
    expect(e.seen.map((r) => r.line)).toEqual(['POST /fhir/Flag', 'GET /fhir/Flag/f9/_history/3', 'POST /fhir/DetectedIssue']);
  });

  test("withRetry around the client honours the server's Retry-After", async () => {
    let calls = 0;
    const e = await ehr((app) => app.get('/fhir/Patient/1', (_req, res) => (++calls === 1 ? void res.status(429).set('Retry-After', '1').end() : fhirJson(res, 200, { resourceType: 'Patient', id: '1' }))));
    const client = e.client({ auth: { type: 'none' } });
    const delays: number[] = [];
    const got = await withRetry(() => client.read('Patient/1'), { attempts: 3, sleep: async (ms) => void delays.push(ms) });
    expect(got).toMatchObject({ id: '1' });
    expect(delays).toEqual([1000]);
  });
});

describe('withRetry', () => {
  const sleeper = () => {
    const delays: number[] = [];
    return { delays, sleep: async (ms: number) => void delays.push(ms) };
  };

  test('gives up after `attempts` and rethrows the last error; backoff is jittered exponential', async () => {
    const { delays, sleep } = sleeper();
    let n = 0;
    const retries: number[] = [];
    const err = await failure(
      withRetry(() => Promise.reject(new SiteRequestError('unavailable', `down ${++n}`)), { attempts: 4, baseMs: 100, maxMs: 250, random: () => 0.5, sleep, onRetry: (_e, _d, a) => retries.push(a) }),
    );
    expect(err.message).toBe('down 4');
    expect(delays).toEqual([50, 100, 125]);
    expect(retries).toEqual([1, 2, 3]);
  });

  test('does not retry non-retriable errors, nor sleep through a Retry-After longer than maxMs', async () => {
    const { delays, sleep } = sleeper();
    let n = 0;
    const fail = (e: Error) => () => (n++, Promise.reject(e));
    await expect(withRetry(fail(new SiteRequestError('auth', 'no')), { attempts: 5, sleep })).rejects.toThrow('no');
    await expect(withRetry(fail(new Error('bug')), { attempts: 5, sleep })).rejects.toThrow('bug');
    await expect(withRetry(fail(new SiteRequestError('retry-later', 'later', 429, 120_000)), { attempts: 5, sleep })).rejects.toThrow('later');
    expect(n).toBe(3);
    expect(delays).toEqual([]);
  });

  test('parseRetryAfter reads delay-seconds and HTTP-dates (RFC 9110 §10.2.3)', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
  });
});
