/**
 * Queue `map-resource` (design.md habit 4: name, job data, options, enqueue
 * and processor together). A job carries inbound row ids only, never PHI
 * (habit 5). Its id is derived from the rows, so a redelivery is a no-op.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { coalesce } from '../util/coalesce';

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
  /**
   * Queues rows for mapping. Small requests arriving together (single-resource
   * POSTs) are coalesced for up to COALESCE_MS into one job of up to MAP_BATCH
   * rows: one BullMQ job and one database transaction per hundred resources
   * instead of per resource. The promise settles when the job is in Redis, so
   * an HTTP answer still means "stored and queued".
   */
  enqueue(ids: readonly number[], traceId?: string, tag?: string): Promise<void>;
  readonly queue: Queue<MapJobData>;
}

/** How long a small enqueue may wait for others to share its job. */
export const COALESCE_MS = 5;
/** A producer fails fast (design.md habit 10): the sender gets a 503 rather than a hanging request. */
export const ENQUEUE_TIMEOUT_MS = 3000;

/** BullMQ waits for a connection that may never come; the receiver must answer instead. */
async function addBulkFast(queue: Queue<MapJobData>, connection: Redis, jobs: Parameters<Queue<MapJobData>['addBulk']>[0]): Promise<void> {
  if (connection.status !== 'ready') throw new Error(`redis not ready (${connection.status})`);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      queue.addBulk(jobs),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`enqueue timed out after ${ENQUEUE_TIMEOUT_MS} ms`)), ENQUEUE_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function createMapQueue(connection: Redis, prefix: string): MapQueue {
  const queue = new Queue<MapJobData>(MAP_QUEUE, { connection, prefix, defaultJobOptions: MAP_JOB_OPTIONS });
  // Connection errors are reported by the connection's own listener (main.ts); without this BullMQ prints each one.
  queue.on('error', () => undefined);
  const toJobs = (ids: readonly number[], traceId: string | undefined, tag: string) => {
    const jobs = [];
    for (let i = 0; i < ids.length; i += MAP_BATCH) {
      const part = ids.slice(i, i + MAP_BATCH);
      jobs.push({ name: MAP_QUEUE, data: { inboundIds: part, traceId }, opts: { jobId: mapJobId(part, tag) } });
    }
    return jobs;
  };
  // One trace id per job: the first request's; the others are findable through their row ids.
  const grouped = coalesce<{ id: number; traceId?: string }, void>({
    maxItems: MAP_BATCH,
    maxWaitMs: COALESCE_MS,
    run: async (items) => {
      await addBulkFast(queue, connection, toJobs(items.map((i) => i.id), items[0].traceId, 'm'));
      return items.map(() => undefined);
    },
  });
  return {
    queue,
    async enqueue(ids, traceId, tag = 'm') {
      if (!ids.length) return;
      if (tag !== 'm') await addBulkFast(queue, connection, toJobs(ids, traceId, tag));
      else await grouped(ids.map((id) => ({ id, traceId })));
    },
  };
}
