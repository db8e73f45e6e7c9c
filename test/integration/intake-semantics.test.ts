/**
 * The front door on real PostgreSQL + Redis through the real server: FHIR
 * REST identity and version semantics (corrections under the same versionId,
 * conditional create, PUT URL identity, If-Match, 200 vs 201), transactions
 * all-or-nothing and batches per entry, possible duplicates of Observations
 * without a natural id, one stored identity whatever the path, and what is
 * kept of rejected notifications.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createReceiver, importFile } from '../../src/ingest';
import { pruneNotifications } from '../../src/store/purge';
import { notificationBundle } from '../helpers/connect';
import { startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack('intake-semantics');
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const codeOf = (oo: any) => oo.issue[0].details.coding[0].code;

/** Enrols `subject` (NCT02812121) for patient `pid`, so its labs become CRF values. */
async function enrol(pid: string, subject: string): Promise<void> {
  const res = await stack.fhir('POST', '', {
    resourceType: 'Bundle', type: 'batch', entry: [
      { resource: { resourceType: 'Patient', id: pid, identifier: [{ system: 'urn:mrn', value: `MRN-${pid}` }] }, request: { method: 'PUT', url: `Patient/${pid}` } },
      {
        resource: {
          resourceType: 'ResearchSubject', id: `rs-${pid}`, status: 'on-study', identifier: [{ system: 'urn:trialbridge:subject', value: subject }],
          individual: { reference: `Patient/${pid}` }, period: { start: '2024-03-01' }, study: { identifier: { system: 'https://clinicaltrials.gov', value: 'NCT02812121' } },
        },
        request: { method: 'PUT', url: `ResearchSubject/rs-${pid}` },
      },
    ],
  });
  expect(res.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '201 Created']);
}

/** Total bilirubin (14631-6) in µmol/L for patient `pid`. */
const tbil = (pid: string, value: number, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation', status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '14631-6' }] },
  subject: { reference: `Patient/${pid}` },
  effectiveDateTime: '2024-03-02T08:00:00+08:00',
  valueQuantity: { value, unit: 'umol/L', system: 'http://unitsofmeasure.org', code: 'umol/L' },
  ...extra,
});

const crf = async (subject: string) => (await stack.api(`/subjects/${subject}/crf?includeSuperseded=true`)).body;
const rowsOf = async (id: string) =>
  (await stack.db.query<{ version: string; sender_version: string | null; state: string }>('SELECT version, sender_version, state FROM inbound WHERE resource_id = $1 ORDER BY id', [id])).rows;
const countAll = async () => Number((await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbound')).rows[0].n);
const values = (body: any): [number, string][] => body.values.map((v: any) => [Number(v.value), v.status]);

test('a corrected result under the same meta.versionId is a new version: the CRF shows it and the old value is superseded', async () => {
  await enrol('p-corr', 'S-CORR');
  const first = await stack.fhir('PUT', '/Observation/corr-1', { ...tbil('p-corr', 85.5), id: 'corr-1', meta: { versionId: '1' } });
  expect(first.status).toBe(201);
  await stack.settle();
  const corrected = await stack.fhir('PUT', '/Observation/corr-1', { ...tbil('p-corr', 169.3), id: 'corr-1', status: 'corrected', meta: { versionId: '1' } });
  expect(corrected.status).toBe(200);
  expect(corrected.headers.get('etag')).not.toBe(first.headers.get('etag'));
  await stack.settle();
  expect(await rowsOf('corr-1')).toEqual([
    { version: '1', sender_version: '1', state: expect.any(String) },
    { version: expect.stringMatching(/^h[0-9a-f]{16}$/), sender_version: '1', state: 'mapped' },
  ]);
  expect(values(await crf('S-CORR'))).toEqual([[85.5, 'superseded'], [169.3, 'auto']]);
  // The same correction delivered again changes nothing.
  const again = await stack.fhir('PUT', '/Observation/corr-1', { ...tbil('p-corr', 169.3), id: 'corr-1', status: 'corrected', meta: { versionId: '1' } });
  expect(again.status).toBe(200);
  expect(again.headers.get('etag')).toBe(corrected.headers.get('etag'));
  expect(await rowsOf('corr-1')).toHaveLength(2);
});

describe('conditional create on identifier', () => {
  const accession = (v: number) => ({ ...tbil('p-cond', v), identifier: [{ system: 'urn:lab:accession', value: 'ACC-77' }] });

  test('the same accession POSTed twice with If-None-Exist is one resource and one CRF value', async () => {
    await enrol('p-cond', 'S-COND');
    const h = { 'if-none-exist': 'identifier=urn:lab:accession|ACC-77' };
    const a = await stack.fhir('POST', '/Observation', { ...accession(85.5), id: 'cond-a' }, undefined, h);
    expect(a.status).toBe(201);
    const b = await stack.fhir('POST', '/Observation', { ...accession(85.5), id: 'cond-b' }, undefined, h);
    expect(b.status).toBe(200);
    expect(b.headers.get('location')).toBe(a.headers.get('location'));
    expect(b.body).toMatchObject({ resourceType: 'Observation', id: 'cond-a' });
    expect(await rowsOf('cond-b')).toEqual([]);
    await stack.settle();
    expect(values(await crf('S-COND'))).toEqual([[85.5, 'auto']]);
  });

  test('in a Bundle (request.ifNoneExist): every entry answers the stored resource', async () => {
    const entry = (id: string) => ({ resource: { ...accession(85.5), id }, request: { method: 'POST', url: 'Observation', ifNoneExist: 'identifier=ACC-77' } });
    const res = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'batch', entry: [entry('cond-c'), entry('cond-d')] });
    expect(res.status).toBe(200);
    expect(res.body.entry.map((e: any) => [e.response.status, e.response.location.replace(/^.*\/fhir\//, '')])).toEqual([
      ['200 OK', expect.stringMatching(/^Observation\/cond-a\//)], ['200 OK', expect.stringMatching(/^Observation\/cond-a\//)],
    ]);
    await stack.settle();
    expect(values(await crf('S-COND'))).toEqual([[85.5, 'auto']]);
  });

  test('two matches are 412 multiple-matches; a search other than identifier is 412 unsupported-condition; nothing stored', async () => {
    const before = await countAll();
    const dup = { ...tbil('p-cond', 1), identifier: [{ system: 'urn:lab:accession', value: 'ACC-88' }] };
    expect((await stack.fhir('PUT', '/Observation/cond-e', { ...dup, id: 'cond-e' })).status).toBe(201);
    expect((await stack.fhir('PUT', '/Observation/cond-f', { ...dup, id: 'cond-f' })).status).toBe(201);
    const many = await stack.fhir('POST', '/Observation', { ...dup, id: 'cond-g' }, undefined, { 'if-none-exist': 'identifier=ACC-88' });
    expect([many.status, codeOf(many.body)]).toEqual([412, 'multiple-matches']);
    const other = await stack.fhir('POST', '/Observation', { ...dup, id: 'cond-h' }, undefined, { 'if-none-exist': 'code=14631-6' });
    expect([other.status, codeOf(other.body)]).toEqual([412, 'unsupported-condition']);
    expect(other.body.issue[1].details.text).toMatch(/supports exactly one identifier=\[system\|\]value search; got search parameter\(s\) code/);
    expect(await countAll()).toBe(before + 2);
  });
});

describe('batch and transaction PUT: the URL is the identity', () => {
  test('an entry without resource.id takes the URL id, so a re-send is no duplicate; another type or id in the URL is that entry\'s error', async () => {
    const bundle = {
      resourceType: 'Bundle', type: 'batch', entry: [
        { resource: tbil('p-url', 50), request: { method: 'PUT', url: 'Observation/url-1' } },
        { resource: tbil('p-url', 51), request: { method: 'PUT', url: 'Patient/url-2' } },
        { resource: { ...tbil('p-url', 52), id: 'url-3' }, request: { method: 'PUT', url: 'Observation/url-4' } },
      ],
    };
    const first = await stack.fhir('POST', '', bundle);
    expect(first.status).toBe(200);
    expect(first.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '400 Bad Request', '400 Bad Request']);
    expect(codeOf(first.body.entry[1].response.outcome)).toBe('resource-type-mismatch');
    expect(first.body.entry[1].response.outcome.issue[1].expression).toEqual(['Bundle.entry[1].resource.resourceType']);
    expect(codeOf(first.body.entry[2].response.outcome)).toBe('id-mismatch');
    const again = await stack.fhir('POST', '', bundle);
    expect(again.body.entry[0].response.status).toBe('200 OK');
    expect(await rowsOf('url-1')).toHaveLength(1);
    expect(await rowsOf('url-2')).toEqual([]);
  });

  test('two entries naming one resource fail a transaction; nothing stored', async () => {
    const before = await countAll();
    const res = await stack.fhir('POST', '', {
      resourceType: 'Bundle', type: 'transaction', entry: [
        { resource: tbil('p-url', 60), request: { method: 'PUT', url: 'Observation/dup-id' } },
        { resource: { ...tbil('p-url', 61), id: 'dup-id' }, request: { method: 'PUT', url: 'Observation/dup-id' } },
      ],
    });
    expect([res.status, codeOf(res.body)]).toEqual([400, 'transaction-failed']);
    expect(res.body.issue.slice(1)).toEqual([expect.objectContaining({ code: 'duplicate', expression: ['Bundle.entry[1].resource'] })]);
    expect(await countAll()).toBe(before);
  });
});

describe('atomicity', () => {
  const many = (n: number, bad: number, prefix: string) =>
    Array.from({ length: n }, (_, i) => ({
      resource: { ...tbil('p-big', i), id: `${prefix}-${i}`, meta: { lastUpdated: i === bad ? '2024-02-30T10:00:00Z' : '2024-03-02T10:00:00Z' } },
      request: { method: 'PUT', url: `Observation/${prefix}-${i}` },
    }));

  test('a 600-entry transaction with one impossible meta.lastUpdated stores nothing and names the entry', async () => {
    const before = await countAll();
    const res = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: many(600, 550, 'tx') });
    expect([res.status, codeOf(res.body)]).toEqual([400, 'transaction-failed']);
    expect(res.body.issue.slice(1).map((i: any) => i.expression[0])).toEqual(['Bundle.entry[550].resource.meta.lastUpdated']);
    expect(await countAll()).toBe(before);
    expect((await stack.mapQueue.queue.getJobCounts('waiting', 'active', 'delayed')).waiting).toBe(0);
  }, 60_000);

  test('a batch with one bad entry stores the rest and answers 200 with that entry 400', async () => {
    const before = await countAll();
    const res = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'batch', entry: many(600, 3, 'bt') });
    expect(res.status).toBe(200);
    const statuses = res.body.entry.map((e: any) => e.response.status);
    expect(statuses.filter((s: string) => s === '201 Created')).toHaveLength(599);
    expect(statuses[3]).toBe('400 Bad Request');
    expect(await countAll()).toBe(before + 599);
  }, 60_000);
});

describe('If-Match and 200 vs 201', () => {
  test('If-Match naming another version is 412 and stores nothing; the current one is accepted', async () => {
    const created = await stack.fhir('PUT', '/Observation/im-1', { ...tbil('p-im', 1), id: 'im-1' });
    expect(created.status).toBe(201);
    const etag = created.headers.get('etag')!;
    const stale = await stack.fhir('PUT', '/Observation/im-1', { ...tbil('p-im', 2), id: 'im-1' }, undefined, { 'if-match': 'W/"nope"' });
    expect([stale.status, codeOf(stale.body)]).toEqual([412, 'precondition-failed']);
    expect(await rowsOf('im-1')).toHaveLength(1);
    const ok = await stack.fhir('PUT', '/Observation/im-1', { ...tbil('p-im', 2), id: 'im-1' }, undefined, { 'if-match': etag });
    expect(ok.status).toBe(200);
    expect(await rowsOf('im-1')).toHaveLength(2);
    const unknown = await stack.fhir('PUT', '/Observation/im-2', { ...tbil('p-im', 2), id: 'im-2' }, undefined, { 'if-match': 'W/"1"' });
    expect(unknown.status).toBe(412);
  });
});

test('near-duplicates without a natural id: a review item instead of a second automatic value', async () => {
  await enrol('p-near', 'S-NEAR');
  expect((await stack.fhir('POST', '/Observation', tbil('p-near', 85.5))).status).toBe(201);
  expect((await stack.fhir('POST', '/Observation', tbil('p-near', 85.5))).status).toBe(200);
  // The same patient, code and instant (written in another offset), another value.
  expect((await stack.fhir('POST', '/Observation', { ...tbil('p-near', 99), effectiveDateTime: '2024-03-02T00:00:00Z' })).status).toBe(201);
  await stack.settle();
  expect(values(await crf('S-NEAR'))).toEqual([[85.5, 'auto']]);
  const list = (await stack.api('/review-items?reason=possible-duplicate')).body.rows;
  expect(list).toHaveLength(1);
  expect(list[0].detail).toMatch(/^Observation\/h[0-9a-f]{40} has the same patient, code and effective time/);
});

test('one front door: the same resource by POST, Bundle, notification and file import is one stored identity', async () => {
  const r = { ...tbil('p-door', 70), id: 'door-1', meta: { versionId: 'v1' } };
  expect((await stack.fhir('POST', '/Observation', r)).status).toBe(201);
  const viaBundle = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'batch', entry: [{ resource: r, request: { method: 'PUT', url: 'Observation/door-1' } }] });
  expect(viaBundle.body.entry[0].response.status).toBe('200 OK');
  const note = notificationBundle({ subscription: 'https://ehr.example/fhir/Subscription/door', events: [{ n: 1, focus: 'https://ehr.example/fhir/Observation/door-1', resource: r as never }] });
  const viaNote = await stack.fhir('POST', '', note);
  expect(viaNote.status).toBe(200);
  expect(viaNote.body.issue[0].diagnostics).toMatch(/0 resource\(s\) stored, 1 already stored, 0 invalid/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-door-'));
  try {
    fs.writeFileSync(path.join(dir, 'x.ndjson'), `${JSON.stringify(r)}\n`);
    const receiver = createReceiver({ db: stack.db, mapQueue: stack.mapQueue, log: stack.log });
    const s = await importFile(path.join(dir, 'x.ndjson'), { site: 'site-a', batch: 10, receiver, traceId: 't-door', stderr: { isTTY: false, write: () => true } as never });
    expect(s).toMatchObject({ accepted: 0, duplicate: 1, rejected: 0 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  expect(await rowsOf('door-1')).toEqual([{ version: 'v1', sender_version: 'v1', state: expect.any(String) }]);
});

test('a rejected notification keeps only what diagnosis needs, and is pruned after the retention', async () => {
  const secret = '{"resourceType": "Bundle", "type": "history", "entry": [{"resource": {"resourceType": "Patient", "birthDate": "1961-07-04", "name": [{"family": "Quintessa"}]';
  const res = await stack.fhir('POST', '', secret);
  expect([res.status, codeOf(res.body)]).toEqual([400, 'not-json']);
  const kept = (await stack.db.query<{ id: number; body: string; body_bytes: number; body_sha256: string; problem: string }>(
    "SELECT id, body, body_bytes, body_sha256, problem FROM notifications WHERE state = 'rejected' ORDER BY id DESC LIMIT 1")).rows[0];
  expect(kept.body_bytes).toBe(Buffer.byteLength(secret));
  expect(kept.body_sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(kept.body.length).toBeLessThanOrEqual(200);
  expect(kept.body).not.toMatch(/[0-9]/);
  expect(kept.body).toContain('"birthDate": "####-##-##"');
  expect(kept.problem).toMatch(/^not JSON: .*character \d+|^not JSON: unexpected end of input/);
  await stack.db.query("UPDATE notifications SET received_at = now() - interval '31 days' WHERE id = $1", [kept.id]);
  await pruneNotifications(stack.db, 30);
  expect((await stack.db.query('SELECT 1 FROM notifications WHERE id = $1', [kept.id])).rows).toEqual([]);
});
