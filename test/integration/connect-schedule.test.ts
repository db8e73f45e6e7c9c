/**
 * The poll schedule: a BullMQ job scheduler polls each site by
 * itself, and one sync per site runs at a time across all worker processes
 * (here two), however many syncs are asked for meanwhile.
 */
import { startEhrServer, type EhrServer } from '../helpers/ehr-server';
import { startStack, type TestStack } from '../helpers/stack';
import { bilirubin, patient, researchSubject, sitesEnv, waitFor } from '../helpers/connect';
import { boot, type Running } from '../../src/main';
import { createLogger } from '../../src/logger';

jest.setTimeout(60_000);

let ehr: EhrServer;
let stack: TestStack;
let second: Running;
let p1: string;

beforeAll(async () => {
  ehr = await startEhrServer();
  stack = await startStack('connect-schedule', {
    TRIALBRIDGE_SITES: sitesEnv({ baseUrl: ehr.baseUrl, modes: ['poll'], pollIntervalMs: 1000, pageSize: 50 }),
  });
  // A second worker process on the same database and queues.
  second = await boot(stack.config, 'worker', { schema: stack.schema, log: createLogger('silent') });
  p1 = (await ehr.create(patient('MRN-S1'))).id;
  await ehr.create(researchSubject(p1, 'S-0401'));
});

afterAll(async () => {
  await second?.stop();
  await stack?.stop();
  await ehr?.close();
});

const stored = async (day: number) =>
  (await stack.db.query(`SELECT 1 FROM inbound WHERE site = 'site-a' AND state = 'mapped' AND body->>'effectiveDateTime' LIKE $1`, [`2024-03-${String(day).padStart(2, '0')}%`])).rows.length > 0;

it('polls on its own schedule: a new lab on the EHR arrives without anyone asking', async () => {
  await ehr.create(bilirubin(p1, 1, 21));
  await waitFor('scheduled poll stored the lab', () => stored(1), 30_000);
  const later = await ehr.create(bilirubin(p1, 2, 22));
  await waitFor('next scheduled poll stored the second lab', () => stored(2), 30_000);
  expect(later.id).toBeDefined();
});

it('runs one sync per site at a time across workers, and collapses a burst of requests', async () => {
  await new Promise((r) => setTimeout(r, 1500)); // let any sync in flight finish
  ehr.delayMs = 150;
  const from = ehr.requests.length;
  await Promise.all(Array.from({ length: 10 }, () => stack.siteQueue.requestSync('site-a', 'burst')));
  await Promise.all(Array.from({ length: 10 }, () => second.siteQueue.requestSync('site-a', 'burst')));
  // 20 requests collapse into the running sync plus at most one waiting (deduplication keepLastIfActive).
  const pending = await stack.siteQueue.queue.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
  expect(pending.filter((j) => j.name === 'sync').length).toBeLessThanOrEqual(2);
  await ehr.create(bilirubin(p1, 3, 23));
  await waitFor('lab of the burst stored', () => stored(3), 30_000);
  await new Promise((r) => setTimeout(r, 2000));
  ehr.delayMs = 0;
  const reqs = ehr.requests.slice(from).filter((r) => r.path.startsWith('/fhir/'));
  // Requests of one sync are sequential and each takes 150 ms: two syncs at once would put two within 150 ms.
  const gaps = reqs.slice(1).map((r, i) => r.at - reqs[i].at);
  expect(Math.min(...gaps)).toBeGreaterThanOrEqual(140);
});
