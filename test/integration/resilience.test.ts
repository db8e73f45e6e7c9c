/**
 * Nothing accepted is lost when Redis is unreachable: the resource is stored
 * before the queue is touched, the sender gets a 503 OperationOutcome, and the
 * sweeper maps the row once a worker can reach Redis.
 */
import { freshSchema } from '../helpers/env';
import { startStack, type TestStack } from '../helpers/stack';

const schema = freshSchema('resilience');
let offline: TestStack;

afterAll(async () => {
  await offline?.stop();
});

test('Redis down: 503 queue-unavailable, row kept in received, then mapped by the sweeper', async () => {
  // Port 1 on loopback: nothing listens there.
  offline = await startStack('resilience', { REDIS_URL: 'redis://127.0.0.1:1' }, 'serve', { schema, keepSchema: true });
  const ready = await fetch(`${offline.url}/readyz`);
  expect(ready.status).toBe(503);
  expect(((await ready.json()) as any).redis).toMatch(/^unavailable/);

  const bundle = {
    resourceType: 'Bundle', type: 'batch',
    entry: [
      { resource: { resourceType: 'Patient', id: 'rz1' } },
      { resource: { resourceType: 'ResearchSubject', id: 'rs-rz1', status: 'on-study', identifier: [{ value: 'RZ-001' }], study: { identifier: { value: 'NCT05985863' } }, individual: { reference: 'Patient/rz1' } } },
      { resource: { resourceType: 'Observation', id: 'rz-tbil', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '1975-2' }] }, subject: { reference: 'Patient/rz1' }, effectiveDateTime: '2024-03-01', valueQuantity: { value: 7, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' } } },
    ],
  };
  const res = await offline.fhir('POST', '', { ...bundle, entry: bundle.entry.map((e) => ({ ...e, request: { method: 'PUT', url: `${e.resource.resourceType}/${e.resource.id}` } })) });
  expect(res.status).toBe(503);
  expect(res.body.issue[0].details.coding[0].code).toBe('queue-unavailable');
  expect(res.body.issue[0].code).toBe('transient');
  const rows = await offline.db.query<{ state: string }>('SELECT state FROM inbound ORDER BY id');
  expect(rows.rows.map((r) => r.state)).toEqual(['received', 'received', 'received']);
  await offline.stop();

  // Redis is back: a worker on the same database sweeps the rows left in received.
  const online = await startStack('resilience', { TRIALBRIDGE_SWEEP_AFTER_MS: '1000' }, 'start', { schema });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      await online.workers!.sweep();
      const r = await online.db.query<{ n: number }>("SELECT count(*)::int AS n FROM inbound WHERE state = 'mapped'");
      if (Number(r.rows[0].n) === 3) break;
      if (Date.now() > deadline) throw new Error('rows not swept');
      await new Promise((r) => setTimeout(r, 200));
    }
    const crf = await online.api('/subjects/RZ-001/crf');
    expect(crf.body.values.map((v: any) => [v.item, v.value, v.unit])).toEqual([['TBIL', 7, 'mg/dL']]);
  } finally {
    await online.stop();
  }
}, 90_000);

