/**
 * Polling a site's FHIR server against a real FHIR server (Medplum's
 * FhirRouter + MemoryRepository, test/helpers/ehr-server.ts) with SMART
 * Backend Services auth, through the real queue, worker and PostgreSQL.
 */
import type { Bundle, Observation, Resource } from '@medplum/fhirtypes';
import { startEhrServer, type EhrServer } from '../helpers/ehr-server';
import { startStack, type TestStack } from '../helpers/stack';
import { bilirubin, inboundOf, patient, researchSubject, rsaKeys, sitesEnv, waitFor } from '../helpers/connect';
import { syncSite } from '../../src/connect/sync';
import { createSiteClient } from '../../src/connect/client';
import { createReceiver } from '../../src/ingest';
import type { SiteClient } from '../../src/connect/types';
import { getCursor } from '../../src/store/sites';
import { loadMappings } from '../../src/mapping';

jest.setTimeout(60_000);

const keys = rsaKeys();
const wrongKeys = rsaKeys();
let ehr: EhrServer;
let stack: TestStack;
let p1: string;
let p2: string;

const siteA = () => stack.config.sites.find((s) => s.id === 'site-a')!;
const rowsOf = async (type: string, patientId?: string) =>
  (await stack.db.query<{ resource_id: string; version: string; state: string }>(
    `SELECT resource_id, version, state FROM inbound WHERE site = 'site-a' AND resource_type = $1 ${patientId ? 'AND patient_id = $2' : ''}`,
    patientId ? [type, patientId] : [type])).rows;

beforeAll(async () => {
  ehr = await startEhrServer({ auth: { type: 'smart', clients: [{ clientId: 'trialbridge', publicKey: keys.publicKey }] } });
  const smart = (pem: string) => ({ type: 'smart-backend', tokenUrl: ehr.tokenUrl, clientId: 'trialbridge', alg: 'RS384', privateKeyPem: pem, kid: 'k1' });
  stack = await startStack('connect-poll', {
    TRIALBRIDGE_SITES: sitesEnv(
      { baseUrl: ehr.baseUrl, auth: smart(keys.privateKeyPem), modes: ['poll'], pollIntervalMs: 3_600_000, pageSize: 3, searchParams: { Observation: { category: 'laboratory' } } },
      [{ id: 'site-c', tokenSha256: 'c'.repeat(64), fhir: { baseUrl: ehr.baseUrl, auth: smart(wrongKeys.privateKeyPem), modes: ['poll'], pollIntervalMs: 3_600_000 } }],
    ),
  });
  p1 = (await ehr.create(patient('MRN-P1'))).id;
  p2 = (await ehr.create(patient('MRN-P2'))).id;
});

afterAll(async () => {
  await stack?.stop();
  await ehr?.close();
});

it('fetches enrollments first, then only the enrolled patients\' watched labs, with SMART tokens', async () => {
  await ehr.create(researchSubject(p1, 'S-0101'));
  for (let d = 1; d <= 7; d++) await ehr.create(bilirubin(p1, d, 20 + d));
  await ehr.create(bilirubin(p2, 1, 99));
  await ehr.create(bilirubin(p1, 2, 70, '8867-4')); // heart rate: not watched
  await stack.siteQueue.requestSync('site-a', 'test');
  // The ResearchSubject is mapped, the worker asks for another sync with the wider scope, which fetches p1's labs.
  await waitFor('p1 labs mapped', async () => (await rowsOf('Observation', p1)).filter((r) => r.state === 'mapped').length === 7);
  await stack.settle();
  expect(await rowsOf('Observation', p2)).toEqual([]);
  expect((await rowsOf('Patient')).map((r) => r.resource_id)).toEqual([p1]);
  expect((await rowsOf('Observation', p1)).length).toBe(7);
  const crf = await stack.api('/subjects/S-0101/crf');
  expect(crf.status).toBe(200);
  expect(crf.body.values.length).toBeGreaterThanOrEqual(7);

  const obsSearches = ehr.requests.filter((r) => r.path.startsWith('/fhir/Observation?'));
  expect(obsSearches.length).toBeGreaterThanOrEqual(3); // 7 results at _count=3
  for (const r of obsSearches) {
    const q = new URL(r.path, 'http://x').searchParams;
    expect(q.get('patient')).toBe(`Patient/${p1}`);
    expect(q.get('code')).toContain('http://loinc.org|14631-6');
    expect(q.get('category')).toBe('laboratory');
    expect(q.get('_count')).toBe('3');
    expect(r.authorization).toMatch(/^Bearer \S+/);
  }
  expect(ehr.tokens!.issued).toBe(1); // cached across every request of both syncs
  expect(await getCursor(stack.db, 'site-a', 'Observation')).not.toBeNull();

  const sites = await stack.api('/sites');
  const a = sites.body.sites.find((s: { id: string }) => s.id === 'site-a');
  expect(a).toMatchObject({ mode: ['poll'], auth: 'smart-backend', lastError: null, alert: null, scopedPatients: 1, queued: 0, parked: 0 });
  expect(a.lastContactAt).not.toBeNull();
  expect(Object.keys(a.cursors)).toEqual(expect.arrayContaining(['Observation', 'ResearchSubject', 'Patient']));
  expect(JSON.stringify(sites.body)).not.toContain(p1); // no patient ids, no PHI
  expect(sites.body.sites.find((s: { id: string }) => s.id === 'site-b')).toMatchObject({ mode: ['push'], fhirBaseUrl: null });
});

it('finds the Patient of an enrollment that names it by identifier only, then fetches that patient\'s labs', async () => {
  const p3 = (await ehr.create(patient('MRN-P3'))).id;
  const rs = researchSubject('x', 'S-0103');
  await ehr.create({ ...rs, individual: { identifier: { system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: 'MRN-P3' } } });
  await ehr.create(bilirubin(p3, 9, 33));
  await stack.siteQueue.requestSync('site-a', 'test');
  await waitFor('p3 lab mapped', async () => (await rowsOf('Observation', p3)).some((r) => r.state === 'mapped'));
  expect(ehr.requests.some((r) => r.path.startsWith('/fhir/Patient?') && r.path.includes('MRN-P3'))).toBe(true);
});

/** A client whose search runs `after(n, page)` once Observation page n has been answered (before it is stored). */
function hookedClient(after: (n: number, page: Bundle) => Promise<void>): SiteClient {
  const inner = createSiteClient({ id: 'site-a', fhir: siteA().fhir! }, { log: stack.log });
  let n = 0;
  return {
    ...inner,
    read: (r) => inner.read(r),
    request: (m, p, o) => inner.request(m, p, o),
    download: (u, o) => inner.download(u, o),
    async search(t, p) {
      const page = await inner.search(t, p);
      if (t.startsWith('Observation') || t.includes('/Observation?')) await after(++n, page);
      return page;
    },
  };
}

/**
 * One sync through the stack's receiver whose client, once the page holding `target` is answered (before it is
 * stored), corrects `target` on the EHR to `value` and runs `also`. `done` says whether that happened.
 */
async function syncCorrecting(target: Observation, value: number, also?: () => Promise<void>) {
  let done = false;
  const client = hookedClient(async (_n, page) => {
    if (done || !page.entry?.some((e) => e.resource?.id === target.id)) return;
    done = true;
    await ehr.update({ ...target, meta: undefined, valueQuantity: { ...target.valueQuantity, value } });
    await also?.();
  });
  const receiver = createReceiver({ db: stack.db, mapQueue: stack.mapQueue, log: stack.log });
  const s = await syncSite({ db: stack.db, log: stack.log, receiver, client, site: siteA(), codes: loadMappings(stack.config.mappingsDir).watchedCodes(), traceId: `t-${target.id}` });
  return { s, done };
}

it('misses nothing when resources are updated while the poll pages through them', async () => {
  const fresh: Observation[] = [];
  for (let d = 10; d <= 15; d++) fresh.push(await ehr.create(bilirubin(p1, d, 30 + d)));
  const firstVersion = fresh[0].meta!.versionId;
  // Once the page holding the first new result is answered, that result is corrected (it moves to the end of
  // the _lastUpdated order, shifting every later result one place up: an offset-paged walk skips one) and
  // another result arrives.
  const { s, done } = await syncCorrecting(fresh[0], 41.5, async () => {
    fresh.push(await ehr.create(bilirubin(p1, 16, 46)));
  });
  expect(s.invalid).toBe(0);
  expect(done).toBe(true);
  await stack.settle();
  const stored = await inboundOf(stack.db, 'site-a');
  // Every current version on the server is stored.
  const current = (await ehr.repo.searchResources({ resourceType: 'Observation', filters: [] })) as Resource[];
  const missing = current
    .filter((o) => (o as Observation).subject?.reference === `Patient/${p1}` && (o as Observation).code?.coding?.[0]?.code === '14631-6')
    .filter((o) => !stored.has(`Observation/${o.id}/${o.meta!.versionId}`));
  expect(missing.map((o) => o.id)).toEqual([]);
  // The first version was fetched and stored; the correction superseded its CRF value.
  expect(stored.get(`Observation/${fresh[0].id}/${firstVersion}`)).toBe('mapped');
  const crf = await stack.db.query<{ source_version: string; status: string }>(
    `SELECT source_version, status FROM crf_values WHERE site = 'site-a' AND source_id = $1 ORDER BY id`, [fresh[0].id]);
  expect(crf.rows.map((r) => [r.source_version, r.status])).toEqual([[firstVersion, 'superseded'], [expect.not.stringMatching(firstVersion!), 'auto']]);
});

it('follows next links through a run of equal lastUpdated longer than a page', async () => {
  const instant = new Date().toISOString(); // after every cursor so far; later resources come after it
  const tied: Resource[] = [];
  for (let d = 20; d <= 26; d++) tied.push(await ehr.create({ ...bilirubin(p1, d, 50 + d), meta: { lastUpdated: instant } }));
  const before = ehr.requests.length;
  await stack.siteQueue.requestSync('site-a', 'test');
  await waitFor('tied results stored', async () => {
    const stored = await inboundOf(stack.db, 'site-a');
    return tied.every((t) => [...stored.keys()].some((k) => k.startsWith(`Observation/${t.id}/`)));
  });
  expect(ehr.requests.slice(before).some((r) => /_offset=/.test(r.path))).toBe(true);
  expect(await getCursor(stack.db, 'site-a', 'Observation')).toBe(instant);
});

it('misses nothing when a resource leaves a long run of equal lastUpdated while the run is paged', async () => {
  const instant = new Date().toISOString();
  const tied: Observation[] = [];
  for (let d = 1; d <= 8; d++) tied.push(await ehr.create({ ...bilirubin(p1, d, 60 + d), effectiveDateTime: `2024-04-0${d}T08:00:00+08:00`, meta: { lastUpdated: instant } }));
  // Once the first page of the run is answered, its first member is corrected: it leaves the run and every
  // later member shifts one place up, so the server's offset link skips one of them.
  const { done } = await syncCorrecting(tied[0], 99);
  expect(done).toBe(true);
  const stored = await inboundOf(stack.db, 'site-a');
  const current = (await ehr.repo.searchResources({ resourceType: 'Observation', filters: [] })) as Resource[];
  expect(tied.map((t) => current.find((c) => c.id === t.id)!).filter((c) => !stored.has(`Observation/${c.id}/${c.meta!.versionId}`)).map((c) => c.id)).toEqual([]);
});

it('honours 429 Retry-After and backs off on 503, then recovers and clears the error', async () => {
  await ehr.create(bilirubin(p1, 27, 80));
  ehr.fail({ method: 'GET', path: /^\/fhir\/ResearchSubject\?/ }, [{ status: 429, headers: { 'Retry-After': '1' } }, { status: 503 }]);
  const t0 = Date.now();
  await stack.siteQueue.requestSync('site-a', 'test');
  await waitFor('site error recorded', async () => (await stack.api('/sites')).body.sites.find((s: { id: string }) => s.id === 'site-a').lastError);
  await waitFor('lab of day 27 stored', async () => (await stack.db.query(`SELECT 1 FROM inbound WHERE site = 'site-a' AND body->>'effectiveDateTime' LIKE '2024-03-27%'`)).rows.length > 0, 30_000);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1000); // waited the Retry-After
  const rs = ehr.requests.filter((r) => r.path.startsWith('/fhir/ResearchSubject?')).slice(-3);
  expect(rs.length).toBe(3);
  const a = (await stack.api('/sites')).body.sites.find((s: { id: string }) => s.id === 'site-a');
  expect(a.lastError).toBeNull();
  expect(a.lastErrorAt).not.toBeNull();
});

it('refreshes the token once after a 401 and carries on', async () => {
  const issued = ehr.tokens!.issued;
  ehr.revokeTokens();
  await ehr.create(bilirubin(p1, 28, 81));
  await stack.siteQueue.requestSync('site-a', 'test');
  await waitFor('lab of day 28 stored', async () => (await stack.db.query(`SELECT 1 FROM inbound WHERE site = 'site-a' AND body->>'effectiveDateTime' LIKE '2024-03-28%'`)).rows.length > 0);
  expect(ehr.tokens!.issued).toBe(issued + 1);
  expect((await stack.api('/sites')).body.sites.find((s: { id: string }) => s.id === 'site-a').alert).toBeNull();
});

it('raises a site alert when the token endpoint refuses our key, without blocking other sites', async () => {
  await stack.siteQueue.requestSync('site-c', 'test');
  const c = await waitFor('site-c alert', async () => {
    const s = (await stack.api('/sites')).body.sites.find((x: { id: string }) => x.id === 'site-c');
    return s.alert ? s : null;
  });
  expect(c.alert).toMatch(/invalid_client|signature/i);
  expect(ehr.tokens!.rejections.some((r) => /signature/i.test(r))).toBe(true);
  // site-a keeps working meanwhile.
  await ehr.create(bilirubin(p1, 29, 82));
  await stack.siteQueue.requestSync('site-a', 'test');
  await waitFor('lab of day 29 stored', async () => (await stack.db.query(`SELECT 1 FROM inbound WHERE site = 'site-a' AND body->>'effectiveDateTime' LIKE '2024-03-29%'`)).rows.length > 0);
});
