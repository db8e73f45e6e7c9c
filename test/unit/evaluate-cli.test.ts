/** `trialbridge evaluate` as an operator runs it: reports on stdout, precise errors and exit codes. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = path.resolve(__dirname, '../../bin/trialbridge');
const FIXTURES = path.resolve(__dirname, '../../fixtures');
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
const run = (...args: string[]) => spawnSync(BIN, ['evaluate', ...args], { env, encoding: 'utf8' });

test('prints one report per subject of the trial in the Bundle', () => {
  const r = run('--trial', 'NCT05985863', '--as-of', '2024-03-05', '--time-zone', 'Asia/Shanghai', path.join(FIXTURES, 'nct05985863-screening/input.json'));
  expect(r.status).toBe(0);
  const reports = JSON.parse(r.stdout);
  expect(reports).toHaveLength(1);
  expect(reports[0]).toMatchObject({ trial: 'NCT05985863', subject: 'S-0001', asOf: '2024-03-05', day0: null });
  const byId = Object.fromEntries(reports[0].eligibility.criteria.map((c: any) => [c.id, c.verdict]));
  // 85.5 umol/L = 5.0 mg/dL meets APASL jaundice; PTA 39 % < 40 meets coagulopathy (clinical-reference §1.1).
  expect(byId).toMatchObject({ I1: 'met', I2a: 'met', I2b: 'met', I2c: 'unknown' });
  expect(reports[0].eligibility.overall).toBe('needs-review');
  expect(reports[0].crf.filter((c: any) => c.visit === 'SCR').map((c: any) => c.item).sort()).toEqual(['ALB', 'BUN', 'CREA', 'INR', 'PLT', 'PTA', 'TBIL']);
});

test('unreadable input: exit 1 with the file and the reason', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tb-ev-')), 'broken.json');
  fs.writeFileSync(file, '{"resourceType": "Bundle", ');
  const r = run('--trial', 'NCT05985863', file);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('broken.json');
  expect(r.stderr).toMatch(/not valid JSON/);
  const missing = run('--trial', 'NCT05985863', '/nonexistent/file.json');
  expect(missing.status).toBe(1);
  expect(missing.stderr).toMatch(/cannot read input.*ENOENT/);
});

test('usage errors: unknown trial and missing arguments exit 2', () => {
  const unknown = run('--trial', 'NCT00000000', path.join(FIXTURES, 'nct05985863-screening/input.json'));
  expect(unknown.status).toBe(2);
  expect(unknown.stderr).toContain('known: ESLD-UCMSC-DOSE, NCT02812121, NCT03945487, NCT05985863');
  expect(run().status).toBe(2);
});
