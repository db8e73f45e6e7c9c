/**
 * The `trialbridge` command as an operator runs it: config errors name each bad
 * variable, `migrate` works on the embedded store (PGlite, persisted), and
 * `start` serves until SIGTERM, then stops cleanly.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../src/store/db';
import { testDatabaseUrl } from '../helpers/env';
import { testEnv } from '../helpers/stack';

const BIN = path.resolve(__dirname, '../../bin/trialbridge');
const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };

/** Spawns `trialbridge start` and waits until /readyz answers as `up` wants (exits early with the output on failure). */
async function spawnStart(env: NodeJS.ProcessEnv, up: (status: number) => boolean) {
  const child = spawn(BIN, ['start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${env.PORT}/readyz`).then((r) => r.status, () => 0);
    if (up(status)) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`not ready: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, exited, output: () => out };
}

async function dropSchema(schema: string): Promise<void> {
  const db = await openDb({ databaseUrl: testDatabaseUrl() });
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => db.close());
}

test('bad configuration: exit 1 and every bad variable named', () => {
  const r = spawnSync(BIN, ['serve'], { env: { ...baseEnv, PORT: 'x', TRIALBRIDGE_SITES: '[{"id":"a"}]' }, encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('PORT');
  expect(r.stderr).toContain('REDIS_URL');
  expect(r.stderr).toContain('TRIALBRIDGE_SITES[0].tokenSha256');
});

test('migrate on the embedded store applies once and persists', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-pglite-'));
  try {
    const env = { ...baseEnv, TRIALBRIDGE_DATA_DIR: dir };
    const first = spawnSync(BIN, ['migrate'], { env, encoding: 'utf8' });
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/applied: 001_init, 002_/);
    const second = spawnSync(BIN, ['migrate'], { env, encoding: 'utf8' });
    expect(second.stdout.trim()).toBe('database is up to date');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test('migrate honours TRIALBRIDGE_DB_SCHEMA: the tables land in that schema', async () => {
  const schema = `tbtest_migrate_${process.pid}`;
  const env = { ...baseEnv, DATABASE_URL: testDatabaseUrl(), TRIALBRIDGE_DB_SCHEMA: schema };
  const r = spawnSync(BIN, ['migrate'], { env, encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/applied: 001_init/);
  const db = await openDb({ databaseUrl: testDatabaseUrl() });
  try {
    const t = await db.query<{ schema: string }>("SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 'inbound'");
    expect(t.rows.map((x) => x.schema)).toContain(schema);
    await db.query(`DROP SCHEMA ${schema} CASCADE`);
  } finally {
    await db.close();
  }
}, 60_000);

test('validate-mappings passes on the shipped rules and hash-token prints a digest', () => {
  const v = spawnSync(BIN, ['validate-mappings'], { env: baseEnv, encoding: 'utf8' });
  expect(v.status).toBe(0);
  const h = spawnSync(BIN, ['hash-token', 'abc'], { env: baseEnv, encoding: 'utf8' });
  expect(h.stdout.trim()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('start serves, and SIGTERM stops it cleanly with exit 0', async () => {
  const env = { ...baseEnv, ...testEnv('cli'), PORT: String(42000 + Math.floor(Math.random() * 1000)), TRIALBRIDGE_DB_SCHEMA: `tbtest_cli_${process.pid}`, LOG_LEVEL: 'info' };
  const { child, exited, output } = await spawnStart(env, (status) => status === 200);
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(output()).toContain('"msg":"stopped"');
  await dropSchema(env.TRIALBRIDGE_DB_SCHEMA);
}, 60_000);

test('SIGTERM while Redis is unreachable: the stop is bounded and the process exits 0', async () => {
  // Port 1 on loopback: nothing listens there, so workers and queues never get an answer.
  const env = { ...baseEnv, ...testEnv('cli-stop'), REDIS_URL: 'redis://127.0.0.1:1', PORT: String(43000 + Math.floor(Math.random() * 1000)), TRIALBRIDGE_DB_SCHEMA: `tbtest_clistop_${process.pid}` };
  // /readyz answers (503: Redis unavailable) once the HTTP server listens.
  const { child, exited } = await spawnStart(env, (status) => status !== 0);
  child.kill('SIGTERM');
  const outcome = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 45_000).unref())]);
  if (outcome === 'still running') child.kill('SIGKILL');
  // Far above STOP_STEP_TIMEOUT_MS times the steps; an unbounded stop waits for Redis for as long as it is down.
  expect(outcome).toBe(0);
  await dropSchema(env.TRIALBRIDGE_DB_SCHEMA);
}, 90_000);
