/**
 * CRF local dates through the live path: GET /api/subjects/{s}/crf keeps each value's
 * instant (`effective`, UTC as stored) and adds the site-local date and wall-clock time
 * with the site's offset (TRIALBRIDGE_SITES timeZone), which is what the CRF records and
 * the day the subject report places the value on (README Read-back API; clinical-reference
 * §6 Supporting rules). Sent as fixtures/p-crf-local-dates.
 */
import path from 'node:path';
import { FIXTURES_DIR, listFixtures, sendBundle } from '../../scripts/fixtures-lib';
import { sha256Hex } from '../../src/http';
import { startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

const TOKEN = 'token-local-dates-0123456789';
let stack: TestStack;

beforeAll(async () => {
  const sites = [
    { id: 'ld-shanghai', tokenSha256: sha256Hex(TOKEN), timeZone: 'Asia/Shanghai' },
  ];
  stack = await startStack('crf-local-dates', { TRIALBRIDGE_SITES: JSON.stringify(sites) });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

test('a sample taken 2024-03-04 07:00 +08:00 sent as 23:00Z the day before: instant kept, local date 03-04 and time +08:00 added', async () => {
  const fixture = listFixtures(FIXTURES_DIR).find((c) => c.name === 'p-crf-local-dates');
  expect(fixture && path.basename(fixture.dir)).toBe('p-crf-local-dates');
  for (const input of fixture!.inputs) await sendBundle(stack.url, TOKEN, input.body);
  await stack.settle();
  const res = await stack.api('/subjects/p-crf-local-dates-a/crf', USER_TOKENS.dm);
  expect(res.status).toBe(200);
  const byItem = new Map((res.body.values as { item: string }[]).map((v) => [v.item, v]));
  expect(byItem.get('TBIL')).toMatchObject({
    value: 78.7, unit: 'umol/L', site: 'ld-shanghai',
    effective: '2024-03-03T23:00:00.000Z', localDate: '2024-03-04', localDateTime: '2024-03-04T07:00:00+08:00',
  });
  // Sent with its offset, the same instant reads the same.
  expect(byItem.get('INR')).toMatchObject({ effective: '2024-03-03T23:00:00.000Z', localDate: '2024-03-04', localDateTime: '2024-03-04T07:00:00+08:00' });
  const report = await stack.api('/subjects/p-crf-local-dates-a/report?asOf=2024-03-04', USER_TOKENS.inv);
  expect(report.status).toBe(200);
  expect(report.body.crf).toEqual(expect.arrayContaining([
    expect.objectContaining({ item: 'TBIL', visit: 'SCR', effective: '2024-03-03T23:00:00.000Z', localDate: '2024-03-04', localDateTime: '2024-03-04T07:00:00+08:00' }),
  ]));
}, 60_000);
