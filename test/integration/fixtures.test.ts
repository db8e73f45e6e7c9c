/**
 * The fixture runner: every fixtures/<case>/ becomes a test that goes through
 * the real path HTTP → PostgreSQL → BullMQ (Redis) → worker → PostgreSQL.
 * Each case sends as its own site, so cases cannot see each other's data.
 */
import { sha256Hex } from '../../src/http';
import { listFixtures, projectValue, sendBundle, type ExpectedValue } from '../../scripts/fixtures-lib';
import { startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

const cases = listFixtures().flatMap((c) => (c.expected ? [{ ...c, expected: c.expected }] : []));
const token = (name: string) => `fixture-token-${name}`;
const siteOf = (name: string) => `fx-${name}`.slice(0, 64);

let stack: TestStack;

beforeAll(async () => {
  const sites = cases.map((c) => ({ id: siteOf(c.name), tokenSha256: sha256Hex(token(c.name)), timeZone: 'Asia/Shanghai' }));
  stack = await startStack('fixtures', { TRIALBRIDGE_SITES: JSON.stringify(sites) });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const key = (v: ExpectedValue) => JSON.stringify([v.trial, v.form, v.item, v.effective ?? '', v.source ?? '']);
const byKey = (a: ExpectedValue, b: ExpectedValue) => key(a).localeCompare(key(b));

test('there is at least one fixture case', () => {
  expect(cases.length).toBeGreaterThan(0);
});

describe.each(cases.map((c) => [c.name, c] as const))('fixture %s', (name, c) => {
  test(c.expected.description ?? name, async () => {
    for (const input of c.inputs) {
      await sendBundle(stack.url, token(name), input.body);
      await stack.settle();
    }
    for (const [subject, expected] of Object.entries(c.expected.crf)) {
      const res = await stack.api(`/subjects/${encodeURIComponent(subject)}/crf`, USER_TOKENS.dm);
      expect(res.status).toBe(200);
      const mine = (res.body.values as any[]).filter((v) => v.site === siteOf(name));
      const actual = mine.map((v) => projectValue(v, expected[0] ?? ({} as ExpectedValue)));
      expect(actual.sort(byKey)).toEqual([...expected].sort(byKey));
    }
    if (c.expected.inbound) {
      const res = await stack.api(`/inbound?site=${encodeURIComponent(siteOf(name))}&limit=1000`, USER_TOKENS.admin);
      const counts: Record<string, number> = {};
      for (const r of res.body.rows) counts[r.state] = (counts[r.state] ?? 0) + 1;
      expect(counts).toEqual(c.expected.inbound);
    }
    if (c.expected.reviews) {
      const r = await stack.db.query<{ reason: string; subject: string }>(
        `SELECT ri.reason, ri.subject FROM review_items ri JOIN inbound i ON i.id = ri.inbound_id WHERE i.site = $1 ORDER BY ri.reason, ri.subject`,
        [siteOf(name)],
      );
      const got = r.rows.map((x) => ({ reason: x.reason, ...(x.subject ? { subject: x.subject } : {}) }));
      const want = [...c.expected.reviews].sort((a, b) => a.reason.localeCompare(b.reason) || (a.subject ?? '').localeCompare(b.subject ?? ''));
      expect(got).toEqual(want);
    }
  }, 60_000);
});
