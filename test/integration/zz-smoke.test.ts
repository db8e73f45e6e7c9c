import { Redis } from 'ioredis';
import { Client } from 'pg';
import { Queue, Worker, QueueEvents } from 'bullmq';
import { freshSchema, testDatabaseUrl, testRedisUrl, uniquePrefix } from '../helpers/env';

test('redis + bullmq round trip', async () => {
  const url = testRedisUrl();
  process.stderr.write(`worker=${process.env.JEST_WORKER_ID} pid=${process.pid} ppid=${process.ppid} REDIS_URL=${url}\n`);
  const redis = new Redis(url);
  expect(await redis.ping()).toBe('PONG');
  expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
  const prefix = uniquePrefix('zz smoke:test/{x}');
  expect(prefix).toMatch(/^[A-Za-z0-9_-]+$/);
  const connection = { url };
  const q = new Queue('smoke', { prefix, connection });
  const events = new QueueEvents('smoke', { prefix, connection });
  await events.waitUntilReady();
  const w = new Worker('smoke', async (job) => job.data.n * 2, { prefix, connection });
  const job = await q.add('double', { n: 21 });
  expect(await job.waitUntilFinished(events, 10_000)).toBe(42);
  await w.close(); await events.close(); await q.obliterate({ force: true }); await q.close();
  redis.disconnect();
});

test('postgres with a fresh schema', async () => {
  const c = new Client({ connectionString: testDatabaseUrl() });
  await c.connect();
  const schema = freshSchema('ZZ Smoke test with a rather long name that needs truncating to fit');
  expect(schema.length).toBeLessThanOrEqual(63);
  expect(schema).toMatch(/^[a-z][a-z0-9_]*$/);
  await c.query(`create schema ${schema}`);
  await c.query(`create table ${schema}.t (x int)`);
  await c.query(`insert into ${schema}.t values (1)`);
  const r = await c.query(`select current_database() db, (select count(*)::int from ${schema}.t) n`);
  expect(r.rows[0]).toEqual({ db: 'trialbridge', n: 1 });
  await c.query(`drop schema ${schema} cascade`);
  await c.end();
});
