/**
 * Site isolation of subjects, through the real server: a (trial, subject)
 * belongs to the site that first enrolled it. Another site sending a
 * ResearchSubject with the same subject number is refused in the worker (a
 * review item, the row `needs_review`) and nothing of the first site's subject
 * changes: no CRF value, no flag, and the report stays answerable.
 */
import type { Resource } from '@medplum/fhirtypes';
import { SITE_TOKENS, startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack('enrollment-site-isolation');
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const evaluated = () => stack.evaluated();

/** One enrollment of subject S-QX-0001 in NCT05985863 with a total bilirubin, as a transaction. */
const enrollment = (prefix: string, umolPerL: number) => ({
  resourceType: 'Bundle', type: 'transaction',
  entry: [
    { fullUrl: `urn:uuid:${prefix}-0000-4000-8000-000000000001`, resource: { resourceType: 'Patient', gender: 'female', birthDate: '1968-02-01' }, request: { method: 'POST', url: 'Patient' } },
    {
      fullUrl: `urn:uuid:${prefix}-0000-4000-8000-000000000002`,
      resource: {
        resourceType: 'ResearchSubject', status: 'screening', identifier: [{ system: 'urn:trialbridge:subject', value: 'S-QX-0001' }],
        period: { start: '2024-03-01' }, study: { identifier: { value: 'NCT05985863' } },
        individual: { reference: `urn:uuid:${prefix}-0000-4000-8000-000000000001` },
      },
      request: { method: 'POST', url: 'ResearchSubject' },
    },
    {
      fullUrl: `urn:uuid:${prefix}-0000-4000-8000-000000000003`,
      resource: {
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '14631-6' }] },
        subject: { reference: `urn:uuid:${prefix}-0000-4000-8000-000000000001` }, effectiveDateTime: '2024-03-01T08:00:00+08:00',
        valueQuantity: { value: umolPerL, unit: 'umol/L', system: 'http://unitsofmeasure.org', code: 'umol/L' },
      } as Resource,
      request: { method: 'POST', url: 'Observation' },
    },
  ],
});

const flagsOf = async () =>
  (await stack.db.query<{ site: string; code: string; status: string }>("SELECT site, code, status FROM flags WHERE subject = 'S-QX-0001' ORDER BY id")).rows;

test('another site claiming an enrolled subject is refused; nothing of the first site changes', async () => {
  expect((await stack.fhir('POST', '', enrollment('aaaaaaaa', 85.5))).status).toBe(200);
  await evaluated();
  const crfBefore = (await stack.api('/subjects/S-QX-0001/crf')).body;
  expect(crfBefore.values.map((v: any) => [v.site, v.item, v.value])).toEqual([['site-a', 'TBIL', 5]]);
  const reportBefore = await stack.api('/subjects/S-QX-0001/report?asOf=2024-03-05');
  expect(reportBefore.status).toBe(200);
  const flagsBefore = await flagsOf();

  // Site B sends the same subject number with a very different bilirubin (34.2 mg/dL): refused at the door,
  // the whole transaction with it, with the element that collides named.
  const refused = await stack.fhir('POST', '', enrollment('bbbbbbbb', 585), SITE_TOKENS['site-b']);
  expect(refused.status).toBeGreaterThanOrEqual(400);
  expect(refused.status).toBeLessThan(500);
  const claimIssue = refused.body.issue.find((i: any) => /enrolled by site site-a/.test(i.details?.text ?? ''));
  expect(claimIssue).toMatchObject({ code: 'conflict', expression: ['Bundle.entry[1].resource.identifier[0].value'] });
  expect(JSON.stringify(refused.body)).not.toMatch(/585|1968/);
  expect((await stack.api('/inbound?site=site-b', USER_TOKENS.dm)).body.rows).toEqual([]);

  // A batch naming the study only by a reference to a ResearchStudy not yet received cannot be told at the
  // door; when the study arrives, the map worker refuses the claim with a review item.
  const byRef = enrollment('bbbbbbbb', 585);
  byRef.type = 'batch';
  (byRef.entry[1].resource as any).study = { reference: 'ResearchStudy/local-qx' };
  const b = await stack.fhir('POST', '', byRef, SITE_TOKENS['site-b']);
  expect(b.status).toBe(200);
  const study = { resourceType: 'ResearchStudy', id: 'local-qx', status: 'active', identifier: [{ value: 'NCT05985863' }] };
  expect((await stack.fhir('PUT', '/ResearchStudy/local-qx', study, SITE_TOKENS['site-b'])).status).toBe(201);
  await evaluated();

  const crfAfter = (await stack.api('/subjects/S-QX-0001/crf')).body;
  expect(crfAfter.values).toEqual(crfBefore.values);
  expect(crfAfter.enrollments).toEqual([expect.objectContaining({ site: 'site-a', trial: 'NCT05985863' })]);
  expect(await flagsOf()).toEqual(flagsBefore);
  expect((await flagsOf()).every((f) => f.site === 'site-a')).toBe(true);

  // The refusal is visible to a data manager: a review item on site B's ResearchSubject, its row needs_review.
  const items = await stack.api('/review-items?reason=subject-claimed-by-other-site', USER_TOKENS.dm);
  expect(items.body.rows).toEqual([expect.objectContaining({ trial: 'NCT05985863', subject: 'S-QX-0001' })]);
  expect(items.body.rows[0].detail).toMatch(/already enrolled by site site-a; refused for site site-b/);
  const rows = (await stack.api('/inbound?site=site-b', USER_TOKENS.dm)).body.rows;
  const byType = Object.fromEntries(rows.filter((r: any) => r.resourceType !== 'ResearchStudy').map((r: any) => [r.resourceType, [r.state, r.lastError]]));
  expect(byType.ResearchSubject).toEqual(['needs_review', 'subject-claimed-by-other-site']);
  // Site B's lab has no enrollment at site B: parked like any unenrolled patient's data (and purged after the retention).
  expect(byType.Observation[0]).toBe('unmatched');

  // The report keeps answering for the owner, with or without ?trial=.
  const report = await stack.api('/subjects/S-QX-0001/report?asOf=2024-03-05');
  expect(report.status).toBe(200);
  expect(report.body).toMatchObject({ trial: 'NCT05985863', subject: 'S-QX-0001' });
  expect((await stack.api('/subjects/S-QX-0001/report?asOf=2024-03-05&trial=NCT05985863')).status).toBe(200);
  expect((await stack.api('/subjects/S-QX-0001/report?asOf=2024-03-05&site=site-b')).status).toBe(404);
});

test('the same site may send its subject again (a new ResearchSubject version) and stays the owner', async () => {
  expect((await stack.fhir('POST', '', enrollment('cccccccc', 90))).status).toBe(200);
  await evaluated();
  const crf = (await stack.api('/subjects/S-QX-0001/crf')).body;
  expect(crf.enrollments.every((e: any) => e.site === 'site-a')).toBe(true);
  expect(crf.values.map((v: any) => v.site)).toEqual(['site-a', 'site-a']);
});

test('the report endpoint disambiguates with ?trial= and ?site=', async () => {
  // The same number in another trial at another site is a different subject (ownership is per trial).
  const other = enrollment('dddddddd', 85.5);
  (other.entry[1].resource as any).study = { identifier: { value: 'NCT02812121' } };
  expect((await stack.fhir('POST', '', other, SITE_TOKENS['site-b'])).status).toBe(200);
  await evaluated();
  const ambiguous = await stack.api('/subjects/S-QX-0001/report?asOf=2024-03-05');
  expect(ambiguous.status).toBe(400);
  expect(ambiguous.body.issue[0].details.coding[0].code).toBe('invalid-query');
  expect(ambiguous.body.issue[0].diagnostics ?? ambiguous.body.issue[0].details.text).toMatch(/NCT02812121@site-b, NCT05985863@site-a; add \?trial=/);
  expect((await stack.api('/subjects/S-QX-0001/report?asOf=2024-03-05&trial=NCT02812121')).body).toMatchObject({ trial: 'NCT02812121' });
  expect((await stack.api('/subjects/S-QX-0001/report?asOf=2024-03-05&site=site-b')).body).toMatchObject({ trial: 'NCT02812121' });
  expect((await stack.api('/subjects/S-QX-0001/report?asOf=2024-03-05&site=site-a')).body).toMatchObject({ trial: 'NCT05985863' });
  const twice = await stack.api('/subjects/S-QX-0001/report?trial=NCT02812121&trial=NCT05985863');
  expect(twice.status).toBe(400);
  expect(twice.body.issue[0].details.coding[0].code).toBe('invalid-query');

  // Two sites in one trial can only come from data stored before ownership was enforced: ?site= picks one.
  await stack.db.query(
    `INSERT INTO enrollments (site, research_subject_id, trial, subject, patient_id, status, inbound_id)
     SELECT 'site-b', 'legacy-rs', trial, subject, patient_id, status, inbound_id FROM enrollments WHERE site = 'site-a' AND subject = 'S-QX-0001' LIMIT 1`,
  );
  const legacy = await stack.api('/subjects/S-QX-0001/report?asOf=2024-03-05&trial=NCT05985863');
  expect(legacy.status).toBe(400);
  expect(JSON.stringify(legacy.body)).toMatch(/add \?site=/);
  expect((await stack.api('/subjects/S-QX-0001/report?asOf=2024-03-05&trial=NCT05985863&site=site-a')).status).toBe(200);
});
