/**
 * Polling fetches the ResearchStudy resources enrollments name by reference
 * (the standard R4 shape), against a real FHIR server (Medplum's FhirRouter +
 * MemoryRepository, test/helpers/ehr-server.ts), through the real queue,
 * worker and PostgreSQL.
 */
import type { ResearchStudy } from '@medplum/fhirtypes';
import { startEhrServer, type EhrServer } from '../helpers/ehr-server';
import { startStack, type TestStack } from '../helpers/stack';
import { bilirubin, patient, researchSubject, sitesEnv, waitFor } from '../helpers/connect';

jest.setTimeout(60_000);

let ehr: EhrServer;
let stack: TestStack;

beforeAll(async () => {
  ehr = await startEhrServer();
  stack = await startStack('enrollment-poll', {
    TRIALBRIDGE_SITES: sitesEnv({ baseUrl: ehr.baseUrl, auth: { type: 'none' }, modes: ['poll'], pollIntervalMs: 3_600_000 }),
  });
});

afterAll(async () => {
  await stack?.stop();
  await ehr?.close();
});

it('a poll fetches the ResearchStudy first, so a ResearchSubject naming it by reference enrolls, and its labs follow', async () => {
  const study = await ehr.create<ResearchStudy>({ resourceType: 'ResearchStudy', status: 'active', identifier: [{ system: 'https://clinicaltrials.gov', value: 'NCT05985863' }] });
  const p = (await ehr.create(patient('MRN-SP1'))).id;
  await ehr.create({ ...researchSubject(p, 'S-POLL-1'), study: { reference: `ResearchStudy/${study.id}` } });
  await ehr.create(bilirubin(p, 1, 85.5));
  await stack.siteQueue.requestSync('site-a', 'test');
  const crf = await waitFor('lab mapped', async () => {
    const r = await stack.api('/subjects/S-POLL-1/crf');
    return r.status === 200 && r.body.values.length ? r.body : null;
  });
  expect(crf.enrollments).toEqual([expect.objectContaining({ trial: 'NCT05985863', site: 'site-a' })]);
  expect(crf.values.map((v: any) => v.item)).toEqual(['TBIL']);
  const searches = ehr.requests.filter((r) => /^\/fhir\/(ResearchStudy|ResearchSubject)\?/.test(r.path)).map((r) => r.path.split('?')[0]);
  // Studies are searched before enrollments in every sync, unscoped.
  expect(searches.slice(0, 2)).toEqual(['/fhir/ResearchStudy', '/fhir/ResearchSubject']);
  const stored = await stack.db.query<{ trial: string }>('SELECT trial FROM research_studies WHERE site = $1 AND research_study_id = $2', ['site-a', study.id]);
  expect(stored.rows).toEqual([{ trial: 'NCT05985863' }]);
});
