/**
 * Purge of resources of patients nobody enrolled, on real
 * PostgreSQL through the real receiver and worker.
 */
import { startStack, type TestStack } from '../helpers/stack';
import { bilirubin, patient, researchSubject } from '../helpers/connect';
import { purgeUnenrolled } from '../../src/store/purge';

jest.setTimeout(60_000);

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack('connect-purge');
});
afterAll(async () => {
  await stack?.stop();
});

const count = async (where: string) => Number((await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM inbound WHERE ${where}`)).rows[0].n);

it('purges parked resources and Patients of never-enrolled patients after the retention, and nothing else', async () => {
  for (const [id, mrn] of [['old', 'MRN-OLD'], ['new', 'MRN-NEW'], ['enr', 'MRN-ENR']]) expect((await stack.fhir('PUT', `/Patient/${id}`, { ...patient(mrn), id })).status).toBe(201);
  for (const [pid, day] of [['old', 1], ['old', 2], ['new', 3], ['enr', 4]] as const) expect((await stack.fhir('POST', '/Observation', bilirubin(pid, day, 30))).status).toBe(201);
  expect((await stack.fhir('PUT', '/ResearchSubject/rs-enr', { ...researchSubject('enr', 'S-0301'), id: 'rs-enr' })).status).toBe(201);
  await stack.settle();
  expect(await count(`state = 'unmatched'`)).toBe(3);
  // Age everything but the "new" patient's lab past a 30-day retention.
  await stack.db.query(`UPDATE inbound SET received_at = now() - interval '31 days' WHERE NOT (resource_type = 'Observation' AND patient_id = 'new')`);
  await stack.db.query(`UPDATE patients SET updated_at = now() - interval '31 days' WHERE patient_id IN ('old', 'enr')`);

  const purged = await purgeUnenrolled(stack.db, 30);
  expect(Object.fromEntries(purged)).toEqual({ 'site-a': { Observation: 2, Patient: 1 } });
  expect(await count(`patient_id = 'old' OR (resource_type = 'Patient' AND resource_id = 'old')`)).toBe(0);
  expect(await count(`resource_type = 'Observation' AND patient_id = 'new'`)).toBe(1); // within the retention
  expect(await count(`resource_type = 'Patient' AND resource_id = 'new'`)).toBe(1); // Patient seen recently
  expect(await count(`patient_id = 'enr' AND state = 'mapped'`)).toBe(3); // enrolled: Patient, lab and ResearchSubject kept
  expect((await stack.db.query(`SELECT 1 FROM patients WHERE patient_id = 'enr'`)).rows).toHaveLength(1);
  // Idempotent: nothing more is due.
  expect(Object.fromEntries(await purgeUnenrolled(stack.db, 30))).toEqual({});
  // The patient enrolled within the retention still gets the parked lab.
  expect((await stack.fhir('PUT', '/ResearchSubject/rs-new', { ...researchSubject('new', 'S-0302'), id: 'rs-new' })).status).toBe(201);
  await stack.settle();
  expect(await count(`patient_id = 'new' AND resource_type = 'Observation' AND state = 'mapped'`)).toBe(1);
});
