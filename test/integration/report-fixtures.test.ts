/**
 * Protocol fixtures, live: each case is sent over HTTP as its own site (in the
 * case's time zone), mapped by the workers, evaluated by the evaluate-subject
 * job, and GET /api/subjects/{s}/report?asOf= must match report.json; the
 * stored evaluation must exist.
 */
import { sha256Hex } from '../../src/http';
import { diffFragment, listFixtures, sendBundle } from '../../scripts/fixtures-lib';
import { startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

const cases = listFixtures().flatMap((c) => (c.report ? [{ ...c, report: c.report }] : []));
const token = (name: string) => `report-token-${name}`;
const siteOf = (name: string) => `rp-${name}`.slice(0, 64);
let stack: TestStack;

beforeAll(async () => {
  const sites = cases.map((c) => ({ id: siteOf(c.name), tokenSha256: sha256Hex(token(c.name)), timeZone: c.report.timeZone }));
  stack = await startStack('report-fixtures', { TRIALBRIDGE_SITES: JSON.stringify(sites) });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

async function evaluationsSettled(): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const c = await stack.evaluateQueue.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    if (Object.values(c).every((n) => n === 0)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('evaluate-subject jobs did not finish');
}

describe.each(cases.map((c) => [c.name, c] as const))('live %s', (name, c) => {
  test(c.report.description, async () => {
    for (const input of c.inputs) {
      await sendBundle(stack.url, token(name), input.body);
      await stack.settle();
    }
    await evaluationsSettled();
    for (const [subject, fragment] of Object.entries(c.report.subjects)) {
      const res = await stack.api(`/subjects/${encodeURIComponent(subject)}/report?asOf=${c.report.asOf}&trial=${c.report.trial}`, USER_TOKENS.inv);
      expect(res.status).toBe(200);
      expect(diffFragment(res.body, fragment)).toEqual([]);
      const stored = await stack.db.query('SELECT 1 FROM subject_reports WHERE trial = $1 AND subject = $2 AND site = $3', [c.report.trial, subject, siteOf(name)]);
      expect(stored.rows).toHaveLength(1);
    }
  }, 60_000);
});
