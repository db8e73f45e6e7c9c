/**
 * The only place that constructs BullMQ Workers (design.md habit 4), plus the
 * sweeper that re-enqueues rows stored while Redis was unreachable.
 */
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger';
import type { MappingSet } from '../mapping';
import type { Db } from '../store/db';
import { staleReceived } from '../store/inbound';
import { MAP_QUEUE, type MapJobData, type MapQueue } from './map-resource';
import { processMapJob } from './map-processor';
import { EVALUATE_QUEUE, processEvaluateJob, type EvaluateJobData, type EvaluateQueue } from './evaluate-subject';
import type { TrialSet } from '../protocol/trials';
import { subjectsOfPatients } from '../store/subject-data';
import { metrics } from '../metrics';

export interface WorkerDeps {
  readonly db: Db;
  readonly mappings: MappingSet;
  readonly log: Logger;
  readonly connection: Redis;
  readonly prefix: string;
  readonly concurrency: number;
  readonly mapQueue: MapQueue;
  readonly evaluateQueue: EvaluateQueue;
  readonly trials: TrialSet;
  readonly timeZoneOf: (site: string) => string;
  readonly sweepAfterMs: number;
  /** Which queues this process consumes (TRIALBRIDGE_WORKER_QUEUES); evaluation can run in processes of its own. */
  readonly queues: readonly ('map' | 'evaluate')[];
}

/** Evaluations are heavier per job than mapping; a low concurrency keeps them from starving the map jobs (their latency is what senders see). */
export const EVALUATE_CONCURRENCY = 2;

export interface Workers {
  close(): Promise<void>;
  /** Runs one sweep now (tests and operators); returns the number of rows re-enqueued. */
  sweep(): Promise<number>;
}

/** How often the sweeper looks for rows left in `received`. */
export const SWEEP_INTERVAL_MS = 15_000;

export function startWorkers(deps: WorkerDeps): Workers {
  const runs = (q: 'map' | 'evaluate') => deps.queues.includes(q);
  const worker = new Worker<MapJobData>(
    MAP_QUEUE,
    async (job: Job<MapJobData>) => {
      const log = deps.log.child({ job: job.id, trace: job.data.traceId });
      const end = metrics.mapJobSeconds.startTimer();
      const res = await processMapJob({ db: deps.db, mappings: deps.mappings, log }, job.data.inboundIds);
      end();
      for (const [state, n] of Object.entries(res.states)) metrics.inboundProcessed.inc({ state }, n);
      if (res.released.length) {
        // A deliberate re-map: a distinct job id so it is not mistaken for a redelivery of the first mapping.
        await deps.mapQueue.enqueue(res.released, job.data.traceId, `r${job.attemptsMade}x${String(job.id).replace(/[^A-Za-z0-9-]/g, '')}`);
        log.info({ released: res.released.length }, 'released parked resources after enrollment');
      }
      const subjects = [];
      for (const [site, pids] of res.changed) subjects.push(...(await subjectsOfPatients(deps.db, site, [...pids])));
      await deps.evaluateQueue.enqueue(subjects);
      return res.states;
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: deps.concurrency, autorun: runs('map') },
  );
  const evaluator = new Worker<EvaluateJobData>(
    EVALUATE_QUEUE,
    async (job) => {
      const log = deps.log.child({ job: job.id });
      return processEvaluateJob({ db: deps.db, trials: deps.trials, mappings: deps.mappings, timeZoneOf: deps.timeZoneOf, log }, job.data);
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: EVALUATE_CONCURRENCY, autorun: runs('evaluate') },
  );
  evaluator.on('failed', (job, err) => deps.log.warn({ job: job?.id, attempts: job?.attemptsMade, err: err.message }, 'evaluate job failed'));
  evaluator.on('error', (err) => deps.log.error({ err: err.message }, 'evaluate worker error'));
  worker.on('failed', (job, err) => deps.log.warn({ job: job?.id, attempts: job?.attemptsMade, err: err.message }, 'map job failed'));
  worker.on('error', (err) => deps.log.error({ err: err.message }, 'worker error'));

  const sweep = async (): Promise<number> => {
    // Rows wait in `received` during a long backlog too; only when the queue is idle are they orphans
    // (stored while Redis was unreachable) rather than merely queued.
    const pending = await deps.mapQueue.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    if (Object.values(pending).some((n) => n > 0)) return 0;
    const ids = await staleReceived(deps.db, deps.sweepAfterMs, 10_000);
    if (ids.length) {
      // Processing is idempotent (rows no longer `received` are skipped), so a row whose first job is merely late costs nothing.
      await deps.mapQueue.enqueue(ids, undefined, 'sweep');
      deps.log.info({ rows: ids.length }, 'sweeper re-enqueued rows left in received');
    }
    return ids.length;
  };
  const timer = setInterval(() => sweep().catch((e) => deps.log.warn({ err: (e as Error).message }, 'sweep failed')), SWEEP_INTERVAL_MS);
  timer.unref();
  return {
    sweep,
    async close() {
      clearInterval(timer);
      await worker.close();
      await evaluator.close();
    },
  };
}
