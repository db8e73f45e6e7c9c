/**
 * Every published FHIR file in ../shared/fhir-samples goes through the real
 * pipeline without a crash: mapped where codes and units allow, otherwise a
 * review item with a precise reason.
 *
 * Every Patient found is first enrolled in NCT05985863 (ResearchSubject), so
 * the workers map the corpus's labs instead of parking them as unmatched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

const SAMPLES = path.resolve(__dirname, '../../../shared/fhir-samples');
const files = fs.existsSync(SAMPLES)
  ? (fs.readdirSync(SAMPLES, { recursive: true }) as string[]).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(SAMPLES, f))
  : [];

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack('corpus');
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

/** Patient ids as the receiver will store them (urn:uuid fullUrls become ids). */
function patientIds(json: any, out = new Set<string>()): Set<string> {
  if (json?.resourceType === 'Patient' && json.id) out.add(json.id);
  if (json?.resourceType === 'Bundle') for (const e of json.entry ?? []) patientIds(e.resource, out);
  return out;
}

const SUPPORTED = new Set(['Observation', 'MedicationAdministration', 'Patient', 'ResearchSubject', 'Bundle']);

(files.length ? test : test.skip)(`the whole corpus (${files.length} files) goes through without a crash`, async () => {
  const docs = files.map((f) => ({ file: path.relative(SAMPLES, f), json: JSON.parse(fs.readFileSync(f, 'utf8')) }));
  // Enroll every patient of the corpus first.
  const patients = new Set<string>();
  for (const d of docs) patientIds(d.json, patients);
  patients.add('pat1'); // the HL7 MedicationAdministration examples' subject
  const enroll = await stack.fhir('POST', '', {
    resourceType: 'Bundle', type: 'batch',
    entry: [...patients].map((p, i) => ({
      resource: { resourceType: 'ResearchSubject', id: `corpus-rs-${i}`, status: 'on-study', identifier: [{ value: `CORPUS-${i}` }], study: { identifier: { value: 'NCT05985863' } }, individual: { reference: `Patient/${p}` } },
      request: { method: 'PUT', url: `ResearchSubject/corpus-rs-${i}` },
    })),
  });
  expect(enroll.status).toBe(200);

  const statuses: Record<string, number[]> = {};
  for (const d of docs) {
    const rt = d.json.resourceType;
    const res = rt === 'Bundle' ? await stack.fhir('POST', '', d.json) : await stack.fhir('POST', `/${rt}`, d.json);
    (statuses[d.file] ??= []).push(res.status);
    expect(res.status).toBeLessThan(500);
    if (res.status >= 400) {
      // Refusals must be precise OperationOutcomes: unsupported types, history Bundles that are not notifications,
      // and id-only/empty notifications from this push-only site (nothing to read them from).
      expect(res.body.resourceType).toBe('OperationOutcome');
      const code = res.body.issue[0].details.coding[0].code;
      expect(code).toMatch(/^(invalid-bundle|unsupported-resource-type|validation-failed|site-not-connected)$/);
      if (code === 'site-not-connected') expect(d.file).toMatch(/inferno.*(empty|id_only)/);
    } else if (SUPPORTED.has(rt)) {
      expect([200, 201]).toContain(res.status);
    }
  }
  await stack.settle(120_000);

  const states = await stack.db.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM inbound GROUP BY state');
  const byState = Object.fromEntries(states.rows.map((r) => [r.state, Number(r.n)]));
  expect(byState.received).toBeUndefined();
  expect(byState.failed).toBeUndefined();
  expect(byState.mapped).toBeGreaterThan(1000);

  // Every row needing review has at least one review item with a reason.
  const orphan = await stack.db.query(`SELECT i.id FROM inbound i WHERE i.state = 'needs_review' AND NOT EXISTS (SELECT 1 FROM review_items r WHERE r.inbound_id = i.id)`);
  expect(orphan.rows).toEqual([]);

  // Known shapes (shared/fhir-samples/README.md) land where they should.
  const crf = await stack.db.query<{ item: string; n: number }>("SELECT item, count(*)::int AS n FROM crf_values WHERE status = 'auto' GROUP BY item");
  const items = Object.fromEntries(crf.rows.map((r) => [r.item, Number(r.n)]));
  for (const item of ['TBIL', 'ALB', 'ALT', 'AST', 'ALP', 'CREA', 'NA', 'PLT', 'BUN', 'WEIGHT']) expect(items[item] ?? 0).toBeGreaterThan(0);

  const reasons = await stack.db.query<{ reason: string; detail: string }>('SELECT DISTINCT reason, detail FROM review_items');
  const detailOf = (reason: string) => reasons.rows.filter((r) => r.reason === reason).map((r) => r.detail).join('\n');
  // Synthea's platelet count with "K/uL" in the UCUM code field is not silently read as Kelvin per microlitre.
  expect(detailOf('invalid-unit') + detailOf('unit-not-convertible')).toMatch(/K\/uL/);

  const api = await stack.api('/review-items?limit=5', USER_TOKENS.dm);
  expect(api.status).toBe(200);
}, 300_000);
