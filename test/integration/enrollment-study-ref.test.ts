/**
 * Enrollment in the standard R4 shape, through the real server: a
 * ResearchStudy whose identifier is the trial key, a ResearchSubject naming it
 * by reference (`ResearchStudy/<ehr-internal-id>`), and a study-drug
 * MedicationAdministration naming it with the workflow-researchStudy extension,
 * in every arrival order, in one Bundle and in separate requests.
 */
import type { Resource } from '@medplum/fhirtypes';
import { startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack('enrollment-study-ref');
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const WORKFLOW = 'http://hl7.org/fhir/StructureDefinition/workflow-researchStudy';

const study = (id: string, identifier: string, version = '1'): Resource => ({
  resourceType: 'ResearchStudy', id, meta: { versionId: version }, status: 'active',
  identifier: [{ system: 'urn:oid:1.2.156.302.study', value: identifier }],
});
const patient = (id: string): Resource => ({ resourceType: 'Patient', id, gender: 'male', birthDate: '1970-05-01' });
const subject = (id: string, pid: string, number: string, studyId: string): Resource => ({
  resourceType: 'ResearchSubject', id, status: 'on-study', assignedArm: 'MSC', identifier: [{ system: 'urn:trialbridge:subject', value: number }],
  period: { start: '2024-03-01' }, study: { reference: `ResearchStudy/${studyId}` }, individual: { reference: `Patient/${pid}` },
});
/** Total bilirubin 85.5 umol/L = 5.00 mg/dL (clinical-reference §3). */
const bilirubin = (id: string, pid: string): Resource => ({
  resourceType: 'Observation', id, status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '14631-6' }] },
  subject: { reference: `Patient/${pid}` }, effectiveDateTime: '2024-03-01T08:00:00+08:00',
  valueQuantity: { value: 85.5, unit: 'umol/L', system: 'http://unitsofmeasure.org', code: 'umol/L' },
});
/** An infusion coded with a hospital formulary code: only the extension says it is study drug. */
const infusion = (id: string, pid: string, studyId: string): Resource => ({
  resourceType: 'MedicationAdministration', id, status: 'completed', subject: { reference: `Patient/${pid}` },
  effectiveDateTime: '2024-03-04T09:00:00+08:00',
  medicationCodeableConcept: { coding: [{ system: 'urn:oid:1.2.156.302.formulary', code: 'UCMSC-INF' }] },
  dosage: { dose: { value: 1.5e8, unit: 'cells', system: 'http://unitsofmeasure.org', code: '{cells}' } },
  extension: [{ url: WORKFLOW, valueReference: { reference: `ResearchStudy/${studyId}` } }],
});

const put = (r: Resource) => ({ resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } });
const batch = (...rs: Resource[]) => ({ resourceType: 'Bundle', type: 'batch', entry: rs.map(put) });

async function send(...rs: Resource[]): Promise<void> {
  for (const r of rs) {
    const res = await stack.fhir('PUT', `/${r.resourceType}/${r.id}`, r);
    expect([200, 201]).toContain(res.status);
    await stack.settle();
  }
}

const evaluated = () => stack.evaluated();

async function crf(number: string): Promise<{ enrollments: any[]; values: any[] }> {
  const res = await stack.api(`/subjects/${number}/crf`, USER_TOKENS.dm);
  return res.status === 404 ? { enrollments: [], values: [] } : res.body;
}

async function stateOf(type: string, id: string): Promise<{ state: string; last_error: string | null }> {
  const r = await stack.db.query<{ state: string; last_error: string | null }>(
    'SELECT state, last_error FROM inbound WHERE resource_type = $1 AND resource_id = $2 ORDER BY id DESC LIMIT 1',
    [type, id],
  );
  return r.rows[0];
}

const TBIL = { trial: 'NCT05985863', form: 'LB', item: 'TBIL', value: 5, unit: 'mg/dL' };

test('ResearchStudy first, then the ResearchSubject by reference, then a lab (separate requests)', async () => {
  await send(study('st-a', 'NCT05985863'), patient('pa'), subject('rs-a', 'pa', 'S-REF-A', 'st-a'), bilirubin('ob-a', 'pa'));
  const c = await crf('S-REF-A');
  expect(c.enrollments).toEqual([expect.objectContaining({ trial: 'NCT05985863', site: 'site-a' })]);
  expect(c.values).toEqual([expect.objectContaining(TBIL)]);
});

test('ResearchSubject and lab first: parked as unmatched, released when the ResearchStudy arrives', async () => {
  await send(patient('pb'), subject('rs-b', 'pb', 'S-REF-B', 'st-b'), bilirubin('ob-b', 'pb'));
  expect(await stateOf('ResearchSubject', 'rs-b')).toEqual({ state: 'unmatched', last_error: 'awaiting-research-study' });
  expect(await stateOf('Observation', 'ob-b')).toMatchObject({ state: 'unmatched' });
  expect((await crf('S-REF-B')).values).toEqual([]);
  const parked = await stack.api('/inbound?state=unmatched&site=site-a', USER_TOKENS.dm);
  expect(parked.body.rows.map((r: any) => `${r.resourceType}/${r.resourceId}`)).toEqual(expect.arrayContaining(['ResearchSubject/rs-b', 'Observation/ob-b']));

  await send(study('st-b', 'NCT05985863'));
  expect(await stateOf('ResearchSubject', 'rs-b')).toMatchObject({ state: 'mapped' });
  expect(await stateOf('Observation', 'ob-b')).toMatchObject({ state: 'mapped' });
  expect((await crf('S-REF-B')).values).toEqual([expect.objectContaining(TBIL)]);
});

test('one Bundle with the ResearchStudy after the subject and the lab', async () => {
  const res = await stack.fhir('POST', '', batch(patient('pc'), subject('rs-c', 'pc', 'S-REF-C', 'st-c'), bilirubin('ob-c', 'pc'), study('st-c', 'NCT05985863')));
  expect(res.status).toBe(200);
  await stack.settle();
  expect((await crf('S-REF-C')).values).toEqual([expect.objectContaining(TBIL)]);
  expect(await stateOf('ResearchSubject', 'rs-c')).toMatchObject({ state: 'mapped' });
});

test('a study-drug infusion named by the workflow-researchStudy extension sets Day 0, whichever arrives first', async () => {
  // Infusion and enrollment before the study (one Bundle), the study later: Day 0 is the infusion date.
  await stack.fhir('POST', '', batch(infusion('ma-d', 'pd', 'st-d'), patient('pd'), subject('rs-d', 'pd', 'S-REF-D', 'st-d')));
  await evaluated();
  expect((await stack.api('/subjects/S-REF-D/report?asOf=2024-03-10')).status).toBe(404);
  await send(study('st-d', 'NCT05985863'));
  await evaluated();
  const late = await stack.api('/subjects/S-REF-D/report?asOf=2024-03-10');
  expect(late.status).toBe(200);
  expect(late.body.day0).toBe('2024-03-04');
  expect(late.body.doses).toEqual(expect.arrayContaining([expect.objectContaining({ visit: 'W0', status: 'given', source: 'MedicationAdministration/ma-d' })]));

  // Study first, infusion last, separate requests.
  await send(study('st-e', 'NCT05985863'), patient('pe'), subject('rs-e', 'pe', 'S-REF-E', 'st-e'), infusion('ma-e', 'pe', 'st-e'));
  await evaluated();
  const early = await stack.api('/subjects/S-REF-E/report?asOf=2024-03-10');
  expect(early.body.day0).toBe('2024-03-04');

  // The same infusion naming a ResearchStudy of another trial is concomitant medication: no Day 0.
  await send(study('st-f', 'NCT02812121'), patient('pf'), subject('rs-f', 'pf', 'S-REF-F', 'st-e'), infusion('ma-f', 'pf', 'st-f'));
  await evaluated();
  expect((await stack.api('/subjects/S-REF-F/report?asOf=2024-03-10')).body.day0).toBeNull();
});

test('a later ResearchStudy version changing its identifier re-resolves the enrollment', async () => {
  await send(study('st-g', 'IRB-LOCAL-7', '1'), patient('pg'), subject('rs-g', 'pg', 'S-REF-G', 'st-g'), bilirubin('ob-g', 'pg'));
  // Stored, but its only identifier names no configured trial: a review item, not a silent drop.
  expect(await stateOf('ResearchSubject', 'rs-g')).toEqual({ state: 'needs_review', last_error: 'unknown-study' });
  const items = await stack.api('/review-items?reason=unknown-study', USER_TOKENS.dm);
  expect(items.body.rows.some((i: any) => /IRB-LOCAL-7/.test(i.detail))).toBe(true);

  await send(study('st-g', 'NCT02812121', '2'));
  expect(await stateOf('ResearchSubject', 'rs-g')).toMatchObject({ state: 'mapped' });
  expect((await crf('S-REF-G')).enrollments).toEqual([expect.objectContaining({ trial: 'NCT02812121' })]);

  const before = await crf('S-REF-G');
  // NCT02812121 records bilirubin in umol/L (its CRF file).
  expect(before.values).toEqual([expect.objectContaining({ trial: 'NCT02812121', item: 'TBIL', value: 85.5, unit: 'umol/L' })]);

  await send(study('st-g', 'NCT05985863', '3'));
  await stack.settle();
  const after = await crf('S-REF-G');
  expect(after.enrollments).toEqual([expect.objectContaining({ trial: 'NCT05985863' })]);
  // The lab is mapped again under the trial the study names now; the old trial's value is superseded, not left active.
  expect(after.values).toEqual([expect.objectContaining({ ...TBIL, trial: 'NCT05985863' })]);
  const all = await stack.api('/subjects/S-REF-G/crf?includeSuperseded=true');
  expect(all.body.values.map((v: any) => [v.trial, v.status]).sort()).toEqual([['NCT02812121', 'superseded'], ['NCT05985863', 'auto']]);
});

test('the existing shapes still enroll: study.identifier and a reference whose id is the trial key', async () => {
  const byId = { ...subject('rs-h', 'ph', 'S-REF-H', 'NCT05985863') };
  const byIdentifier = { ...subject('rs-i', 'pi', 'S-REF-I', 'x'), study: { identifier: { value: 'NCT05985863' } } } as Resource;
  await send(patient('ph'), byId, patient('pi'), byIdentifier);
  expect((await crf('S-REF-H')).enrollments).toHaveLength(1);
  expect((await crf('S-REF-I')).enrollments).toHaveLength(1);
});

test('ResearchStudy is in the CapabilityStatement', async () => {
  const res = await stack.fhir('GET', '/metadata');
  expect(res.body.rest[0].resource.map((r: any) => r.type)).toContain('ResearchStudy');
});
