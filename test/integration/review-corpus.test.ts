/**
 * Review items that mean something, on the public sample corpus (../shared/fhir-samples):
 * with every patient enrolled, the Synthea and US Core Observations raise no review item
 * for a vital sign and no `no-rule` item at all; the codes no trial maps are counted per
 * site and code for IT (GET /api/unmapped-codes, admin only, and a metric), while the
 * platelet counts in `K/uL` that need a data manager still are review items.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

const SAMPLES = path.resolve(__dirname, '../../../shared/fhir-samples');
const DIRS = ['smart-on-fhir_generated-sample-data/R4/SYNTHEA', 'hl7-us-core'];
const files = DIRS.flatMap((d) => {
  const dir = path.join(SAMPLES, d);
  return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(dir, f)) : [];
});

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack('review-corpus');
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

/** Patient ids as stored, and every subject reference (US Core examples name patients that are not in the corpus). */
function patientRefs(json: any, out = new Set<string>()): Set<string> {
  if (json?.resourceType === 'Patient' && json.id) out.add(json.id);
  const ref = json?.subject?.reference;
  if (typeof ref === 'string' && ref.startsWith('Patient/')) out.add(ref.slice('Patient/'.length));
  if (json?.resourceType === 'Bundle') for (const e of json.entry ?? []) patientRefs(e.resource, out);
  return out;
}

(files.length ? test : test.skip)(`Synthea and US Core samples (${files.length} files): no review item for a vital sign, unmapped codes counted`, async () => {
  const docs = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  const patients = new Set<string>();
  for (const d of docs) patientRefs(d, patients);
  const enroll = await stack.fhir('POST', '', {
    resourceType: 'Bundle', type: 'batch',
    entry: [...patients].map((p, i) => ({
      resource: { resourceType: 'ResearchSubject', id: `rc-rs-${i}`, status: 'on-study', identifier: [{ value: `RC-${i}` }], study: { identifier: { value: 'NCT05985863' } }, individual: { reference: `Patient/${p}` } },
      request: { method: 'PUT', url: `ResearchSubject/rc-rs-${i}` },
    })),
  });
  expect(enroll.status).toBe(200);
  for (const d of docs) {
    const res = d.resourceType === 'Bundle' ? await stack.fhir('POST', '', d) : await stack.fhir('POST', `/${d.resourceType}`, d);
    expect(res.status).toBeLessThan(500);
  }
  await stack.settle(180_000);

  const observations = await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM inbound WHERE resource_type = 'Observation' AND state <> 'unmatched'");
  expect(Number(observations.rows[0].n)).toBeGreaterThan(3000);
  const vital = await stack.db.query<{ reason: string; detail: string }>(
    `SELECT r.reason, r.detail FROM review_items r JOIN inbound i ON i.id = r.inbound_id
     WHERE i.body->'category' @> '[{"coding":[{"code":"vital-signs"}]}]'`,
  );
  expect(vital.rows).toEqual([]);
  const reasons = await stack.db.query<{ reason: string; n: number }>('SELECT reason, count(*)::int AS n FROM review_items GROUP BY reason ORDER BY reason');
  const byReason = Object.fromEntries(reasons.rows.map((r) => [r.reason, Number(r.n)]));
  expect(byReason['no-rule']).toBeUndefined();
  // What needs a person is still there, and is now most of what there is.
  const k = await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM review_items WHERE detail LIKE '%K/uL%'");
  expect(Number(k.rows[0].n)).toBeGreaterThan(0);
  expect(Object.values(byReason).reduce((a, b) => a + b, 0)).toBeLessThan(Number(observations.rows[0].n) / 20);

  const forbidden = await stack.api('/unmapped-codes', USER_TOKENS.dm);
  expect(forbidden.status).toBe(403);
  const unmapped = await stack.api('/unmapped-codes?limit=1000', USER_TOKENS.admin);
  expect(unmapped.status).toBe(200);
  const rows = unmapped.body.rows as Array<{ site: string; system: string; code: string; display: string | null; unit: string | null; count: number }>;
  const height = rows.find((r) => r.system === 'http://loinc.org' && r.code === '8302-2');
  expect(height).toMatchObject({ site: 'site-a', display: expect.stringMatching(/height/i), unit: 'cm' });
  expect(height!.count).toBeGreaterThan(20);
  expect(rows.map((r) => r.count)).toEqual([...rows.map((r) => r.count)].sort((a, b) => b - a));
  // Mapped codes, clinician answers and findings are never counted as unmapped.
  expect(rows.filter((r) => ['1975-2', '777-3', '29463-7'].includes(r.code) || r.system.startsWith('urn:trialbridge:'))).toEqual([]);
  const bad = await stack.api('/unmapped-codes?site=nowhere', USER_TOKENS.admin);
  expect(bad.status).toBe(400);
  expect(bad.body.issue[0].expression).toEqual(['site']);

  const metricsText = await (await fetch(`${stack.url}/metrics`)).text();
  expect(metricsText).toMatch(/trialbridge_unmapped_observations_total\{site="site-a"\} [1-9]\d*/);
}, 300_000);
