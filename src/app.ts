/**
 * createApp(deps): the express app. It never listens itself (tests use
 * supertest; main.ts listens).
 */
import crypto from 'node:crypto';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type { Config } from './config';
import type { Logger } from './logger';
import type { Db } from './store/db';
import type { MapQueue } from './queue/map-resource';
import type { SiteSyncQueue } from './queue/site-sync';
import type { EvaluateJobData, EvaluateQueue } from './queue/evaluate-subject';
import { fhirRouter } from './ingest/routes';
import { createReceiver } from './ingest';
import { siteClients } from './connect/clients';
import type { PrescreenActions } from './api/prescreen';
import { apiRouter } from './api/routes';
import { faviconIco, uiRouter } from './ui';
import { errorMiddleware, requireUser, securityHeaders, sessionMiddleware } from './http';
import { signinRouter } from './ui/signin';
import { AppError } from './errors';
import { registry } from './metrics';
import type { TrialSet } from './protocol/trials';
import type { MappingSet } from './mapping';

export interface AppDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly db: Db;
  readonly redis: Redis;
  readonly mapQueue: MapQueue;
  readonly trials: TrialSet;
  readonly mappings: MappingSet;
  readonly timeZoneOf: (site: string) => string;
  /** Receives subscription notifications' follow-up work. */
  readonly siteQueue: SiteSyncQueue;
  /** Re-evaluation after a person changed a subject's data: queued, or at once when the answer must show it. */
  readonly evaluateQueue: EvaluateQueue;
  readonly evaluateNow: (k: EvaluateJobData) => Promise<unknown>;
  /** Registers what must end before the HTTP server can close (live-update streams). */
  readonly onShutdown?: (fn: () => void) => void;
}

/** How long /readyz waits for each dependency. */
export const READY_TIMEOUT_MS = 2000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error('timeout')), ms).unref())]);
}

/** Start screening from a pre-screen candidate: the one front door, and the site's EHR (api/ never imports ingest/). */
function prescreenActions(deps: AppDeps): PrescreenActions {
  const receiver = createReceiver({ db: deps.db, mapQueue: deps.mapQueue, log: deps.log, sites: deps.config.sites });
  const clientOf = siteClients(deps.log);
  return {
    async accept(site, resource, traceId) {
      const [r] = await receiver.accept(site, [{ resource, path: 'ResearchSubject', request: { method: 'PUT', url: `ResearchSubject/${resource.id}` } }], { atomic: false, traceId, source: 'http' });
      return { outcome: r.outcome, id: r.id, detail: r.issues?.map((i) => i.diagnostics ?? '').filter(Boolean).join('; ') };
    },
    async createOnEhr(site, resource) {
      // The EHR assigns its own id. Conditional on the subject number, so a retried start does not create a second ResearchSubject on the EHR.
      const ident = resource.identifier?.[0];
      const made = await clientOf(site).create({ ...resource, id: undefined }, ident?.value ? { ifNoneExist: `identifier=${encodeURIComponent(`${ident.system ?? ''}|${ident.value}`)}` } : {});
      return { id: made.id };
    },
  };
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    // Trace id: the sender's X-Request-Id when sane, else a new one; it travels into job data.
    const given = req.headers['x-request-id'];
    req.traceId = typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : crypto.randomUUID();
    res.set('X-Request-Id', req.traceId);
    next();
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const check = async (p: () => Promise<unknown>) => withTimeout(p(), READY_TIMEOUT_MS).then(() => 'ok', (e: Error) => `unavailable: ${e.message}`);
    const [database, redis] = await Promise.all([check(() => deps.db.query('SELECT 1')), check(() => deps.redis.ping())]);
    res.status(database === 'ok' && redis === 'ok' ? 200 : 503).json({ database, redis });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.use('/fhir', fhirRouter(deps.config, { db: deps.db, mapQueue: deps.mapQueue, log: deps.log, siteQueue: deps.siteQueue }));
  // Browser-facing edges: security headers, then the session cookie (README "Sign-in"); /fhir uses neither.
  app.use(['/ui', '/api'], securityHeaders(deps.config), sessionMiddleware(deps.config, deps.db));
  // Who am I: the principal as the server sees it (session or bearer), for the workbench and scripts.
  app.get('/api/me', requireUser(deps.config.users, deps.config.sites, undefined, deps.config), (req, res) => {
    const p = req.principal!;
    res.json({ id: p.id, name: p.name, grants: p.grants, via: p.via });
  });
  app.use('/api', apiRouter(deps.config, deps.db, { trials: deps.trials, mappings: deps.mappings, timeZoneOf: deps.timeZoneOf, evaluateQueue: deps.evaluateQueue, evaluateNow: deps.evaluateNow, log: deps.log, prescreen: prescreenActions(deps) }));
  app.use('/ui', signinRouter(deps));
  app.use('/ui', uiRouter(deps));
  app.get('/', (_req, res) => res.redirect(302, '/ui/'));
  app.get('/favicon.ico', faviconIco);
  app.use((req, _res, next) => next(new AppError('not-found', `${req.method} ${req.path}`)));
  app.use(errorMiddleware(deps.log));
  return app;
}
