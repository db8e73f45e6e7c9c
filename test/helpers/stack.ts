/**
 * Boots the real stack in-process for an integration test: real PostgreSQL
 * (a fresh schema per test file), real Redis (a unique queue prefix per file),
 * the HTTP receiver on an ephemeral loopback port and the workers.
 */
import { sha256Hex } from '../../src/http';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import { boot, type Running } from '../../src/main';
import { openDb } from '../../src/store/db';
import { freshSchema, testDatabaseUrl, testRedisUrl, uniquePrefix } from './env';

export const SITE_TOKENS = { 'site-a': 'token-site-a-0123456789', 'site-b': 'token-site-b-0123456789' } as const;
export const USER_TOKENS = { admin: 'token-admin-0123456789', dm: 'token-dm-0123456789', inv: 'token-inv-0123456789' } as const;

export interface TestStack extends Running {
  readonly url: string;
  readonly config: Config;
  readonly schema: string;
  /** fetch with a site token and FHIR JSON. */
  fhir(method: string, path: string, body?: unknown, token?: string, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** fetch /api with a user token. */
  api(path: string, token?: string): Promise<{ status: number; body: any }>;
  /** Polls until every inbound row has left `received` (or times out with the states seen). */
  settle(timeoutMs?: number): Promise<void>;
  /** settle(), then polls until the evaluate-subject queue is empty (every subject re-evaluated). */
  evaluated(timeoutMs?: number): Promise<void>;
}

export function testEnv(name: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: testDatabaseUrl(),
    REDIS_URL: testRedisUrl(),
    TRIALBRIDGE_QUEUE_PREFIX: uniquePrefix(name),
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    TRIALBRIDGE_WORKER_CONCURRENCY: '4',
    TRIALBRIDGE_SITES: JSON.stringify(Object.entries(SITE_TOKENS).map(([id, t]) => ({ id, tokenSha256: sha256Hex(t), timeZone: 'Asia/Shanghai' }))),
    TRIALBRIDGE_USERS: JSON.stringify([
      { id: 'ada', role: 'admin', tokenSha256: sha256Hex(USER_TOKENS.admin) },
      { id: 'dora', role: 'data-manager', tokenSha256: sha256Hex(USER_TOKENS.dm) },
      { id: 'ivan', role: 'investigator', tokenSha256: sha256Hex(USER_TOKENS.inv) },
    ]),
    ...extra,
  };
}

export async function startStack(name: string, extra: Record<string, string> = {}, role: 'start' | 'serve' = 'start', opts: { schema?: string; keepSchema?: boolean } = {}): Promise<TestStack> {
  const config = loadConfig(testEnv(name, extra));
  const schema = opts.schema ?? freshSchema(name);
  const running = await boot(config, role, { schema, log: createLogger(config.logLevel) });
  const url = `http://127.0.0.1:${running.port}`;
  const fhir: TestStack['fhir'] = async (method, path, body, token = SITE_TOKENS['site-a'], headers = {}) => {
    const res = await fetch(`${url}/fhir${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };
  const api: TestStack['api'] = async (path, token = USER_TOKENS.dm) => {
    const res = await fetch(`${url}/api${path}`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const settle: TestStack['settle'] = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await running.db.query<{ n: number }>("SELECT count(*)::int AS n FROM inbound WHERE state = 'received'");
      if (Number(r.rows[0].n) === 0) {
        const w = await running.mapQueue.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        if (Object.values(w).every((n) => n === 0)) return;
      }
      if (Date.now() > deadline) throw new Error(`inbound rows still in received after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const evaluated: TestStack['evaluated'] = async (timeoutMs = 30_000) => {
    await settle(timeoutMs);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const c = await running.evaluateQueue.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(c).every((n) => n === 0)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('evaluations did not finish');
  };
  const stop = async () => {
    // Clean up after ourselves: the queue keys of this prefix and the schema of this file.
    if (config.redisUrl === testRedisUrl()) await running.mapQueue.queue.obliterate({ force: true }).catch(() => undefined);
    await running.stop();
    if (opts.keepSchema) return;
    const db = await openDb({ databaseUrl: config.databaseUrl });
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => db.close());
  };
  return { ...running, stop, url, config, schema, fhir, api, settle, evaluated };
}
