/**
 * Jest globalSetup of the `integration` project.
 *
 * If REDIS_URL and DATABASE_URL are both set (as `.ci/run` does), the servers
 * they name are used as they are. Otherwise throwaway Redis + PostgreSQL are
 * started with scripts/services.sh (installing them with apt-get if missing)
 * and the missing variables are set here. globalSetup runs in Jest's parent
 * process before any test worker is spawned, so workers inherit them.
 * global-teardown.ts stops what was started here.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SERVICES_SCRIPT = path.resolve(__dirname, '../../scripts/services.sh');
/** Set (in this process and the workers) to the services dir when this setup started the servers. */
export const STARTED_DIR_VAR = 'TRIALBRIDGE_TEST_SERVICES_DIR';

/** The dir this process started, so teardown never stops servers it did not start. */
const started = globalThis as typeof globalThis & { __trialbridgeStartedServicesDir?: string };

/** The services dir started by globalSetup in this process, if any (for globalTeardown). */
export function takeStartedServicesDir(): string | undefined {
  const dir = started.__trialbridgeStartedServicesDir;
  started.__trialbridgeStartedServicesDir = undefined;
  return dir;
}

/** Reads the `export NAME=value` lines that scripts/services.sh writes to DIR/env. */
export function readEnvFile(file: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

/** Stops the servers of `dir` and removes it; never throws. */
export function stopServices(dir: string): void {
  try {
    execFileSync('bash', [SERVICES_SCRIPT, 'stop', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (e) {
    process.stderr.write(`global-teardown: stopping services in ${dir} failed: ${(e as Error).message}\n`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

export default function globalSetup(): void {
  if (process.env.REDIS_URL && process.env.DATABASE_URL) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trialbridge-test-services-'));
  try {
    execFileSync('bash', [SERVICES_SCRIPT, 'start', dir], {
      // No pipes: the servers run on after the script returns.
      stdio: ['ignore', 'inherit', 'inherit'],
      // If Jest dies without running globalTeardown, a watchdog stops the servers and removes dir.
      env: { ...process.env, TRIALBRIDGE_SERVICES_OWNER_PID: String(process.pid), TRIALBRIDGE_SERVICES_REMOVE_DIR: '1' },
    });
  } catch (e) {
    stopServices(dir);
    throw new Error(`integration globalSetup: could not start Redis + PostgreSQL with ${SERVICES_SCRIPT} (${(e as Error).message})`);
  }
  const vars = readEnvFile(path.join(dir, 'env'));
  for (const name of ['REDIS_URL', 'DATABASE_URL'] as const) {
    if (!vars[name]) throw new Error(`integration globalSetup: ${dir}/env has no ${name}`);
    if (!process.env[name]) process.env[name] = vars[name];
  }
  process.env[STARTED_DIR_VAR] = dir;
  started.__trialbridgeStartedServicesDir = dir;
}
