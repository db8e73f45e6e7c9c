/**
 * A trial is a package (design.md): `trialbridge serve` refuses to start when a trial
 * file has no CRF file or a trial file is bad, listing every problem once as
 * `file#pointer: message` lines, with no stack trace (README "Mapping rules").
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_MAPPINGS_DIR } from '../../src/mapping';

const BIN = path.resolve(__dirname, '../../bin/trialbridge');

test('boot with a trial file missing its CRF file and a bad trial file: exit 1, every problem, no stack trace', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-package-'));
  try {
    fs.cpSync(DEFAULT_MAPPINGS_DIR, dir, { recursive: true });
    fs.rmSync(path.join(dir, 'crf', 'NCT03945487.json'));
    const file = path.join(dir, 'trials', 'NCT02812121.json');
    const trial = JSON.parse(fs.readFileSync(file, 'utf8'));
    trial.defaults.meld = { unrecordedDialysis: 'perhaps' };
    fs.writeFileSync(file, JSON.stringify(trial));
    const env = {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root',
      // Never reached: the files are checked before any server is touched.
      REDIS_URL: 'redis://127.0.0.1:1', TRIALBRIDGE_DATA_DIR: path.join(dir, 'pglite'),
      TRIALBRIDGE_MAPPINGS_DIR: dir, TRIALBRIDGE_TRIALS_DIR: path.join(dir, 'trials'),
    };
    const r = spawnSync(BIN, ['serve'], { env, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^2 problems in trial packages \(trial files and CRF mapping files\) under /);
    expect(lines.slice(1).map((l) => l.trim())).toEqual([
      'trials/NCT02812121.json#/defaults/meld/unrecordedDialysis: must be equal to one of the allowed values: "assume-none", "unknown"',
      "trials/NCT03945487.json#/key: trial 'NCT03945487' has no CRF rule file crf/NCT03945487.json: every enrollment in it would be refused as unknown-study",
    ]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(path.join(dir, 'pglite'))).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);
