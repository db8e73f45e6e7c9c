/**
 * Boot and graceful shutdown only (design.md layout): config → logger → db →
 * migrations → mappings → redis → workers → http; reverse order on
 * SIGTERM/SIGINT (habit 10).
 */
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import { createApp } from './app';
import { DEFAULTS, type Config } from './config';
import { loadTrials } from './protocol/trials';
import { createEvaluateQueue, type EvaluateQueue } from './queue/evaluate-subject';
import { createLogger, type Logger } from './logger';
import { loadMappings, type MappingSet } from './mapping';
import { createMapQueue, type MapQueue } from './queue/map-resource';
import { producerConnection, workerConnection } from './queue/connection';
import { startWorkers, type Workers } from './queue';
import { openDb, type Db } from './store/db';
import { migrate } from './store/migrate';
import { initFhirValidator } from './ingest/validate';
import { createReceiver } from './ingest/receive';
import { siteClients } from './connect/clients';
import { createSiteSyncQueue, type SiteSyncQueue } from './queue/site-sync';

export type Role = 'serve' | 'worker' | 'start';

export interface Running {
  readonly port: number;
  readonly db: Db;
  readonly log: Logger;
  readonly mapQueue: MapQueue;
  readonly evaluateQueue: EvaluateQueue;
  readonly siteQueue: SiteSyncQueue;
  readonly workers: Workers | null;
  stop(): Promise<void>;
}

export async function boot(config: Config, role: Role, opts: { schema?: string; log?: Logger } = {}): Promise<Running> {
  const log = opts.log ?? createLogger(config.logLevel);
  // Load and check everything that can be wrong with files before touching servers (habit 2).
  const mappings: MappingSet = loadMappings(config.mappingsDir);
  const trials = loadTrials(config.trialsDir);
  const timeZoneOf = (site: string) => config.sites.find((s) => s.id === site)?.timeZone ?? DEFAULTS.timeZone;
  const connected = config.sites.some((s) => s.fhir);
  // Workers validate what they fetch from site servers (issue #5) with the same validator as the receiver.
  if (role !== 'worker' || connected) initFhirValidator();
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, schema: opts.schema ?? config.dbSchema ?? undefined });
  const applied = await migrate(db);
  if (applied.length) log.info({ applied }, 'migrations applied');
  log.info({ store: db.kind, trials: trials.keys, rules: mappings.ruleCount }, 'store, mappings and trials ready');

  const producer: Redis = producerConnection(config.redisUrl);
  producer.on('error', (e) => log.warn({ err: e.message }, 'redis (producer) error'));
  const mapQueue = createMapQueue(producer, config.queuePrefix);
  const evaluateQueue = createEvaluateQueue(producer, config.queuePrefix);
  const siteQueue = createSiteSyncQueue(producer, config.queuePrefix);
  let workerConn: Redis | null = null;
  let workers: Workers | null = null;
  if (role !== 'serve') {
    workerConn = workerConnection(config.redisUrl);
    workerConn.on('error', (e) => log.warn({ err: e.message }, 'redis (worker) error'));
    workers = startWorkers({
      db, mappings, log, connection: workerConn, prefix: config.queuePrefix, concurrency: config.workerConcurrency, mapQueue, evaluateQueue, trials, timeZoneOf,
      sweepAfterMs: config.sweepAfterMs, queues: config.workerQueues,
      sites: connected
        ? {
            db, log, receiver: createReceiver({ db, mapQueue, log }), sites: config.sites, clientOf: siteClients(log), codes: mappings.watchedCodes(),
            retentionDays: config.unenrolledRetentionDays, queue: siteQueue,
          }
        : null,
    });
    if (connected && config.workerQueues.includes('sites')) {
      // Redis may still be starting; the schedulers are set as soon as it answers (BullMQ queues the command).
      siteQueue.schedule(config.sites).catch((e) => log.warn({ err: (e as Error).message }, 'could not set the site poll schedules'));
    }
  }
  let server: Server | null = null;
  let port = 0;
  if (role !== 'worker') {
    const app = createApp({ config, log, db, redis: producer, mapQueue, trials, mappings, timeZoneOf, siteQueue });
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.port, config.host, () => resolve(s));
      s.on('error', reject);
    });
    const addr = server.address();
    port = typeof addr === 'object' && addr ? addr.port : config.port;
    log.info({ port, host: config.host }, 'http listening');
  }
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down');
      if (server) await new Promise<void>((r) => server!.close(() => r()));
      if (workers) await workers.close();
      // Closing a queue whose Redis never answered would wait forever; the connection is torn down below anyway.
      if (producer.status === 'ready') await Promise.all([mapQueue.queue.close(), evaluateQueue.queue.close(), siteQueue.queue.close()]);
      else producer.disconnect();
      await producer.quit().catch(() => undefined);
      if (workerConn) await workerConn.quit().catch(() => undefined);
      await db.close();
      log.info('stopped');
    })());
  return { port, db, log, mapQueue, evaluateQueue, siteQueue, workers, stop };
}

/** Stops on SIGTERM/SIGINT; a second signal forces exit. */
export function stopOnSignals(running: Running): void {
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++count > 1) process.exit(1);
    running.log.info({ sig }, 'signal received');
    running.stop().then(() => process.exit(0), (e) => {
      running.log.error({ err: (e as Error).message }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
