/**
 * One Observation coded with two mapped codings (creatinine 2160-0 and prothrombin time
 * 5902-2) in a unit neither converts from: one review item, and the subject keeps being
 * evaluated (its report and flags change when a corrected result arrives). Also, on real
 * PostgreSQL: flags that share a key are stored as one (the multi-row upsert never meets
 * one key twice).
 */
import { saveEvaluation } from '../../src/store/evaluation';
import { startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack('review-ambiguous');
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const SUBJECT = 'AMB-INT-1';
const put = (r: { resourceType: string; id: string }) => ({ resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } });
const lab = (version: string, codes: string[], unit: string, value: number) => ({
  resourceType: 'Observation', id: 'amb-int-o1', meta: { versionId: version }, status: version === '1' ? 'final' : 'corrected',
  code: { coding: codes.map((code) => ({ system: 'http://loinc.org', code })) }, subject: { reference: 'Patient/amb-int-p1' },
  effectiveDateTime: '2024-03-01T08:00:00+08:00', valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
});

interface Evaluated {
  report: { crf: Array<{ item: string }>; flags: Array<{ code: string }> };
  evaluatedAt: Date;
}

async function evaluated(after: Date | null, timeoutMs = 30_000): Promise<Evaluated> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await stack.db.query<{ report: Evaluated['report']; evaluated_at: Date }>('SELECT report, evaluated_at FROM subject_reports WHERE subject = $1', [SUBJECT]);
    const row = r.rows[0];
    if (row && (!after || new Date(row.evaluated_at) > after)) return { report: row.report, evaluatedAt: new Date(row.evaluated_at) };
    if (Date.now() > deadline) throw new Error(`subject not (re-)evaluated within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const openFlags = async () =>
  (await stack.db.query<{ code: string; evidence: string[] }>("SELECT code, evidence FROM flags WHERE subject = $1 AND status = 'open' ORDER BY id", [SUBJECT])).rows;

test('two mapped codings with an unconvertible unit: one review item, and the subject still re-evaluates', async () => {
  const first = await stack.fhir('POST', '', {
    resourceType: 'Bundle', type: 'transaction',
    entry: [
      put({ resourceType: 'Patient', id: 'amb-int-p1', identifier: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: 'MRN-AMB-1' }], birthDate: '1970-01-01', gender: 'male' } as never),
      put({ resourceType: 'ResearchSubject', id: 'amb-int-rs1', status: 'on-study', identifier: [{ system: 'urn:trialbridge:subject', value: SUBJECT }], individual: { reference: 'Patient/amb-int-p1' }, study: { identifier: { value: 'NCT05985863' } } } as never),
      put(lab('1', ['2160-0', '5902-2'], 'K/uL', 1.1)),
    ],
  });
  expect(first.status).toBe(200);
  await stack.settle();
  const items = await stack.db.query<{ reason: string; rule_id: string; status: string }>('SELECT reason, rule_id, status FROM review_items WHERE subject = $1', [SUBJECT]);
  expect(items.rows).toEqual([{ reason: 'ambiguous-code', rule_id: '', status: 'open' }]);
  const before = await evaluated(null);
  expect(before.report.crf.map((c) => c.item)).not.toContain('CREA');
  expect(await openFlags()).toContainEqual({ code: 'value-needs-review', evidence: ['Observation/amb-int-o1'] });

  // The lab corrects the result: creatinine only, in mg/dL.
  const second = await stack.fhir('PUT', '/Observation/amb-int-o1', lab('2', ['2160-0'], 'mg/dL', 1.3));
  expect(second.status).toBeLessThan(300);
  await stack.settle();
  const after = await evaluated(before.evaluatedAt);
  expect(after.report.crf.map((c) => c.item)).toContain('CREA');
  expect((await openFlags()).map((f) => f.code)).not.toContain('value-needs-review');
  const resolved = await stack.db.query("SELECT 1 FROM flags WHERE subject = $1 AND code = 'value-needs-review' AND status = 'resolved'", [SUBJECT]);
  expect(resolved.rows).toHaveLength(1);
  expect(await stack.evaluateQueue.queue.getJobCounts('failed')).toEqual({ failed: 0 });
}, 90_000);

test('flags sharing a key are stored as one open flag (real PostgreSQL accepts the upsert)', async () => {
  const k = { trial: 'NCT05985863', subject: 'DUP-KEY-1', site: 'site-a' };
  const flag = (message: string) => ({ code: 'value-needs-review', severity: 'info', visit: null, criterion: null, message, evidence: ['Observation/dup-1'] });
  const res = await saveEvaluation(stack.db, k, { note: 'test' }, [], [flag('unit-not-convertible: a'), flag('unit-not-convertible: b')]);
  expect(res).toEqual({ raised: 1, resolved: 0 });
  const again = await saveEvaluation(stack.db, k, { note: 'test' }, [], [flag('unit-not-convertible: a'), flag('unit-not-convertible: b')]);
  expect(again).toEqual({ raised: 0, resolved: 0 });
  const rows = await stack.db.query<{ message: string }>("SELECT message FROM flags WHERE subject = $1 AND status = 'open'", [k.subject]);
  expect(rows.rows).toEqual([{ message: 'unit-not-convertible: a; unit-not-convertible: b' }]);
});
