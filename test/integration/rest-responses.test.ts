/**
 * Responses as FHIR R4 clients expect them, over real HTTP: 201 / 200, the
 * stored resource by default, Prefer return=minimal|OperationOutcome, absolute
 * Location, ETag and Last-Modified, the same in Bundle entry responses,
 * WWW-Authenticate on 401, 406 and 415 content negotiation, and a
 * CapabilityStatement that claims only what holds.
 */
import { SITE_TOKENS, startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack('rest-responses', { TRIALBRIDGE_PUBLIC_URL: 'https://tb.hospital-a.example/' });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const BASE = 'https://tb.hospital-a.example';
const obs = (id: string, value = 1.2) => ({
  resourceType: 'Observation', id, status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '1975-2' }] },
  subject: { reference: 'Patient/p-resp' },
  effectiveDateTime: '2024-03-04T07:00:00+08:00',
  valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
});
const codeOf = (oo: any) => oo.issue[0].details.coding[0].code;

async function raw(method: string, path: string, headers: Record<string, string>, body?: string) {
  const res = await fetch(`${stack.url}/fhir${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : null };
}

describe('create and update', () => {
  test('PUT of a new id: 201, the stored resource with our id and meta, absolute Location, ETag, Last-Modified', async () => {
    const res = await stack.fhir('PUT', '/Observation/r-1', obs('r-1'));
    expect(res.status).toBe(201);
    expect(res.body.resourceType).toBe('Observation');
    expect(res.body.id).toBe('r-1');
    const v = res.body.meta.versionId;
    expect(typeof v).toBe('string');
    expect(Number.isNaN(Date.parse(res.body.meta.lastUpdated))).toBe(false);
    expect(res.headers.get('location')).toBe(`${BASE}/fhir/Observation/r-1/_history/${encodeURIComponent(v)}`);
    expect(res.headers.get('etag')).toBe(`W/"${v}"`);
    expect(res.headers.get('last-modified')).toBe(new Date(res.body.meta.lastUpdated).toUTCString());
    expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  });

  test('PUT of a new version: 200 with a new version; the same content again: 200, unchanged', async () => {
    const first = await stack.fhir('PUT', '/Observation/r-2', obs('r-2', 1.0));
    expect(first.status).toBe(201);
    const update = await stack.fhir('PUT', '/Observation/r-2', obs('r-2', 2.0));
    expect(update.status).toBe(200);
    expect(update.body.meta.versionId).not.toBe(first.body.meta.versionId);
    expect(update.headers.get('location')).toMatch(/\/fhir\/Observation\/r-2\/_history\//);
    const again = await stack.fhir('PUT', '/Observation/r-2', obs('r-2', 2.0));
    expect(again.status).toBe(200);
    expect(again.headers.get('etag')).toBe(update.headers.get('etag'));
  });

  test('POST: 201 with Location', async () => {
    const res = await stack.fhir('POST', '/Observation', obs('r-3'));
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toMatch(new RegExp(`^${BASE}/fhir/Observation/r-3/_history/`));
  });

  test('Prefer: return=minimal → no body; return=OperationOutcome → an informational outcome', async () => {
    const min = await raw('PUT', '/Observation/r-4', { authorization: `Bearer ${SITE_TOKENS['site-a']}`, 'content-type': 'application/fhir+json', prefer: 'return=minimal' }, JSON.stringify(obs('r-4')));
    expect(min.status).toBe(201);
    expect(min.text).toBe('');
    expect(min.headers.get('etag')).toMatch(/^W\/"/);
    const oo = await stack.fhir('PUT', '/Observation/r-4', obs('r-4', 3.3), undefined, { prefer: 'return=OperationOutcome' });
    expect(oo.status).toBe(200);
    expect(oo.body.resourceType).toBe('OperationOutcome');
    expect(oo.body.issue[0].severity).toBe('information');
    const rep = await stack.fhir('PUT', '/Observation/r-4', obs('r-4', 4.4), undefined, { prefer: 'return=representation' });
    expect(rep.body.valueQuantity.value).toBe(4.4);
  });

  test('_format=json is honoured; _format=xml is 406', async () => {
    expect((await stack.fhir('PUT', '/Observation/r-5?_format=json', obs('r-5'))).status).toBe(201);
    const xml = await stack.fhir('PUT', '/Observation/r-6?_format=xml', obs('r-6'));
    expect(xml.status).toBe(406);
    expect(codeOf(xml.body)).toBe('not-acceptable');
  });
});

describe('Bundle entry responses', () => {
  const put = (id: string, value = 1.2) => ({ resource: obs(id, value), request: { method: 'PUT', url: `Observation/${id}` } });
  test('default: each entry has the resource and response status, location, etag, lastModified', async () => {
    const res = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'batch', entry: [put('rb-1'), put('rb-1', 9)] });
    expect(res.status).toBe(200);
    const [a, b] = res.body.entry;
    expect(a.response.status).toBe('201 Created');
    expect(b.response.status).toBe('200 OK');
    for (const e of [a, b]) {
      expect(e.resource.id).toBe('rb-1');
      expect(e.response.location).toBe(`${BASE}/fhir/Observation/rb-1/_history/${encodeURIComponent(e.resource.meta.versionId)}`);
      expect(e.response.etag).toBe(`W/"${e.resource.meta.versionId}"`);
      expect(Date.parse(e.response.lastModified)).toBe(Date.parse(e.resource.meta.lastUpdated));
    }
  });
  test('Prefer: return=minimal and return=OperationOutcome', async () => {
    const min = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [put('rb-2')] }, undefined, { prefer: 'return=minimal' });
    expect(min.body.type).toBe('transaction-response');
    expect(min.body.entry[0].resource).toBeUndefined();
    expect(min.body.entry[0].response.etag).toMatch(/^W\//);
    const oo = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'batch', entry: [put('rb-3')] }, undefined, { prefer: 'return=OperationOutcome' });
    expect(oo.body.entry[0].resource).toBeUndefined();
    expect(oo.body.entry[0].response.outcome.resourceType).toBe('OperationOutcome');
  });
});

describe('authentication challenge', () => {
  test('no token: 401 with WWW-Authenticate: Bearer realm', async () => {
    const res = await raw('POST', '/Observation', { 'content-type': 'application/fhir+json' }, JSON.stringify(obs('a-1')));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="trialbridge"');
  });
  test('unknown token: error="invalid_token"', async () => {
    const res = await stack.fhir('POST', '/Observation', obs('a-2'), 'nope-not-a-token');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="trialbridge", error="invalid_token"/);
  });
  test('/api challenges the same way', async () => {
    const res = await fetch(`${stack.url}/api/sites`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="trialbridge"');
  });
});

describe('content negotiation', () => {
  const auth = { authorization: `Bearer ${SITE_TOKENS['site-a']}` };
  test.each(['application/fhir+xml', 'application/xml, text/xml;q=0.5'])('Accept: %s → 406 OperationOutcome, nothing stored', async (accept) => {
    const res = await raw('PUT', '/Observation/n-1', { ...auth, 'content-type': 'application/fhir+json', accept }, JSON.stringify(obs('n-1')));
    expect(res.status).toBe(406);
    expect(codeOf(res.body)).toBe('not-acceptable');
    const rows = await stack.db.query("SELECT 1 FROM inbound WHERE resource_id = 'n-1'");
    expect(rows.rows).toEqual([]);
  });
  test('Accept: application/json and */* are fine', async () => {
    expect((await raw('PUT', '/Observation/n-2', { ...auth, 'content-type': 'application/fhir+json', accept: 'application/json' }, JSON.stringify(obs('n-2')))).status).toBe(201);
    expect((await raw('GET', '/metadata', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' })).status).toBe(200);
    expect((await raw('GET', '/metadata', { accept: 'application/fhir+xml' })).status).toBe(406);
  });
  test.each([
    ['PUT', '/Observation/n-3'],
    ['POST', ''],
  ])('%s %s with the DSTU2 type application/json+fhir → 415 naming application/fhir+json', async (method, path) => {
    const body = path ? obs('n-3') : { resourceType: 'Bundle', type: 'batch', entry: [] };
    const res = await raw(method, path, { ...auth, 'content-type': 'application/json+fhir' }, JSON.stringify(body));
    expect(res.status).toBe(415);
    expect(codeOf(res.body)).toBe('unsupported-media-type');
    expect(res.body.issue[0].diagnostics).toMatch(/DSTU2.*application\/fhir\+json/);
  });
});

describe('CapabilityStatement', () => {
  test('claims only what holds', async () => {
    const res = await raw('GET', '/metadata', {});
    expect(res.status).toBe(200);
    const cs = res.body;
    expect(cs.format).toEqual(['json', 'application/fhir+json']);
    expect(cs.implementation.url).toBe(`${BASE}/fhir`);
    const rest = cs.rest[0];
    expect(rest.security.service).toBeUndefined();
    expect(rest.security.description).toMatch(/pre-shared/);
    expect(rest.documentation).toMatch(/notification endpoint/);
    expect(rest.interaction.map((i: any) => i.code).sort()).toEqual(['batch', 'transaction']);
    expect(rest.resource.map((r: any) => r.type).sort()).toEqual(['Condition', 'MedicationAdministration', 'Observation', 'Patient', 'ResearchStudy', 'ResearchSubject']);
    for (const r of rest.resource) {
      expect(r.interaction.map((i: any) => i.code)).toEqual(['create', 'update']);
      expect(r).toMatchObject({ versioning: 'versioned-update', readHistory: false, updateCreate: true, conditionalCreate: true, conditionalUpdate: false });
    }
  });
  test('conditionalCreate holds: If-None-Exist on identifier creates once', async () => {
    const lab = { ...obs('cc-1'), id: undefined, identifier: [{ system: 'urn:lab:accession', value: 'ACC-RESP-1' }] };
    const headers = { 'if-none-exist': 'identifier=urn:lab:accession|ACC-RESP-1' };
    expect((await stack.fhir('POST', '/Observation', lab, undefined, headers)).status).toBe(201);
    expect((await stack.fhir('POST', '/Observation', { ...lab, valueQuantity: { ...lab.valueQuantity, value: 7 } }, undefined, headers)).status).toBe(200);
    const rows = await stack.db.query("SELECT 1 FROM inbound WHERE body->'identifier'->0->>'value' = 'ACC-RESP-1'");
    expect(rows.rows).toHaveLength(1);
  });
  test('a read is not claimed and not served', async () => {
    const res = await stack.fhir('GET', '/Observation/r-1');
    expect(res.status).toBe(405);
  });
});
