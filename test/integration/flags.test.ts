/**
 * Flags in the live path: raised once, resolved when the cause goes away,
 * raised again as a new row when it comes back (history kept).
 */
import { startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack('flags');
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const evaluated = () => stack.evaluated();

const albumin = (version: string, unit: string | null) => ({
  resourceType: 'Observation', id: 'fl-alb', meta: { versionId: version }, status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '1751-7' }] }, subject: { reference: 'Patient/fl1' },
  effectiveDateTime: '2024-03-01T08:00:00+08:00',
  valueQuantity: unit ? { value: 31, unit, system: 'http://unitsofmeasure.org', code: unit } : { value: 31 },
});

async function valueFlags() {
  const r = await stack.db.query<{ status: string }>("SELECT status FROM flags WHERE subject = 'FL-001' AND code = 'value-needs-review' ORDER BY id");
  return r.rows.map((x) => x.status);
}

test('value-needs-review: raised, resolved by a corrected version, raised again', async () => {
  await stack.fhir('POST', '', {
    resourceType: 'Bundle', type: 'batch',
    entry: [
      { resource: { resourceType: 'Patient', id: 'fl1', birthDate: '1970-01-01', gender: 'female' } },
      { resource: { resourceType: 'ResearchSubject', id: 'fl-rs', status: 'screening', identifier: [{ value: 'FL-001' }], period: { start: '2024-03-01' }, study: { identifier: { value: 'NCT05985863' } }, individual: { reference: 'Patient/fl1' } } },
      { resource: albumin('1', null) },
    ].map((e) => ({ ...e, request: { method: 'PUT', url: `${e.resource.resourceType}/${e.resource.id}` } })),
  });
  await evaluated();
  expect(await valueFlags()).toEqual(['open']);

  // A new version of a stored id is an update: 200 (FHIR R4 http.html#update).
  expect((await stack.fhir('PUT', '/Observation/fl-alb', albumin('2', 'g/L'))).status).toBe(200);
  await evaluated();
  expect(await valueFlags()).toEqual(['resolved']);
  const crf = await stack.api('/subjects/FL-001/crf');
  expect(crf.body.values.map((v: any) => [v.item, v.value, v.unit])).toEqual([['ALB', 31, 'g/L']]);

  await stack.fhir('PUT', '/Observation/fl-alb', albumin('3', null));
  await evaluated();
  expect(await valueFlags()).toEqual(['resolved', 'open']);

  // The eligibility flag is raised once however often the subject is re-evaluated.
  const elig = await stack.db.query("SELECT status FROM flags WHERE subject = 'FL-001' AND code = 'eligibility-needs-review'");
  expect(elig.rows).toEqual([{ status: 'open' }]);
  const api = await stack.api('/flags?subject=FL-001&status=open', USER_TOKENS.inv);
  expect(api.body.rows.map((f: any) => f.code).sort()).toEqual(['eligibility-needs-review', 'value-needs-review']);
  const report = await stack.api('/subjects/FL-001/report?asOf=2024-03-02', USER_TOKENS.inv);
  expect(report.status).toBe(200);
  expect(report.body).toMatchObject({ trial: 'NCT05985863', subject: 'FL-001', asOf: '2024-03-02', day0: null });
}, 90_000);
