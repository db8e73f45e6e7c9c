/**
 * The one place that opens the store and the queue producers from config
 * (design.md layout): boot and every CLI command use it, so the database
 * schema, migrations and Redis readiness are handled the same way everywhere.
 */
import type { Redis } from 'ioredis';
import pino from 'pino';
import type { Config } from './config';
import type { Logger } from './logger';
import { producerConnection } from './queue/connection';
import { createMapQueue, type MapQueue } from './queue/map-resource';
import { openDb, type Db } from './store/db';
import { migrate } from './store/migrate';
import { syncSiteTimeZones } from './store/audit';

/** How long a command waits for Redis before saying it is unavailable. */
export const REDIS_READY_TIMEOUT_MS = 5_000;

/** Where a command's output goes: stdout for results, stderr for problems. */
export interface Out {
  log(s: string): void;
  error(s: string): void;
}

/** Logs go to stderr: stdout carries a command's result only. */
export function stderrLogger(level: string): Logger {
  return pino({ name: 'trialbridge', level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

/**
 * Opens the database named by config (`TRIALBRIDGE_DB_SCHEMA` included) and
 * applies the migrations. Throws an Error saying the database is unavailable.
 */
export async function openStore(config: Config, log: Logger, opts: { schema?: string; onApplied?: (names: readonly string[]) => void } = {}): Promise<Db> {
  let db: Db;
  try {
    db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, schema: opts.schema ?? config.dbSchema ?? undefined });
  } catch (e) {
    throw new Error(`database unavailable (${(e as Error).message})`);
  }
  try {
    const applied = await migrate(db);
    if (applied.length) log.info({ applied }, 'migrations applied');
    opts.onApplied?.(applied);
    await syncSiteTimeZones(db, config.sites);
    return db;
  } catch (e) {
    await db.close().catch(() => undefined);
    throw new Error(`database unavailable (${(e as Error).message})`);
  }
}

function waitRedisReady(r: Redis, ms: number): Promise<void> {
  if (r.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let last = '';
    const onError = (e: Error) => (last = e.message);
    const done = (err?: Error) => {
      clearTimeout(timer);
      r.off('ready', onReady);
      r.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const timer = setTimeout(() => done(new Error(`not reachable after ${ms} ms${last ? ` (${last})` : ''}`)), ms);
    r.on('ready', onReady);
    r.on('error', onError);
  });
}

/** A producer connection to Redis with the map-resource queue on it. */
export interface Producer {
  readonly redis: Redis;
  readonly mapQueue: MapQueue;
  /** Closes the queue and the connection; never throws, never waits on an unreachable Redis. */
  close(): Promise<void>;
}

/** Closes a producer connection without waiting on a Redis that does not answer. */
export async function closeRedis(r: Redis): Promise<void> {
  if (r.status !== 'ready') r.disconnect();
  await r.quit().catch(() => undefined);
}

/** Opens Redis and waits until it answers (`waitReady`, the CLI's fail-fast) or not (boot: BullMQ queues commands). */
export async function openProducer(config: Config, log: Logger, opts: { waitReady?: boolean } = {}): Promise<Producer> {
  const redis = producerConnection(config.redisUrl);
  redis.on('error', (e) => log.debug({ err: e.message }, 'redis (producer) error'));
  const mapQueue = createMapQueue(redis, config.queuePrefix);
  const close = async () => {
    if (redis.status === 'ready') await mapQueue.queue.close().catch(() => undefined);
    await closeRedis(redis);
  };
  if (opts.waitReady ?? true) {
    try {
      await waitRedisReady(redis, REDIS_READY_TIMEOUT_MS);
    } catch (e) {
      await close();
      throw new Error(`Redis ${(e as Error).message}`);
    }
  }
  return { redis, mapQueue, close };
}

/** What a command that stores resources needs: PostgreSQL (migrated) and the map-resource queue. */
export interface StoreTarget {
  readonly db: Db;
  readonly mapQueue: MapQueue;
  /** Closes the queue, Redis and the database; never throws. */
  close(): Promise<void>;
}

/**
 * Opens the database and Redis before anything is read, so an unavailable
 * server fails fast with nothing stored. Throws an Error whose message says
 * which server is unavailable.
 */
export async function openStoreTarget(config: Config, log: Logger): Promise<StoreTarget> {
  const db = await openStore(config, log);
  let producer: Producer;
  try {
    producer = await openProducer(config, log);
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
  return {
    db,
    mapQueue: producer.mapQueue,
    close: async () => {
      await producer.close();
      await db.close().catch(() => undefined);
    },
  };
}

/** openStoreTarget, or null after telling the operator why (`{prefix}{reason}; {consequence}`). */
export async function openTargetOrSay(config: Config, log: Logger, out: Out, prefix: string, consequence: string): Promise<StoreTarget | null> {
  try {
    return await openStoreTarget(config, log);
  } catch (e) {
    out.error(`${prefix}${(e as Error).message}; ${consequence}`);
    return null;
  }
}

/** SIGINT/SIGTERM abort the returned controller (work stops cleanly); a second signal exits. `release` removes the handlers. */
export function abortOnSignals(): { abort: AbortController; release(): void } {
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { abort, release: () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); } };
}
