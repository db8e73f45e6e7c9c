/**
 * The receiver on real PostgreSQL + Redis: authentication, precise
 * OperationOutcomes for bad input with nothing half-written, redelivery,
 * Bundles, and the read-back API.
 */
import { SITE_TOKENS, startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack('ingest', { TRIALBRIDGE_BODY_LIMIT_BYTES: String(64 * 1024) });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

async function inboundCount(): Promise<number> {
  const r = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbound');
  return Number(r.rows[0].n);
}

const obs = (id: string, value = 85.5, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '14631-6' }] },
  subject: { reference: 'Patient/p-ingest' },
  effectiveDateTime: '2024-03-01T08:00:00+08:00',
  valueQuantity: { value, unit: 'umol/L', system: 'http://unitsofmeasure.org', code: 'umol/L' },
  ...extra,
});

const codeOf = (oo: any) => oo.issue[0].details.coding[0].code;

describe('authentication', () => {
  test('no token → 401 OperationOutcome', async () => {
    const res = await fetch(`${stack.url}/fhir/Observation`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(obs('a1')) });
    expect(res.status).toBe(401);
    const oo = (await res.json()) as any;
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(codeOf(oo)).toBe('unauthenticated');
    expect(oo.issue[0].code).toBe('login');
  });
  test('unknown site token → 401, nothing stored', async () => {
    const before = await inboundCount();
    const res = await stack.fhir('POST', '/Observation', obs('a2'), 'not-a-token');
    expect(res.status).toBe(401);
    expect(await inboundCount()).toBe(before);
  });
  test('a user token cannot send FHIR; a site token cannot read /api', async () => {
    const res = await stack.fhir('POST', '/Observation', obs('a3'), USER_TOKENS.admin);
    expect(res.status).toBe(403);
    expect(codeOf(res.body)).toBe('forbidden');
    const api = await stack.api('/inbound', SITE_TOKENS['site-a']);
    expect(api.status).toBe(403);
  });
  test('an investigator may not list inbound rows', async () => {
    expect((await stack.api('/inbound', USER_TOKENS.inv)).status).toBe(403);
    expect((await stack.api('/inbound', USER_TOKENS.dm)).status).toBe(200);
  });
  test('metadata and health are open', async () => {
    const md = await fetch(`${stack.url}/fhir/metadata`);
    expect(md.status).toBe(200);
    const cs = (await md.json()) as any;
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    expect(cs.rest[0].resource.map((r: any) => r.type).sort()).toEqual(['Condition', 'MedicationAdministration', 'Observation', 'Patient', 'ResearchStudy', 'ResearchSubject']);
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${stack.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ database: 'ok', redis: 'ok' });
  });
});

describe('bad input gets a precise OperationOutcome and stores nothing', () => {
  test.each([
    ['not JSON', '/Observation', '{"resourceType": "Observation",', 'application/fhir+json', 400, 'not-json'],
    ['wrong content type', '/Observation', JSON.stringify(obs('b1')), 'text/plain', 415, 'unsupported-media-type'],
    ['resourceType differs from URL', '/Observation', JSON.stringify({ ...obs('b2'), resourceType: 'Patient' }), 'application/fhir+json', 400, 'resource-type-mismatch'],
    ['unsupported type', '/Encounter', JSON.stringify({ resourceType: 'Encounter', status: 'finished' }), 'application/fhir+json', 400, 'unsupported-resource-type'],
    ['body over the limit', '/Observation', JSON.stringify({ ...obs('b3'), note: [{ text: 'x'.repeat(70 * 1024) }] }), 'application/fhir+json', 413, 'body-too-large'],
  ])('%s', async (_label, path, body, type, status, code) => {
    const before = await inboundCount();
    const res = await stack.fhir('POST', path, body, undefined, { 'content-type': type });
    expect(res.status).toBe(status);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(codeOf(res.body)).toBe(code);
    expect(await inboundCount()).toBe(before);
  });

  test('failed validation names the field', async () => {
    const res = await stack.fhir('POST', '/Observation', { ...obs('b4'), valueQuantity: { value: 'high' }, bogus: true });
    expect(res.status).toBe(400);
    expect(codeOf(res.body)).toBe('validation-failed');
    const expressions = res.body.issue.flatMap((i: any) => i.expression ?? []);
    expect(expressions).toEqual(expect.arrayContaining(['Observation.value[x].value', 'Observation.bogus']));
  });

  test('a bogus status is rejected even though the generic validator lets it pass', async () => {
    const res = await stack.fhir('POST', '/Observation', { ...obs('b5'), status: 'done' });
    expect(res.status).toBe(400);
    expect(res.body.issue.some((i: any) => i.code === 'code-invalid' && i.expression?.[0] === 'Observation.status')).toBe(true);
  });

  test('PUT with a different id in the body', async () => {
    const res = await stack.fhir('PUT', '/Observation/x1', obs('x2'));
    expect(res.status).toBe(400);
    expect(codeOf(res.body)).toBe('id-mismatch');
  });

  test('a transaction with one bad entry stores none of its entries', async () => {
    const before = await inboundCount();
    const res = await stack.fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111', resource: obs('t1'), request: { method: 'POST', url: 'Observation' } },
        { resource: { ...obs('t2'), status: 'nonsense' }, request: { method: 'POST', url: 'Observation' } },
      ],
    });
    expect(res.status).toBe(400);
    expect(codeOf(res.body)).toBe('transaction-failed');
    expect(res.body.issue.some((i: any) => (i.expression ?? []).includes('Bundle.entry[1].resource.status'))).toBe(true);
    expect(await inboundCount()).toBe(before);
  });

  test('a Bundle type we do not take', async () => {
    const res = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'searchset', entry: [] });
    expect(res.status).toBe(400);
    expect(codeOf(res.body)).toBe('invalid-bundle');
    expect(res.body.issue[0].expression).toEqual(['Bundle.type']);
  });
});

describe('store then queue', () => {
  test('a new resource is 201 with Location; the same version again is 200 and changes nothing', async () => {
    const first = await stack.fhir('PUT', '/Observation/dup-1', obs('dup-1'));
    expect(first.status).toBe(201);
    expect(first.headers.get('location')).toMatch(/\/fhir\/Observation\/dup-1\/_history\/h[0-9a-f]{16}$/);
    await stack.settle();
    const again = await stack.fhir('PUT', '/Observation/dup-1', { ...obs('dup-1'), meta: { lastUpdated: '2024-03-02T00:00:00Z' } });
    expect(again.status).toBe(200);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    const rows = await stack.db.query("SELECT id FROM inbound WHERE resource_id = 'dup-1'");
    expect(rows.rows).toHaveLength(1);
  });

  test('a batch answers one status and outcome per entry, in order', async () => {
    const res = await stack.fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: obs('bt-1'), request: { method: 'PUT', url: 'Observation/bt-1' } },
        { resource: { ...obs('bt-2'), status: 'nonsense' }, request: { method: 'PUT', url: 'Observation/bt-2' } },
        { resource: { resourceType: 'Encounter', id: 'e1', status: 'finished', class: { code: 'AMB' } }, request: { method: 'PUT', url: 'Encounter/e1' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    expect(res.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '400 Bad Request', '200 OK']);
    expect(res.body.entry[1].response.outcome.issue.some((i: any) => (i.expression ?? []).includes('Bundle.entry[1].resource.status'))).toBe(true);
    expect(res.body.entry[2].response.outcome.issue[0].severity).toBe('warning');
  });

  test('inbound listing filters by state and never returns bodies', async () => {
    await stack.settle();
    const res = await stack.api('/inbound?state=unmatched');
    expect(res.status).toBe(200);
    expect(res.body.rows.length).toBeGreaterThan(0);
    for (const r of res.body.rows) {
      expect(r.state).toBe('unmatched');
      expect(r).not.toHaveProperty('body');
    }
    expect((await stack.api('/inbound?state=nope')).status).toBe(400);
  });
});
