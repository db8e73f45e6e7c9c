/**
 * The test EHR (test/helpers/ehr-server.ts) behaves like the FHIR servers the
 * connector meets: searches with the R4 parameters the poller sends, paging by
 * `next` links, Subscriptions, auth, injected faults, and the Bulk Data IG 2.0
 * async $export. No trialbridge stack needed.
 */
import type { Bundle, Observation, Resource } from '@medplum/fhirtypes';
import { rsaKeys } from '../helpers/connect';
import { startEhrServer, type EhrServer } from '../helpers/ehr-server';

const obs = (id: string, patient: string, loinc: string, lastUpdated?: string): Observation => ({
  resourceType: 'Observation', id, status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: loinc }] },
  subject: { reference: `Patient/${patient}` },
  ...(lastUpdated ? { meta: { lastUpdated } } : {}),
});

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { headers: { accept: 'application/fhir+json', ...headers } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* NDJSON or text */
  }
  return { status: res.status, body, headers: res.headers };
}

const ids = (b: Bundle) => (b.entry ?? []).map((e) => e.resource!.id).sort();

describe('an EHR without auth', () => {
  let ehr: EhrServer;
  beforeAll(async () => {
    ehr = await startEhrServer();
    const seed: Resource[] = [];
    for (let i = 0; i < 25; i++) seed.push(obs(`o${String(i).padStart(2, '0')}`, i % 2 ? 'a' : 'b', i % 3 === 0 ? '1975-2' : i % 3 === 1 ? '1751-7' : '2345-7', `2024-01-01T00:00:${String(i).padStart(2, '0')}.000Z`));
    seed.push(obs('oc', 'c', '1975-2', '2024-02-01T00:00:00.000Z'));
    await ehr.seed(seed);
  });
  afterAll(() => ehr.close());

  test('paging: next links across 3 pages, in _lastUpdated order, no next on the last', async () => {
    const seen: string[] = [];
    let url: string | undefined = `${ehr.baseUrl}/Observation?patient=Patient/a,Patient/b&_sort=_lastUpdated&_count=10`;
    const sizes: number[] = [];
    while (url) {
      const r = await get(url);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 25 });
      sizes.push(r.body.entry.length);
      seen.push(...r.body.entry.map((e: any) => e.resource.id));
      expect(r.body.entry[0].fullUrl).toBe(`${ehr.baseUrl}/Observation/${r.body.entry[0].resource.id}`);
      url = r.body.link.find((l: any) => l.relation === 'next')?.url;
    }
    expect(sizes).toEqual([10, 10, 5]);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `o${String(i).padStart(2, '0')}`));
    // The next link keeps the query and advances _offset.
    const first = await get(`${ehr.baseUrl}/Observation?_sort=_lastUpdated&_count=10`);
    const next = new URL(first.body.link.find((l: any) => l.relation === 'next').url);
    expect(Object.fromEntries(next.searchParams)).toEqual({ _sort: '_lastUpdated', _count: '10', _offset: '10' });
  });

  test('_lastUpdated=ge filters by meta.lastUpdated', async () => {
    const r = await get(`${ehr.baseUrl}/Observation?_lastUpdated=ge2024-01-01T00:00:22Z`);
    expect(ids(r.body)).toEqual(['o22', 'o23', 'o24', 'oc']);
  });

  test('code= with a comma-separated system|code list is an OR', async () => {
    const r = await get(`${ehr.baseUrl}/Observation?code=${encodeURIComponent('http://loinc.org|1975-2,http://loinc.org|1751-7')}&_count=100`);
    expect(r.body.entry).toHaveLength(18);
    expect(r.body.entry.every((e: any) => ['1975-2', '1751-7'].includes(e.resource.code.coding[0].code))).toBe(true);
  });

  test('patient= with a list of references is an OR', async () => {
    const r = await get(`${ehr.baseUrl}/Observation?patient=Patient/a,Patient/c&_count=100`);
    expect(r.body.entry).toHaveLength(13);
    expect(new Set(r.body.entry.map((e: any) => e.resource.subject.reference))).toEqual(new Set(['Patient/a', 'Patient/c']));
  });

  test('read, vread, create, update, delete over HTTP', async () => {
    const post = await fetch(`${ehr.baseUrl}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Patient', gender: 'female' }) });
    expect(post.status).toBe(201);
    const created = (await post.json()) as any;
    expect(post.headers.get('location')).toBe(`${ehr.baseUrl}/Patient/${created.id}/_history/${created.meta.versionId}`);
    const updated = await ehr.update({ ...created, gender: 'male' });
    expect(updated.meta.versionId).not.toBe(created.meta.versionId);
    expect((await get(`${ehr.baseUrl}/Patient/${created.id}`)).body.gender).toBe('male');
    expect((await get(`${ehr.baseUrl}/Patient/${created.id}/_history/${created.meta.versionId}`)).body.gender).toBe('female');
    const put = await fetch(`${ehr.baseUrl}/Patient/${created.id}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Patient', id: created.id, gender: 'other' }) });
    expect(put.status).toBe(200);
    expect((await fetch(`${ehr.baseUrl}/Patient/${created.id}`, { method: 'DELETE' })).status).toBe(200);
    const gone = await get(`${ehr.baseUrl}/Patient/${created.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.resourceType).toBe('OperationOutcome');
  });

  test('Subscriptions (R4 rest-hook, backport extensions) can be created, updated and searched', async () => {
    const sub = {
      resourceType: 'Subscription', status: 'requested', reason: 'trialbridge', criteria: 'Observation?code=http://loinc.org|1975-2&patient=Patient/a',
      meta: { tag: [{ system: 'urn:trialbridge:subscription', code: 'site-a' }] },
      channel: {
        type: 'rest-hook', endpoint: 'http://127.0.0.1:1/fhir', payload: 'application/fhir+json', header: ['Authorization: Bearer x'],
        _payload: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content', valueCode: 'id-only' }] },
      },
    };
    const post = await fetch(`${ehr.baseUrl}/Subscription`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(sub) });
    expect(post.status).toBe(201);
    const created = (await post.json()) as any;
    const put = await fetch(`${ehr.baseUrl}/Subscription/${created.id}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ ...created, status: 'active' }) });
    expect(put.status).toBe(200);
    const found = await get(`${ehr.baseUrl}/Subscription?_tag=urn:trialbridge:subscription|site-a`);
    expect(found.body.entry.map((e: any) => [e.resource.id, e.resource.status, e.resource.channel._payload.extension[0].valueCode])).toEqual([[created.id, 'active', 'id-only']]);
  });

  test('fault injection: the next matching requests get the given answers, in order, then normal service', async () => {
    ehr.fail({ method: 'GET', path: /\/fhir\/Observation\?/ }, [{ status: 503, headers: { 'Retry-After': '2' } }, { status: 429 }, { status: 500, body: 'boom' }]);
    const a = await get(`${ehr.baseUrl}/Observation?_count=1`);
    expect([a.status, a.headers.get('retry-after'), a.body.issue[0].code]).toEqual([503, '2', 'transient']);
    expect((await get(`${ehr.baseUrl}/Observation/o01`)).status).toBe(200); // not matching
    expect((await get(`${ehr.baseUrl}/Observation?_count=1`)).status).toBe(429);
    expect((await get(`${ehr.baseUrl}/Observation?_count=1`)).body).toBe('boom');
    expect((await get(`${ehr.baseUrl}/Observation?_count=1`)).status).toBe(200);
  });

  test('request log and slow responses', async () => {
    ehr.delayMs = 150;
    const t = Date.now();
    await get(`${ehr.baseUrl}/Observation/o02`, { authorization: 'Bearer t' });
    expect(Date.now() - t).toBeGreaterThanOrEqual(140);
    ehr.delayMs = 0;
    expect(ehr.requests.at(-1)).toMatchObject({ method: 'GET', path: '/fhir/Observation/o02', authorization: 'Bearer t' });
  });
});

describe('auth', () => {
  test('bearer: the exact token, else 401 with WWW-Authenticate', async () => {
    const ehr = await startEhrServer({ auth: { type: 'bearer', token: 'secret-1' } });
    try {
      await ehr.create(obs('x', 'a', '1975-2'));
      expect((await get(`${ehr.baseUrl}/Observation/x`, { authorization: 'Bearer secret-1' })).status).toBe(200);
      const wrong = await get(`${ehr.baseUrl}/Observation/x`, { authorization: 'Bearer secret-2' });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer .*invalid_token/);
      expect((await get(`${ehr.baseUrl}/Observation/x`)).status).toBe(401);
    } finally {
      await ehr.close();
    }
  });

  test('smart: tokens from /auth/token work until revoked', async () => {
    const keys = rsaKeys();
    const ehr = await startEhrServer({ auth: { type: 'smart', clients: [{ clientId: 'tb', publicKey: keys.publicKey }] } });
    try {
      expect(ehr.tokenUrl).toBe(ehr.baseUrl.replace(/\/fhir$/, '/auth/token'));
      expect((await get(`${ehr.baseUrl}/Patient?_count=1`, { authorization: 'Bearer made-up' })).status).toBe(401);
      const { SignJWT, importPKCS8 } = await import('jose');
      const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'RS384' }).setIssuer('tb').setSubject('tb').setAudience(ehr.tokenUrl!)
        .setJti(`${Math.random()}`).setExpirationTime('4m').sign(await importPKCS8(keys.privateKeyPem, 'RS384'));
      const res = await fetch(ehr.tokenUrl!, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/Patient.rs', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt }),
      });
      expect(res.status).toBe(200);
      const token = ((await res.json()) as any).access_token;
      expect((await get(`${ehr.baseUrl}/Patient?_count=1`, { authorization: `Bearer ${token}` })).status).toBe(200);
      ehr.revokeTokens();
      expect((await get(`${ehr.baseUrl}/Patient?_count=1`, { authorization: `Bearer ${token}` })).status).toBe(401);
    } finally {
      await ehr.close();
    }
  });
});

describe('Bulk Data $export', () => {
  let ehr: EhrServer;
  const auth = { authorization: 'Bearer bulk-token' };
  beforeAll(async () => {
    ehr = await startEhrServer({ auth: { type: 'bearer', token: 'bulk-token' } });
    await ehr.seed([
      { resourceType: 'Patient', id: 'p1', meta: { lastUpdated: '2024-01-01T00:00:00.000Z' } } as Resource,
      { resourceType: 'Patient', id: 'p2', meta: { lastUpdated: '2024-03-01T00:00:00.000Z' } } as Resource,
      obs('e1', 'p1', '1975-2', '2024-01-02T00:00:00.000Z'),
      obs('e2', 'p1', '1751-7', '2024-03-02T00:00:00.000Z'),
      obs('e3', 'p2', '2345-7', '2024-03-03T00:00:00.000Z'),
    ]);
  });
  afterAll(() => ehr.close());

  test('kick-off (429 once), 202 polls with Retry-After and X-Progress, manifest, NDJSON files with auth, DELETE', async () => {
    ehr.fail({ method: 'GET', path: /\$export/ }, [{ status: 429, headers: { 'Retry-After': '1' } }]);
    const kick = `${ehr.baseUrl}/$export?_type=Patient,Observation&_since=2024-02-01T00:00:00Z`;
    const headers = { ...auth, prefer: 'respond-async' };
    expect((await get(kick, headers)).status).toBe(429);
    expect((await get(kick, auth)).status).toBe(400); // Prefer: respond-async is required
    const k = await get(kick, headers);
    expect(k.status).toBe(202);
    const status = k.headers.get('content-location')!;
    expect(status).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/bulk\/status\//);

    expect((await get(status)).status).toBe(401);
    const p1 = await get(status, auth);
    expect([p1.status, p1.headers.get('retry-after'), p1.headers.get('x-progress')]).toEqual([202, '1', '50% complete']);
    const done = await get(status, auth);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ request: kick, requiresAccessToken: true, error: [] });
    expect(Date.parse(done.body.transactionTime)).toBeGreaterThan(Date.now() - 60_000);
    expect(done.body.output.map((o: any) => o.type)).toEqual(['Patient', 'Observation']);

    const files = await Promise.all(done.body.output.map((o: any) => fetch(o.url, { headers: auth })));
    expect(files.map((f) => f.headers.get('content-type'))).toEqual([expect.stringMatching(/^application\/fhir\+ndjson/), expect.stringMatching(/^application\/fhir\+ndjson/)]);
    const lines = await Promise.all(files.map(async (f) => (await f.text()).trim().split('\n').map((l: string) => JSON.parse(l).id).sort()));
    expect(lines).toEqual([['p2'], ['e2', 'e3']]);
    expect((await fetch(done.body.output[0].url)).status).toBe(401);

    expect((await fetch(status, { method: 'DELETE', headers: auth })).status).toBe(202);
    expect((await get(status, auth)).status).toBe(404);
    expect((await get(done.body.output[0].url, auth)).status).toBe(404);
  });

  test('_typeFilter, group-level export, split files and an error file', async () => {
    await ehr.create({ resourceType: 'Group', id: 'g1', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/p1' } }] } as Resource);
    ehr.bulk.pendingPolls = 0;
    ehr.bulk.maxPerFile = 1;
    ehr.bulk.errors = [{ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'too-costly', diagnostics: 'x' }] }];
    try {
      const q = new URLSearchParams({ _type: 'Patient,Observation', _typeFilter: 'Observation?code=http://loinc.org|1975-2,http://loinc.org|1751-7' });
      const k = await get(`${ehr.baseUrl}/Group/g1/$export?${q}`, { ...auth, prefer: 'respond-async' });
      expect(k.status).toBe(202);
      const m = (await get(k.headers.get('content-location')!, auth)).body;
      expect(m.output.map((o: any) => [o.type, o.count])).toEqual([['Patient', 1], ['Observation', 1], ['Observation', 1]]);
      expect(m.error).toEqual([{ type: 'OperationOutcome', url: expect.stringMatching(/errors\.ndjson$/) }]);
      const got = await Promise.all(m.output.map(async (o: any) => JSON.parse(await (await fetch(o.url, { headers: auth })).text()).id));
      expect(got.sort()).toEqual(['e1', 'e2', 'p1']);
      expect((await get(`${ehr.baseUrl}/Group/nope/$export`, { ...auth, prefer: 'respond-async' })).status).toBe(404);
    } finally {
      Object.assign(ehr.bulk, { pendingPolls: 1, maxPerFile: 1000, errors: [] });
    }
  });
});
