/**
 * The audit trail on real PostgreSQL (21 CFR Part 11 §11.10(e): secure,
 * computer-generated, time-stamped audit trails that do not obscure previous
 * entries): the database itself refuses UPDATE, DELETE and TRUNCATE of
 * audit_log, whoever asks; the pipeline's own changes to CRF values (insert,
 * supersede by a newer source version) are written by the trigger as
 * `trialbridge` (role `system`) without any code remembering to.
 */
import { FIXTURES_DIR, listFixtures, sendBundle } from '../../scripts/fixtures-lib';
import { scopeSql, type Principal } from '../../src/http';
import { startStack, type TestStack, SITE_TOKENS } from '../helpers/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack('audit');
  const c = listFixtures(FIXTURES_DIR).find((x) => x.name === 'superseding-version')!;
  for (const input of c.inputs) {
    await sendBundle(stack.url, SITE_TOKENS['site-a'], input.body);
    await stack.settle();
  }
  await stack.evaluated();
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

test('it runs on PostgreSQL, not the embedded PGlite', () => {
  expect(stack.db.kind).toBe('pg');
});

test('automatic inserts and the supersede by a newer version are audited as trialbridge (system), with site-local time', async () => {
  const values = await stack.db.query<{ id: number; status: string; source_version: string }>(
    "SELECT id, status, source_version FROM crf_values WHERE subject = 'SV-001' ORDER BY id",
  );
  expect(values.rows.map((v) => [v.source_version, v.status])).toEqual([['1', 'superseded'], ['2', 'auto']]);
  const [v1, v2] = values.rows.map((v) => String(v.id));
  const rows = await stack.db.query<{ entity_id: string; action: string; actor: string; actor_role: string; old_value: unknown; new_value: unknown; at_local: string; field: string }>(
    "SELECT entity_id, action, actor, actor_role, old_value, new_value, at_local, field FROM audit_log WHERE entity = 'crf_value' AND subject = 'SV-001' ORDER BY id",
  );
  expect(rows.rows.map((r) => [r.entity_id, r.action, r.actor, r.actor_role])).toEqual([
    [v1, 'insert', 'trialbridge', 'system'],
    [v2, 'insert', 'trialbridge', 'system'],
    [v1, 'update', 'trialbridge', 'system'],
  ]);
  expect(rows.rows[2]).toMatchObject({ field: 'LB.TBIL', old_value: { value: 100, unit: 'umol/L', status: 'auto' }, new_value: { value: 100, unit: 'umol/L', status: 'superseded' } });
  expect(rows.rows[0].new_value).toEqual({ value: 100, unit: 'umol/L', status: 'auto' });
  for (const r of rows.rows) expect(r.at_local).toMatch(/\+08:00$/);
});

test('the database refuses UPDATE, DELETE and TRUNCATE of audit_log', async () => {
  const before = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
  expect(before.rows[0].n).toBeGreaterThan(0);
  for (const sql of [
    "UPDATE audit_log SET actor = 'mallory'",
    "UPDATE audit_log SET reason = 'rewritten' WHERE id = (SELECT min(id) FROM audit_log)",
    'DELETE FROM audit_log',
    'DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)',
    'TRUNCATE audit_log',
  ]) {
    await expect(stack.db.query(sql)).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/audit_log is append-only: (UPDATE|DELETE|TRUNCATE) refused/) });
  }
  const after = await stack.db.query<{ n: number; mallory: number }>("SELECT count(*)::int AS n, count(*) FILTER (WHERE actor = 'mallory')::int AS mallory FROM audit_log");
  expect(after.rows[0]).toEqual({ n: before.rows[0].n, mallory: 0 });
});

test('scopeSql limits audit rows to a grant even without a table alias', async () => {
  const siteB: Principal = { id: 'bea', name: 'bea', via: 'token', grants: [{ role: 'data-manager', trial: '*', site: 'site-b' }] };
  const siteA: Principal = { ...siteB, grants: [{ role: 'data-manager', trial: 'NCT02812121', site: 'site-a' }] };
  const count = async (p: Principal) => {
    const params: unknown[] = [];
    const r = await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE ${scopeSql(p, params)}`, params);
    return r.rows[0].n;
  };
  expect(await count(siteB)).toBe(0);
  expect(await count(siteA)).toBe(3);
});
