/**
 * Boot and graceful shutdown only (design.md layout): config → logger → db →
 * migrations → mappings → redis → workers → http; reverse order on
 * SIGTERM/SIGINT (habit 10).
 */
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import { createApp } from './app';
import { ConfigError, DEFAULTS, type Config } from './config';
import { unknownAliasTrials, unknownPrescreenTrials } from './config/sites';
import { loadTrialPackages } from './protocol/package';
import { createEvaluateQueue, processEvaluateJob, type EvaluateJobData, type EvaluateQueue } from './queue/evaluate-subject';
import { createLogger, type Logger } from './logger';
import { applySiteCodeMaps, type MappingSet } from './mapping';
import type { MapQueue } from './queue/map-resource';
import { workerConnection } from './queue/connection';
import { startWorkers, type Workers } from './queue';
import type { Db } from './store/db';
import { closeRedis, openProducer, openStore } from './runtime';
import { createReceiver, initFhirValidator } from './ingest';
import { siteClients } from './connect/clients';
import { createSiteSyncQueue, type SiteSyncQueue } from './queue/site-sync';
import { createPrescreenQueue, type PrescreenQueue } from './queue/prescreen';

export type Role = 'serve' | 'worker' | 'start';

/** Longest any one shutdown step (HTTP, workers, queues, Redis, database) may take. */
export const STOP_STEP_TIMEOUT_MS = 10_000;

/** Resolves when `p` settles or after `ms`, calling `onTimeout` then; never rejects. */
export function bounded(p: Promise<unknown>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((r) => {
    timer = setTimeout(() => {
      onTimeout();
      r();
    }, ms);
    timer.unref();
  });
  return Promise.race([p.then(() => undefined, () => undefined), timeout]).finally(() => clearTimeout(timer));
}

export interface Running {
  readonly port: number;
  readonly db: Db;
  readonly log: Logger;
  readonly mapQueue: MapQueue;
  readonly evaluateQueue: EvaluateQueue;
  readonly siteQueue: SiteSyncQueue;
  /** Pre-screening of parked patients (README "Pre-screening and alerts"). */
  readonly prescreenQueue: PrescreenQueue;
  readonly workers: Workers | null;
  stop(): Promise<void>;
}

export async function boot(config: Config, role: Role, opts: { schema?: string; log?: Logger } = {}): Promise<Running> {
  const log = opts.log ?? createLogger(config.logLevel);
  // Load and check everything that can be wrong with files before touching servers (habit 2).
  // A trial is a package: its trial file and CRF file load and are cross-checked together (design.md).
  const packages = loadTrialPackages({ trialsDir: config.trialsDir, mappingsDir: config.mappingsDir });
  const mappings: MappingSet = applySiteCodeMaps(packages.mappings, config.sites);
  const trials = packages.trials;
  const aliasProblems = [...unknownAliasTrials(config.sites, trials.keys), ...unknownPrescreenTrials(config.sites, trials.keys)];
  if (aliasProblems.length) throw new ConfigError(aliasProblems);
  const timeZoneOf = (site: string) => config.sites.find((s) => s.id === site)?.timeZone ?? DEFAULTS.timeZone;
  const connected = config.sites.some((s) => s.fhir);
  // Workers validate what they fetch from site servers with the same validator as the receiver.
  if (role !== 'worker' || connected) initFhirValidator();
  const db = await openStore(config, log, { schema: opts.schema });
  log.info({ store: db.kind, trials: trials.keys, rules: mappings.ruleCount }, 'store, mappings and trials ready');

  // Boot does not wait for Redis: BullMQ queues commands, and the receiver stores first (design.md data flow).
  const { redis: producer, mapQueue } = await openProducer(config, log, { waitReady: false });
  producer.on('error', (e) => log.warn({ err: e.message }, 'redis (producer) error'));
  const evaluateQueue = createEvaluateQueue(producer, config.queuePrefix);
  const siteQueue = createSiteSyncQueue(producer, config.queuePrefix);
  const prescreenQueue = createPrescreenQueue(producer, config.queuePrefix);
  let workerConn: Redis | null = null;
  let workers: Workers | null = null;
  if (role !== 'serve') {
    workerConn = workerConnection(config.redisUrl);
    workerConn.on('error', (e) => log.warn({ err: e.message }, 'redis (worker) error'));
    workers = startWorkers({
      db, mappings, log, connection: workerConn, prefix: config.queuePrefix, concurrency: config.workerConcurrency, mapQueue, evaluateQueue, trials, timeZoneOf,
      studyAliasesOf: (site) => config.sites.find((s) => s.id === site)?.studyAliases ?? {},
      sweepAfterMs: config.sweepAfterMs, queues: config.workerQueues,
      prescreen: { queue: prescreenQueue, prescreenOf: (site) => config.sites.find((s) => s.id === site)?.prescreen ?? null },
      // The site-sync worker runs for push-only deployments too: its hourly purge applies the retention to
      // unenrolled patients' data, unmapped-code counts and rejected notifications wherever they came from.
      sites: {
        db, log, receiver: createReceiver({ db, mapQueue, log, sites: config.sites }), sites: config.sites, clientOf: siteClients(log), codes: mappings.watchedCodes(),
        retentionDays: config.unenrolledRetentionDays, queue: siteQueue,
        prescreen: { trials, mappings, retentionDays: config.unenrolledRetentionDays },
      },
      notify: { notify: config.notify, users: config.users, sites: config.sites, publicUrl: config.publicUrl },
    });
    if (config.workerQueues.includes('sites')) {
      // Redis may still be starting; the schedulers are set as soon as it answers (BullMQ queues the command).
      siteQueue.schedule(config.sites).catch((e) => log.warn({ err: (e as Error).message }, 'could not set the site poll schedules'));
    }
  }
  let server: Server | null = null;
  let port = 0;
  const closers: (() => void)[] = [];
  if (role !== 'worker') {
    // A person's change is shown re-evaluated in the same response (the worker does the same job later, idempotently).
    const evaluateNow = (k: EvaluateJobData) => processEvaluateJob({ db, trials, mappings, timeZoneOf, log }, k);
    const app = createApp({ config, log, db, redis: producer, mapQueue, trials, mappings, timeZoneOf, siteQueue, evaluateQueue, evaluateNow, onShutdown: (f) => closers.push(f) });
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.port, config.host, () => resolve(s));
      s.on('error', reject);
    });
    const addr = server.address();
    port = typeof addr === 'object' && addr ? addr.port : config.port;
    log.info({ port, host: config.host }, 'http listening');
  }
  let stopping: Promise<void> | null = null;
  // Every close is bounded (design.md habit 10): a Redis or database that stopped answering must not hold the process.
  const step = (what: string, p: Promise<unknown>) => bounded(p, STOP_STEP_TIMEOUT_MS, () => log.warn({ step: what, ms: STOP_STEP_TIMEOUT_MS }, 'shutdown step timed out; going on'));
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down');
      if (server) {
        const s = server;
        // Live-update streams first: server.close() waits for every open connection to end.
        for (const f of closers) f();
        await step('http', new Promise<void>((r) => s.close(() => r())));
        s.closeAllConnections();
      }
      if (workerConn && workerConn.status !== 'ready') workerConn.disconnect();
      if (workers) await step('workers', workers.close());
      // Closing a queue whose Redis never answered would wait forever; the connection is torn down below anyway.
      if (producer.status === 'ready') await step('queues', Promise.all([mapQueue.queue.close(), evaluateQueue.queue.close(), siteQueue.queue.close(), prescreenQueue.queue.close()]));
      await step('redis', closeRedis(producer));
      if (workerConn) await step('redis (worker)', closeRedis(workerConn));
      await step('database', db.close());
      log.info('stopped');
    })());
  return { port, db, log, mapQueue, evaluateQueue, siteQueue, prescreenQueue, workers, stop };
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
