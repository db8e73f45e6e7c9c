/**
 * Queue `site-sync`: everything the connector does towards a
 * site's server. Job data are a site id, a kind and at most a notification
 * row id: never PHI.
 *
 * - `sync`: fetch changes since the cursor (poll, catch-up, empty rest-hook).
 *   One per site at a time across all workers: BullMQ deduplication with
 *   keepLastIfActive keeps at most one running and one waiting per site, and a
 *   request made while one runs is not lost (it runs after).
 * - `resolve`: read the resources an id-only notification names.
 * - `tick`: fired by the per-site job scheduler; requests a sync.
 * - `purge`: fired hourly; purges resources of patients never enrolled.
 *
 * A site that is down or slow delays only its own jobs: errors move the job
 * to delayed (429/503 with Retry-After) or fail it into BullMQ's exponential
 * backoff; other sites' jobs keep running on the other worker slots.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SiteConfig } from '../config';

export const SITE_SYNC_QUEUE = 'site-sync';
/** How often purge runs (its retention is in days; an hour's slack is immaterial). */
export const PURGE_EVERY_MS = 60 * 60_000;
/** Subscription-only sites still get a safety sync this many poll intervals apart (a lost notification with no later one to reveal the gap). */
export const SUBSCRIPTION_SAFETY_FACTOR = 12;

// The job's shape belongs to the connector that processes it (connect/types.ts); the queue only carries it.
import type { SiteJobData, SyncRequests } from '../connect/types';
export type { SiteJobData, SiteJobKind } from '../connect/types';

export const SITE_JOB_OPTIONS: JobsOptions = {
  attempts: 10,
  // 2 s, 4 s, ... about 17 min at the 10th: a site down for a while is retried, and the next tick tries anyway.
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 10000 },
};

export interface SiteSyncQueue extends SyncRequests {
  readonly queue: Queue<SiteJobData>;
  /** Creates, updates or removes the per-site schedulers to match the configuration. */
  schedule(sites: readonly SiteConfig[]): Promise<void>;
}

const tickId = (site: string) => `tick-${site}`;

export function createSiteSyncQueue(connection: Redis, prefix: string): SiteSyncQueue {
  const queue = new Queue<SiteJobData>(SITE_SYNC_QUEUE, { connection, prefix, defaultJobOptions: SITE_JOB_OPTIONS });
  queue.on('error', () => undefined);
  return {
    queue,
    async requestSync(site, reason) {
      await queue.add('sync', { kind: 'sync', site, reason }, { deduplication: { id: `sync-${site}`, keepLastIfActive: true } });
    },
    async requestResolve(site, notificationId) {
      await queue.add('resolve', { kind: 'resolve', site, notificationId }, { jobId: `resolve-${notificationId}` });
    },
    async schedule(sites) {
      const wanted = new Map<string, number>();
      for (const s of sites) {
        if (!s.fhir) continue;
        const every = s.fhir.modes.includes('poll') ? s.fhir.pollIntervalMs : s.fhir.pollIntervalMs * SUBSCRIPTION_SAFETY_FACTOR;
        wanted.set(tickId(s.id), every);
        await queue.upsertJobScheduler(tickId(s.id), { every }, { name: 'tick', data: { kind: 'tick', site: s.id }, opts: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } });
      }
      await queue.upsertJobScheduler('purge', { every: PURGE_EVERY_MS }, { name: 'purge', data: { kind: 'purge', site: '*' }, opts: { attempts: 3 } });
      for (const js of await queue.getJobSchedulers()) {
        const key = js.key ?? js.id;
        if (key && key.startsWith('tick-') && !wanted.has(key)) await queue.removeJobScheduler(key);
      }
    },
  };
}
