/**
 * Operator commands towards a site's FHIR server:
 *   trialbridge subscribe --site X       create/update our Subscriptions (idempotent)
 *   trialbridge subscriptions --site X   list them with their status
 *   trialbridge poll --site X            run one sync now (what a scheduled poll does)
 * Same modules as the worker; exit 0 ok, 1 the site or a server failed, 2 usage.
 */
import crypto from 'node:crypto';
import { loadConfig, type Config, type SiteConfig } from '../config';
import { createLogger, type Logger } from '../logger';
import { applySiteCodeMaps } from '../mapping';
import { loadTrialPackages } from '../protocol/package';
import { createReceiver } from '../ingest';
import type { MapQueue } from '../queue/map-resource';
import { openDb, type Db } from '../store/db';
import { migrate } from '../store/migrate';
import { enrolledPatients } from '../store/sites';
import { createSiteClient } from '../connect/client';
import { reconcileSubscriptions, subscriptionStatus } from '../connect/subscriptions';
import { syncSite } from '../connect/sync';
import { newRun, prescreenCriteria, syncPrescreen, type PrescreenDeps } from '../connect/prescreen-sync';
import { SiteRequestError, type SiteClient } from '../connect/types';
import { openTargetOrSay } from '../runtime';
import { LoadError } from '../util/load-problems';

interface Out {
  log(s: string): void;
  error(s: string): void;
}

export const CONNECT_USAGE = {
  subscribe: 'usage: trialbridge subscribe --site SITE_ID [--json]',
  subscriptions: 'usage: trialbridge subscriptions --site SITE_ID [--json]',
  poll: 'usage: trialbridge poll --site SITE_ID [--json]',
} as const;

type Command = keyof typeof CONNECT_USAGE;

/** Parses `--site X [--json]`; a string is a usage error. */
export function parseSiteArgs(argv: readonly string[]): { site: string; json: boolean } | { help: true } | string {
  let site: string | null = null;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return { help: true };
    if (a === '--json') json = true;
    else if (a === '--site') site = argv[++i] ?? null;
    else if (a.startsWith('--site=')) site = a.slice(7);
    else return `unexpected argument "${a}"`;
  }
  return site ? { site, json } : '--site is required';
}

/** Resolves the site and checks it can do what the command needs; a string is the problem. */
export function connectedSite(config: Config, id: string, cmd: Command): SiteConfig | string {
  const site = config.sites.find((s) => s.id === id);
  if (!site) return `unknown site "${id}"; TRIALBRIDGE_SITES has: ${config.sites.map((s) => s.id).join(', ') || '(none)'}`;
  if (!site.fhir) return `site "${id}" has no fhir block in TRIALBRIDGE_SITES (baseUrl, auth, modes); see README "Connect a site"`;
  if (cmd !== 'poll' && !site.fhir.modes.includes('subscription')) return `site "${id}" is not in subscription mode (fhir.modes: ${site.fhir.modes.join(', ')})`;
  return site;
}

/** The store (and for `poll` the queue, via the import command's opener): null after telling the operator why. */
interface Runtime {
  readonly db: Db;
  readonly mapQueue: MapQueue | null;
  close(): Promise<void>;
}

async function open(cmd: Command, config: Config, log: Logger, out: Out): Promise<Runtime | null> {
  if (cmd === 'poll') return openTargetOrSay(config, log, out, 'poll: ', 'nothing fetched');
  try {
    const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, schema: config.dbSchema ?? undefined });
    await migrate(db).catch(async (e) => {
      await db.close();
      throw e;
    });
    return { db, mapQueue: null, close: () => db.close() };
  } catch (e) {
    out.error(`${cmd}: database unavailable (${(e as Error).message})`);
    return null;
  }
}

/** Runs one of the three commands. */
export async function connectCommand(cmd: Command, argv: string[], out: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = parseSiteArgs(argv);
  if (typeof args === 'string') {
    out.error(`${cmd}: ${args}\n${CONNECT_USAGE[cmd]}`);
    return 2;
  }
  if ('help' in args) {
    out.log(CONNECT_USAGE[cmd]);
    return 0;
  }
  const config = loadConfig(env, { redis: cmd === 'poll' });
  const site = connectedSite(config, args.site, cmd);
  if (typeof site === 'string') {
    out.error(`${cmd}: ${site}`);
    return 2;
  }
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const rt = await open(cmd, config, log, out);
  if (!rt) return 1;
  try {
    const client = createSiteClient({ id: site.id, fhir: site.fhir! }, { log });
    // The same trial packages as boot, so a pre-screening site is watched as the worker watches it.
    const packages = loadTrialPackages({ trialsDir: config.trialsDir, mappingsDir: config.mappingsDir });
    const mappings = applySiteCodeMaps(packages.mappings, config.sites);
    const codes = mappings.watchedCodes();
    const prescreen: PrescreenDeps | null = site.prescreen ? { trials: packages.trials, mappings, retentionDays: config.unenrolledRetentionDays } : null;
    const result = await run(cmd, { rt, log, client, site, codes, prescreen });
    out.log(args.json ? JSON.stringify(result, null, 2) : format(cmd, result));
    return 0;
  } catch (e) {
    if (e instanceof SiteRequestError) {
      out.error(`${cmd}: site ${site.id} (${site.fhir!.baseUrl}): ${e.kind}: ${e.message}`);
      return 1;
    }
    if (e instanceof LoadError) {
      out.error(`${cmd}: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    await rt.close();
  }
}

async function run(cmd: Command, c: { rt: Runtime; log: Logger; client: SiteClient; site: SiteConfig; codes: string[]; prescreen: PrescreenDeps | null }): Promise<unknown> {
  const { rt, log, client, site, codes, prescreen } = c;
  const patients = await enrolledPatients(rt.db, site.id);
  switch (cmd) {
    case 'subscribe': {
      // The pre-screen watch's Subscriptions are part of the site's set (README "Pre-screening and alerts").
      const extra = prescreen ? await prescreenCriteria(prescreen, site, client, newRun(client)) : [];
      return reconcileSubscriptions({ db: rt.db, client, site, codes, patients, log, extra });
    }
    case 'subscriptions':
      return subscriptionStatus({ db: rt.db, client, site });
    case 'poll': {
      const receiver = createReceiver({ db: rt.db, mapQueue: rt.mapQueue!, log, sites: [site] });
      const deps = { db: rt.db, log, receiver, client, site, codes, traceId: `poll-${crypto.randomUUID()}`, patients };
      const summary = await syncSite(deps);
      return prescreen ? { ...summary, prescreen: await syncPrescreen(deps, prescreen, patients, summary, newRun(client)) } : summary;
    }
  }
}

function format(cmd: Command, r: unknown): string {
  switch (cmd) {
    case 'subscribe': {
      const x = r as { created: string[]; updated: string[]; deleted: string[]; unchanged: string[] };
      return [`created: ${x.created.join(', ') || '-'}`, `updated: ${x.updated.join(', ') || '-'}`, `deleted: ${x.deleted.join(', ') || '-'}`, `unchanged: ${x.unchanged.join(', ') || '-'}`].join('\n');
    }
    case 'subscriptions': {
      const rows = r as Awaited<ReturnType<typeof subscriptionStatus>>;
      if (!rows.length) return 'no trialbridge Subscriptions on the server (run `trialbridge subscribe --site ...`)';
      return rows.map((s) => `${s.id}\t${s.key ?? '?'}\t${s.status ?? '?'}\tlast event ${s.lastEventNumber ?? '-'}\t${s.error ? `error: ${s.error}` : ''}`).join('\n');
    }
    case 'poll': {
      const s = r as Record<string, number> & { prescreen?: { hits: number; patients: number; historyFetched: number } };
      const line = `pages ${s.pages}, fetched ${s.fetched}, stored ${s.created}, already stored ${s.duplicate}, invalid ${s.invalid}, patients backfilled ${s.backfilledPatients}`;
      return s.prescreen ? `${line}\npre-screen: ${s.prescreen.hits} trigger result(s), ${s.prescreen.patients} patient(s), ${s.prescreen.historyFetched} history resource(s) fetched` : line;
    }
  }
}
