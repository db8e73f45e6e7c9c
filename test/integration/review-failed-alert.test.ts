/**
 * A job that fails permanently raises an operator alert: the
 * trialbridge_jobs_failed_total{queue} counter and one log line with the queue, the job
 * id and a reason stripped of the data the error quoted. Real server, Redis and PostgreSQL.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { boot, type Running } from '../../src/main';
import { metrics } from '../../src/metrics';
import { openDb } from '../../src/store/db';
import { freshSchema } from '../helpers/env';
import { testEnv } from '../helpers/stack';

const lines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l));
    done();
  },
});

let running: Running;
let schema: string;
beforeAll(async () => {
  schema = freshSchema('review-failed-alert');
  running = await boot(loadConfig(testEnv('review-failed-alert')), 'start', { schema, log: pino({ level: 'info' }, sink) });
}, 60_000);
afterAll(async () => {
  await running?.mapQueue.queue.obliterate({ force: true }).catch(() => undefined);
  await running?.stop();
  const db = await openDb({ databaseUrl: loadConfig(testEnv('x')).databaseUrl });
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => db.close());
});

const failedCount = async (queue: string) => (await metrics.jobsFailed.get()).values.find((v) => v.labels.queue === queue)?.value ?? 0;

test('a map job that cannot succeed: counter, one alert line with queue, job id and a PHI-free reason', async () => {
  const before = await failedCount('map-resource');
  // A row id that is not a number: PostgreSQL refuses it and quotes it in the error text.
  await running.mapQueue.queue.add('map-resource', { inboundIds: ['S-QX-0001-2024-03-04'] } as never, { jobId: 'alert-test-1', attempts: 2, backoff: { type: 'fixed', delay: 10 } });
  const deadline = Date.now() + 30_000;
  while ((await failedCount('map-resource')) === before) {
    if (Date.now() > deadline) throw new Error('no alert within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(await failedCount('map-resource')).toBe(before + 1);
  const alerts = lines.filter((l) => l.alert === 'job-failed');
  expect(alerts).toHaveLength(1);
  expect(alerts[0]).toMatchObject({ queue: 'map-resource', job: 'alert-test-1', attempts: 2, level: 50 });
  expect(String(alerts[0].reason)).toMatch(/bigint/);
  expect(JSON.stringify(alerts[0])).not.toContain('S-QX-0001');
  // The first attempt was retried, not alerted.
  expect(lines.filter((l) => l.msg === 'map job failed')).toHaveLength(2);
}, 60_000);
