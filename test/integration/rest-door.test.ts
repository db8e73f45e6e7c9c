/**
 * Door validation over real HTTP, PostgreSQL and Redis: prototype-named
 * members, impossible and offset-less dates (and the site-zone option), values
 * the store would refuse, and the Bundle container rules. Every refusal names
 * the element and stores nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sha256Hex } from '../../src/http';
import { createReceiver, importFile } from '../../src/ingest';
import { SITE_TOKENS, startStack, type TestStack } from '../helpers/stack';

const ZONE_TOKEN = 'token-site-z-0123456789';
let stack: TestStack;

beforeAll(async () => {
  stack = await startStack('rest-door', {
    TRIALBRIDGE_SITES: JSON.stringify([
      { id: 'site-a', tokenSha256: sha256Hex(SITE_TOKENS['site-a']), timeZone: 'Asia/Shanghai' },
      { id: 'site-z', tokenSha256: sha256Hex(ZONE_TOKEN), timeZone: 'Asia/Shanghai', localTimeWithoutOffset: 'site-zone' },
    ]),
  });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

async function rows(id: string): Promise<{ body: any; context: any }[]> {
  const r = await stack.db.query<{ body: any; context: any }>('SELECT body, context FROM inbound WHERE resource_id = $1', [id]);
  return r.rows;
}
async function inboundCount(): Promise<number> {
  const r = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbound');
  return Number(r.rows[0].n);
}

const obs = (id: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation', id, status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '1975-2' }] },
  subject: { reference: 'Patient/p-door' },
  effectiveDateTime: '2024-03-04T07:00:00+08:00',
  valueQuantity: { value: 1.2, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  ...extra,
});
/** JSON text with one more member, written as text so `__proto__` is a member and not a prototype. */
const withMember = (r: object, name: string, value: unknown) => JSON.stringify(r).replace(/}$/, `,${JSON.stringify(name)}:${JSON.stringify(value)}}`);
const expressions = (oo: any): string[] => oo.issue.flatMap((i: any) => i.expression ?? []);
const codeOf = (oo: any) => oo.issue[0].details.coding[0].code;

describe('members named like Object.prototype properties are unknown elements', () => {
  test.each(['foo', '__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'])('POST with "%s": 400 naming it, nothing stored', async (name) => {
    const id = `proto-${name.replace(/_/g, 'u')}`;
    const res = await stack.fhir('POST', '/Observation', withMember(obs(id), name, { status: 'final' }));
    expect(res.status).toBe(400);
    expect(codeOf(res.body)).toBe('validation-failed');
    expect(expressions(res.body)).toContain(`Observation.${name}`);
    expect(res.body.issue.find((i: any) => i.expression?.[0] === `Observation.${name}`).details.text).toBe(`Invalid additional property "${name}"`);
    expect(await rows(id)).toEqual([]);
  });

  test('a batch entry whose status comes only from "__proto__" is refused, not stored and mapped', async () => {
    const { status: _s, ...noStatus } = obs('proto-batch');
    const entry = `{"resource":${withMember(noStatus, '__proto__', { status: 'final' })},"request":{"method":"PUT","url":"Observation/proto-batch"}}`;
    const res = await stack.fhir('POST', '', `{"resourceType":"Bundle","type":"batch","entry":[${entry}]}`);
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.status).toMatch(/^400/);
    expect(expressions(res.body.entry[0].response.outcome)).toEqual(expect.arrayContaining(['Bundle.entry[0].resource.__proto__', 'Bundle.entry[0].resource.status']));
    expect(await rows('proto-batch')).toEqual([]);
  });

  test('nested: a coding with "constructor"', async () => {
    const r = obs('proto-nested');
    const text = JSON.stringify(r).replace('"code":"1975-2"', '"code":"1975-2","constructor":"x"');
    const res = await stack.fhir('PUT', '/Observation/proto-nested', text);
    expect(res.status).toBe(400);
    expect(expressions(res.body)).toContain('Observation.code.coding[0].constructor');
  });
});

describe('dates (FHIR R4 date, dateTime, instant)', () => {
  test.each([
    ['effectiveDateTime', '2024-02-30T08:00:00+08:00', 'Observation.effectiveDateTime', /February 2024 has 29 days/],
    ['effectiveDateTime', '2023-02-29', 'Observation.effectiveDateTime', /February 2023 has 28 days/],
    ['effectiveDateTime', '2024-13-01', 'Observation.effectiveDateTime', /month 13/],
    ['effectiveDateTime', '2024-03-01T25:00:00Z', 'Observation.effectiveDateTime', /hour 25/],
    ['issued', '2024-03-01T08:00:00', 'Observation.issued', /no UTC offset/],
    ['meta', { lastUpdated: '2024-02-30T10:00:00Z' }, 'Observation.meta.lastUpdated', /February 2024 has 29 days/],
    ['valuePeriod', { start: '2024-04-31' }, 'Observation.valuePeriod.start', /April 2024 has 30 days/],
  ])('%s = %j: 400 at %s, nothing stored', async (field, value, path, why) => {
    const before = await inboundCount();
    const body: Record<string, unknown> = obs('bad-date', { [field]: value });
    if (field === 'valuePeriod') delete body.valueQuantity;
    const res = await stack.fhir('POST', '/Observation', body);
    expect(res.status).toBe(400);
    const issue = res.body.issue.find((i: any) => i.expression?.[0] === path);
    expect(issue?.details.text).toMatch(why);
    expect(await inboundCount()).toBe(before);
  });

  test('a time without an offset is refused by default, naming the element and why', async () => {
    const res = await stack.fhir('PUT', '/Observation/no-offset', obs('no-offset', { effectiveDateTime: '2024-03-04T07:00:00' }));
    expect(res.status).toBe(400);
    const issue = res.body.issue.find((i: any) => i.expression?.[0] === 'Observation.effectiveDateTime');
    expect(issue.details.text).toMatch(/has a time but no UTC offset/);
    expect(await rows('no-offset')).toEqual([]);
  });

  test('site-zone: the same value is read as site wall-clock time, and the row says so', async () => {
    const res = await stack.fhir('PUT', '/Observation/zone-read', obs('zone-read', { effectiveDateTime: '2024-03-04T07:00:00' }), ZONE_TOKEN);
    expect(res.status).toBe(201);
    const [row] = await rows('zone-read');
    expect(row.body.effectiveDateTime).toBe('2024-03-04T07:00:00+08:00');
    expect(row.context.localTimes).toEqual({ timeZone: 'Asia/Shanghai', paths: ['Observation.effectiveDateTime'] });
  });

  test('site-zone holds on every path to the door: a file import reads the same value the same way', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-zone-'));
    try {
      fs.writeFileSync(path.join(dir, 'x.ndjson'), `${JSON.stringify(obs('zone-file', { effectiveDateTime: '2024-03-04T07:00:00' }))}\n`);
      const receiver = createReceiver({ db: stack.db, mapQueue: stack.mapQueue, log: stack.log, sites: stack.config.sites });
      const s = await importFile(path.join(dir, 'x.ndjson'), { site: 'site-z', batch: 10, receiver, traceId: 't-zone', source: 'file', stderr: { isTTY: false, write: () => true } as never });
      expect(s.accepted).toBe(1);
      const [row] = await rows('zone-file');
      expect(row.body.effectiveDateTime).toBe('2024-03-04T07:00:00+08:00');
      expect(row.context.localTimes).toEqual({ timeZone: 'Asia/Shanghai', paths: ['Observation.effectiveDateTime'] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('site-zone never makes an impossible date acceptable', async () => {
    const res = await stack.fhir('PUT', '/Observation/zone-bad', obs('zone-bad', { effectiveDateTime: '2024-02-30T07:00:00' }), ZONE_TOKEN);
    expect(res.status).toBe(400);
    expect(expressions(res.body)).toContain('Observation.effectiveDateTime');
  });

  test('a batch with one impossible meta.lastUpdated answers 200 with that entry failed; a transaction stores nothing', async () => {
    const entries = (tag: string) => [1, 2, 3].map((n) => ({
      resource: obs(`${tag}-${n}`, n === 2 ? { meta: { lastUpdated: '2024-02-30T10:00:00Z' } } : {}),
      request: { method: 'PUT', url: `Observation/${tag}-${n}` },
    }));
    const batch = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'batch', entry: entries('lu-b') });
    expect(batch.status).toBe(200);
    expect(batch.body.entry.map((e: any) => e.response.status.slice(0, 3))).toEqual(['201', '400', '201']);
    expect(expressions(batch.body.entry[1].response.outcome)).toContain('Bundle.entry[1].resource.meta.lastUpdated');
    const before = await inboundCount();
    const tx = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: entries('lu-t') });
    expect(tx.status).toBe(400);
    expect(codeOf(tx.body)).toBe('transaction-failed');
    expect(await inboundCount()).toBe(before);
  });
});

describe('values PostgreSQL would refuse are caught at validation', () => {
  test('a NUL character in a string: 400 naming it, never a 500', async () => {
    const res = await stack.fhir('PUT', '/Observation/nul-1', obs('nul-1', { note: [{ text: 'a\u0000b' }] }));
    expect(res.status).toBe(400);
    expect(expressions(res.body)).toContain('Observation.note[0].text');
    expect(await rows('nul-1')).toEqual([]);
  });
  test('an unpaired surrogate: 400 naming it', async () => {
    const res = await stack.fhir('PUT', '/Observation/sur-1', '{"resourceType":"Observation","id":"sur-1","status":"final","code":{"text":"\\ud800"}}');
    expect(res.status).toBe(400);
    expect(expressions(res.body)).toContain('Observation.code.text');
  });
});

describe('the Bundle container', () => {
  const put = (id: string) => ({ resource: obs(id), request: { method: 'PUT', url: `Observation/${id}` } });
  test.each([
    ['bdl-3: a batch entry without request', { type: 'batch', entry: [put('bc-1'), put('bc-2'), put('bc-3'), { resource: obs('bc-4') }] }, 'Bundle.entry[3].request'],
    ['bdl-1: total in a batch', { type: 'batch', total: 1, entry: [put('bc-5')] }, 'Bundle.total'],
    ['bdl-8: a version-specific fullUrl', { type: 'transaction', entry: [{ ...put('bc-6'), fullUrl: 'https://ehr.example/fhir/Observation/bc-6/_history/1' }] }, 'Bundle.entry[0].fullUrl'],
    ['bdl-7: a repeated fullUrl', { type: 'batch', entry: [{ ...put('bc-7'), fullUrl: 'urn:uuid:7d3c0e4a-0000-4000-8000-000000000007' }, { ...put('bc-8'), fullUrl: 'urn:uuid:7d3c0e4a-0000-4000-8000-000000000007' }] }, 'Bundle.entry[1].fullUrl'],
    ['request.url missing', { type: 'transaction', entry: [{ resource: obs('bc-9'), request: { method: 'POST' } }] }, 'Bundle.entry[0].request.url'],
    ['an unknown Bundle member', { type: 'batch', entries: [], entry: [put('bc-10')] }, 'Bundle.entries'],
    ['an unknown entry member', { type: 'batch', entry: [{ ...put('bc-11'), resources: {} }] }, 'Bundle.entry[0].resources'],
  ])('%s: 400 invalid-bundle at %s, nothing stored', async (_name, bundle, path) => {
    const before = await inboundCount();
    const res = await stack.fhir('POST', '', { resourceType: 'Bundle', ...bundle });
    expect(res.status).toBe(400);
    expect(codeOf(res.body)).toBe('invalid-bundle');
    expect(expressions(res.body)).toContain(path);
    expect(await inboundCount()).toBe(before);
  });

  test('"__proto__" on an entry is an unknown member of the entry', async () => {
    const text = `{"resourceType":"Bundle","type":"batch","entry":[{"__proto__":{"request":{"method":"PUT","url":"Observation/bc-12"}},"resource":${JSON.stringify(obs('bc-12'))}}]}`;
    const res = await stack.fhir('POST', '', text);
    expect(res.status).toBe(400);
    expect(expressions(res.body)).toEqual(expect.arrayContaining(['Bundle.entry[0].__proto__', 'Bundle.entry[0].request']));
    expect(await rows('bc-12')).toEqual([]);
  });

  test('a history Bundle is accepted: versions stored, deletions acknowledged and not stored', async () => {
    const res = await stack.fhir('POST', '', {
      resourceType: 'Bundle', type: 'history',
      entry: [
        { fullUrl: 'https://ehr.example/fhir/Observation/hist-1', resource: obs('hist-1'), request: { method: 'PUT', url: 'Observation/hist-1' }, response: { status: '200 OK' } },
        { fullUrl: 'https://ehr.example/fhir/Observation/hist-2', request: { method: 'DELETE', url: 'Observation/hist-2' }, response: { status: '204 No Content' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.entry.map((e: any) => e.response.status.slice(0, 3))).toEqual(['201', '200']);
    expect(await rows('hist-1')).toHaveLength(1);
    expect(await rows('hist-2')).toEqual([]);
  });
});
