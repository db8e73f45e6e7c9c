/**
 * The only place that constructs BullMQ Workers (design.md habit 4), plus the
 * sweeper that re-enqueues rows stored while Redis was unreachable.
 */
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger';
import type { MappingSet } from '../mapping';
import type { Db } from '../store/db';
import { staleReceived } from '../store/inbound';
import { MAP_QUEUE, type MapJobData, type MapQueue } from './map-resource';
import { processMapJob } from './map-processor';
import { EVALUATE_QUEUE, processEvaluateJob, type EvaluateJobData, type EvaluateQueue } from './evaluate-subject';
import type { TrialSet } from '../protocol/trials';
import type { StudyAliases } from '../protocol/study-ref';
import { subjectsOfPatients } from '../store/subject-data';
import { patientsInScope } from '../store/prescreen';
import { metrics } from '../metrics';
import type { WorkerQueue } from '../config';
import { processSiteJob, type SiteJobDeps } from '../connect/site-jobs';
import { SiteRequestError } from '../connect/types';
import { recordError } from '../store/sites';
import { SITE_SYNC_QUEUE, type SiteJobData } from './site-sync';
import { alertOnPermanentFailure } from './alert';
import { startNotifier, type Notifier } from './notify';
import type { NotifySettings } from '../notify';
import { siteClients } from '../connect/clients';
import { PRESCREEN_CONCURRENCY, PRESCREEN_QUEUE, processPrescreenJob, type PrescreenJobData, type PrescreenQueue } from './prescreen';
import type { PrescreenConfig } from '../config';

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
  /** A site's `studyAliases` (TRIALBRIDGE_SITES), for resolving enrollments. */
  readonly studyAliasesOf?: (site: string) => StudyAliases;
  readonly sweepAfterMs: number;
  /** Which queues this process consumes (TRIALBRIDGE_WORKER_QUEUES); evaluation can run in processes of its own. */
  readonly queues: readonly WorkerQueue[];
  /** The connector's jobs; null when no site has a FHIR server. */
  readonly sites: SiteJobDeps | null;
  /** Pre-screening of parked patients (README "Pre-screening and alerts"); absent = no site pre-screens. */
  readonly prescreen?: { readonly queue: PrescreenQueue; readonly prescreenOf: (site: string) => PrescreenConfig | null };
  /** Flag alerts (README "Pre-screening and alerts"); absent = none. */
  readonly notify?: NotifySettings;
}

/** Site jobs wait mostly on the site's server; several run at once so one slow site does not hold back the others. */
export const SITE_SYNC_CONCURRENCY = 4;

/** Evaluations are heavier per job than mapping; a low concurrency keeps them from starving the map jobs (their latency is what senders see). */
export const EVALUATE_CONCURRENCY = 2;

export interface Workers {
  close(): Promise<void>;
  /** Runs one sweep now (tests and operators); returns the number of rows re-enqueued. */
  sweep(): Promise<number>;
  /** The alert notifier; null when not configured. */
  readonly notifier: Notifier | null;
}

/** How often the sweeper looks for rows left in `received`. */
export const SWEEP_INTERVAL_MS = 15_000;

export function startWorkers(deps: WorkerDeps): Workers {
  const runs = (q: WorkerQueue) => deps.queues.includes(q);
  const worker = new Worker<MapJobData>(
    MAP_QUEUE,
    async (job: Job<MapJobData>) => {
      const log = deps.log.child({ job: job.id, trace: job.data.traceId });
      const end = metrics.mapJobSeconds.startTimer();
      const res = await processMapJob({ db: deps.db, mappings: deps.mappings, log, studyAliases: deps.studyAliasesOf }, job.data.inboundIds);
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
      if (deps.prescreen) {
        const ps = deps.prescreen;
        const patients = [...res.unenrolled].filter(([site]) => ps.prescreenOf(site)).flatMap(([site, ids]) => [...ids].map((patientId) => ({ site, patientId })));
        await ps.queue.enqueue(patients);
      }
      // A new or changed enrollment may widen or narrow what a site is asked for.
      if (deps.sites && res.enrollmentSites.length) {
        for (const site of res.enrollmentSites) if (deps.sites.sites.some((s) => s.id === site && s.fhir)) await deps.sites.queue.requestSync(site, 'enrollment');
      }
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
  const siteWorker = deps.sites ? startSiteWorker(deps, deps.sites, runs('sites')) : null;
  // Pre-screening is an evaluation: it runs where evaluate-subject runs.
  const prescreener = deps.prescreen
    ? new Worker<PrescreenJobData>(
        PRESCREEN_QUEUE,
        async (job) => processPrescreenJob({ db: deps.db, trials: deps.trials, mappings: deps.mappings, timeZoneOf: deps.timeZoneOf, prescreenOf: deps.prescreen!.prescreenOf, inScope: (site, ids) => patientsInScope(deps.db, site, ids), log: deps.log.child({ job: job.id }) }, job.data),
        { connection: deps.connection, prefix: deps.prefix, concurrency: PRESCREEN_CONCURRENCY, autorun: runs('evaluate') },
      )
    : null;
  prescreener?.on('failed', (job, err) => deps.log.warn({ job: job?.id, attempts: job?.attemptsMade, err: err.message }, 'prescreen job failed'));
  prescreener?.on('error', (err) => deps.log.error({ err: err.message }, 'prescreen worker error'));
  if (prescreener) alertOnPermanentFailure(prescreener, PRESCREEN_QUEUE, deps.log);
  worker.on('failed', (job, err) => deps.log.warn({ job: job?.id, attempts: job?.attemptsMade, err: err.message }, 'map job failed'));
  worker.on('error', (err) => deps.log.error({ err: err.message }, 'worker error'));
  alertOnPermanentFailure(worker, MAP_QUEUE, deps.log);
  alertOnPermanentFailure(evaluator, EVALUATE_QUEUE, deps.log);
  if (siteWorker) alertOnPermanentFailure(siteWorker, SITE_SYNC_QUEUE, deps.log);

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
  const notifier = deps.notify
    ? startNotifier({ db: deps.db, log: deps.log, connection: deps.connection, prefix: deps.prefix, settings: deps.notify, clientOf: deps.sites?.clientOf ?? siteClients(deps.log), autorun: runs('notify') })
    : null;
  const timer = setInterval(() => sweep().catch((e) => deps.log.warn({ err: (e as Error).message }, 'sweep failed')), SWEEP_INTERVAL_MS);
  timer.unref();
  return {
    sweep,
    notifier,
    async close() {
      clearInterval(timer);
      await notifier?.close();
      await worker.close();
      await evaluator.close();
      await siteWorker?.close();
      await prescreener?.close();
    },
  };
}

/**
 * The connector worker. Trouble with a site's server is recorded on the site
 * and then: 429/503 with Retry-After → the job waits exactly that long
 * (moved to delayed, no attempt spent); authentication still refused after a
 * token refresh, or a request the server rejects → no retry (a site alert;
 * the next scheduled tick tries again); anything else → BullMQ's exponential
 * backoff (SITE_JOB_OPTIONS).
 */
function startSiteWorker(deps: WorkerDeps, sites: SiteJobDeps, autorun: boolean): Worker<SiteJobData> {
  const w = new Worker<SiteJobData>(
    SITE_SYNC_QUEUE,
    async (job: Job<SiteJobData>, token?: string) => {
      const log = deps.log.child({ job: job.id, site: job.data.site, kind: job.data.kind });
      try {
        return await processSiteJob({ ...sites, log }, job.data, `site-${job.id}`);
      } catch (e) {
        if (!(e instanceof SiteRequestError)) throw e;
        await recordError(deps.db, job.data.site, e.message, e.kind === 'auth');
        metrics.siteErrors.inc({ site: job.data.site, kind: e.kind });
        log.warn({ err: e.message, errorKind: e.kind, status: e.status, retryAfterMs: e.retryAfterMs }, 'site request failed');
        if (e.kind === 'auth' || e.kind === 'rejected') throw new UnrecoverableError(e.message);
        if (e.retryAfterMs !== null && token) {
          await job.moveToDelayed(Date.now() + e.retryAfterMs, token);
          throw new DelayedError();
        }
        throw e;
      }
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: SITE_SYNC_CONCURRENCY, autorun },
  );
  w.on('error', (err) => deps.log.error({ err: err.message }, 'site-sync worker error'));
  return w;
}
