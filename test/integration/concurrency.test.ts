/**
 * A Bundle larger than one job is mapped by several workers at once. Labs
 * processed while their ResearchSubject commits in another job must not stay
 * parked as unmatched (per-patient advisory locks, store/enrollment.ts).
 */
import { startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack('concurrency', { TRIALBRIDGE_WORKER_CONCURRENCY: '8' });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

test('labs and their enrollment split across concurrent jobs all end up mapped', async () => {
  const patients = 5;
  const perPatient = 120;
  const entries: any[] = [];
  for (let p = 0; p < patients; p++) {
    for (let i = 0; i < perPatient; i++) {
      entries.push({
        resource: {
          resourceType: 'Observation', id: `cc-${p}-${i}`, status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '1751-7' }] },
          subject: { reference: `Patient/cc${p}` },
          effectiveDateTime: new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toISOString(),
          valueQuantity: { value: 3 + (i % 10) / 10, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' },
        },
      });
    }
  }
  // Enrollments last, so they land in the last job while the labs' jobs run.
  for (let p = 0; p < patients; p++) {
    entries.push({ resource: { resourceType: 'Patient', id: `cc${p}` } });
    entries.push({ resource: { resourceType: 'ResearchSubject', id: `cc-rs${p}`, status: 'on-study', identifier: [{ value: `CC-${p}` }], study: { identifier: { value: 'NCT02812121' } }, individual: { reference: `Patient/cc${p}` } } });
  }
  const res = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'batch', entry: entries.map((e) => ({ ...e, request: { method: 'PUT', url: `${e.resource.resourceType}/${e.resource.id}` } })) });
  expect(res.status).toBe(200);
  await stack.settle(60_000);
  const states = await stack.db.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM inbound GROUP BY state');
  expect(Object.fromEntries(states.rows.map((r) => [r.state, Number(r.n)]))).toEqual({ mapped: patients * (perPatient + 2) });
  const crf = await stack.api('/subjects/CC-3/crf');
  expect(crf.body.values).toHaveLength(perPatient);
  expect(crf.body.values[0]).toMatchObject({ trial: 'NCT02812121', item: 'ALB', unit: 'g/L' });
}, 90_000);
