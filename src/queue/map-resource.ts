/**
 * Queue `map-resource` (design.md habit 4: name, job data, options, enqueue
 * and processor together). A job carries inbound row ids only, never PHI
 * (habit 5). Its id is derived from the rows, so a redelivery is a no-op.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';

export const MAP_QUEUE = 'map-resource';

export interface MapJobData {
  readonly inboundIds: readonly number[];
  /** Correlates the job's logs with the HTTP request that stored the rows. */
  readonly traceId?: string;
}

/** Retry transient failures (database down, timeouts) with exponential backoff: 1 s, 2 s, 4 s ... about 4 min in all. */
export const MAP_ATTEMPTS = 9;
export const MAP_BACKOFF_MS = 1000;
/** Rows per job: big enough for multi-row SQL, small enough to spread a large Bundle over several workers. */
export const MAP_BATCH = 100;

export const MAP_JOB_OPTIONS: JobsOptions = {
  attempts: MAP_ATTEMPTS,
  backoff: { type: 'exponential', delay: MAP_BACKOFF_MS },
  // Completed jobs are evidence of nothing we do not keep in PostgreSQL; keep a few for operators.
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 10000 },
};

/**
 * Deterministic job id from the rows (no ':' and never all digits, as BullMQ
 * requires). `tag` distinguishes a deliberate re-map (enrollment arrived)
 * from the first mapping of the same rows.
 */
export function mapJobId(ids: readonly number[], tag = 'm'): string {
  const sorted = [...ids].sort((a, b) => a - b);
  return sorted.length === 1 ? `${tag}-${sorted[0]}` : `${tag}-${sorted[0]}-${sorted[sorted.length - 1]}-${sorted.length}`;
}

export interface MapQueue {
  enqueue(ids: readonly number[], traceId?: string, tag?: string): Promise<void>;
  readonly queue: Queue<MapJobData>;
}

export function createMapQueue(connection: Redis, prefix: string): MapQueue {
  const queue = new Queue<MapJobData>(MAP_QUEUE, { connection, prefix, defaultJobOptions: MAP_JOB_OPTIONS });
  return {
    queue,
    async enqueue(ids, traceId, tag = 'm') {
      if (!ids.length) return;
      const jobs = [];
      for (let i = 0; i < ids.length; i += MAP_BATCH) {
        const part = ids.slice(i, i + MAP_BATCH);
        jobs.push({ name: MAP_QUEUE, data: { inboundIds: part, traceId }, opts: { jobId: mapJobId(part, tag) } });
      }
      await queue.addBulk(jobs);
    },
  };
}
