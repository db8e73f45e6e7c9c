/**
 * `trialbridge export-pull --site ID [--since DATE|INSTANT] [--types T1,T2] [--keep DIR] [--json]`
 *
 * Backfill from a site's own FHIR server with the Bulk Data Access IG 2.0
 * async `$export` (src/connect/bulk-export.ts), then every downloaded NDJSON
 * file through the same store-then-queue path as `trialbridge import`
 * (importFile): stored versions count as duplicates, so pulling the same data
 * again is safe. The output follows `import`: progress and logs on stderr, one
 * combined summary on stdout (counts, types, resource ids; never values).
 * Rejection examples give the line within the file of their type.
 *
 * Files go to a temporary directory removed afterwards, or to --keep DIR.
 * Exit codes: 0 done, 1 the export or the import failed (site unreachable,
 * auth refused, database / Redis down), 2 usage (bad arguments, unknown site,
 * a site without a `fhir` block).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config';
import { createSiteClient } from '../connect/client';
import { exportPull, type ExportPullResult, type ExportProgress } from '../connect/bulk-export';
import { createTokenSource } from '../connect/token';
import { SiteRequestError } from '../connect/types';
import { createReceiver } from '../ingest';
import { advanceCursor } from '../store/sites';
import { DEFAULT_BATCH, EXAMPLES_PER_REASON, formatSummary, importFile, InputError, type ImportSummary } from '../ingest';
import { abortOnSignals, openTargetOrSay, stderrLogger } from '../runtime';

interface Out {
  log(s: string): void;
  error(s: string): void;
}

export const EXPORT_PULL_USAGE = 'usage: trialbridge export-pull --site SITE_ID [--since DATE|INSTANT] [--types Observation,MedicationAdministration,...] [--keep DIR] [--json]';

/** What trialbridge maps, and what it needs to map it (enrolment, patients). */
export const DEFAULT_EXPORT_TYPES = ['Observation', 'MedicationAdministration', 'ResearchStudy', 'ResearchSubject', 'Patient'] as const;

export interface ExportPullArgs {
  readonly site: string;
  /** A FHIR instant, or a date (YYYY-MM-DD) resolved to midnight in the site's time zone; null = full export. */
  readonly since: string | null;
  readonly types: readonly string[];
  readonly keep: string | null;
  readonly json: boolean;
}

const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const TYPE = /^[A-Z][A-Za-z]{1,63}$/;

export function parseExportPullArgs(argv: readonly string[]): ExportPullArgs | { help: true } | string {
  let site: string | undefined;
  let since: string | null = null;
  let types: string[] = [...DEFAULT_EXPORT_TYPES];
  let keep: string | null = null;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return { help: true };
    if (a === '--json') {
      json = true;
      continue;
    }
    if (!['--site', '--since', '--types', '--keep'].includes(a)) return a.startsWith('--') ? `unknown option ${a}` : `unexpected argument ${a}`;
    const v = argv[++i];
    if (v === undefined || v.startsWith('--')) return `${a} needs a value`;
    if (a === '--site') site = v;
    else if (a === '--keep') keep = v;
    else if (a === '--since') {
      const ok = (DATE.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v)) || (INSTANT.test(v) && !Number.isNaN(Date.parse(v)));
      if (!ok) return `--since must be a date (2024-03-01) or an instant with a time zone (2024-03-01T08:00:00+08:00), got "${v}"`;
      since = v;
    } else {
      types = [...new Set(v.split(',').map((t) => t.trim()).filter(Boolean))];
      const bad = types.find((t) => !TYPE.test(t));
      if (!types.length || bad !== undefined) return `--types must be a comma-separated list of FHIR resource types, got "${v}"`;
    }
  }
  if (!site) return '--site is required';
  return { site, since, types, keep, json };
}

/** `_since` for the kick-off: an instant in UTC; a date means its midnight in the site's time zone (so nothing of that local day is missed). */
export function sinceInstant(since: string, timeZone: string): string {
  if (!DATE.test(since)) return new Date(since).toISOString();
  const wall = Date.parse(`${since}T00:00:00Z`);
  const offsetAt = (t: number) => {
    const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(t)).map((x) => [x.type, x.value]));
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - t;
  };
  // Two rounds settle the offset across a DST change.
  let t = wall - offsetAt(wall);
  t = wall - offsetAt(t);
  return new Date(t).toISOString();
}

/** Adds `b` into `a` (the combined summary over all files of one export). */
export function mergeSummary(a: ImportSummary, b: ImportSummary): void {
  for (const k of ['lines', 'resources', 'accepted', 'duplicate', 'rejected', 'ignored', 'elapsedMs'] as const) a[k] += b[k];
  for (const [t, c] of Object.entries(b.acceptedByType)) a.acceptedByType[t] = (a.acceptedByType[t] ?? 0) + c;
  for (const [t, c] of Object.entries(b.ignoredByType)) a.ignoredByType[t] = (a.ignoredByType[t] ?? 0) + c;
  for (const r of b.rejectedReasons) {
    const have = a.rejectedReasons.find((x) => x.reason === r.reason);
    if (!have) a.rejectedReasons.push({ reason: r.reason, count: r.count, examples: r.examples.slice(0, EXAMPLES_PER_REASON) });
    else {
      have.count += r.count;
      have.examples.push(...r.examples.slice(0, EXAMPLES_PER_REASON - have.examples.length));
    }
  }
  a.format = 'ndjson';
  a.peakRssBytes = Math.max(a.peakRssBytes, b.peakRssBytes);
  a.resourcesPerSecond = a.resources / Math.max(a.elapsedMs / 1000, 0.001);
  if (b.status === 'failed') Object.assign(a, { status: 'failed', error: b.error, failedBatch: b.failedBatch });
}

function emptySummary(site: string): ImportSummary {
  return {
    status: 'completed', site, format: 'ndjson', lines: 0, resources: 0, accepted: 0, acceptedByType: {}, duplicate: 0, rejected: 0, rejectedReasons: [],
    ignored: 0, ignoredByType: {}, elapsedMs: 0, resourcesPerSecond: 0, peakRssBytes: 0, error: null, failedBatch: 0,
  };
}

function progressLine(p: ExportProgress): string {
  switch (p.phase) {
    case 'kicked-off':
      return 'export-pull: export accepted by the site, waiting for it';
    case 'waiting':
      return `export-pull: still running (poll ${p.polls}${p.progress ? `, ${p.progress.replace(/[^\w %./:-]/g, '')}` : ''}); next poll in ${(p.nextPollMs / 1000).toFixed(1)} s`;
    case 'downloading':
      return `export-pull: downloading file ${p.file} of ${p.of} (${p.type})`;
    case 'done':
      return `export-pull: ${p.files} file(s) downloaded`;
  }
}

/** Runs `trialbridge export-pull`; returns the exit code. */
export async function exportPullCommand(argv: string[], out: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = parseExportPullArgs(argv);
  if (typeof args === 'string') {
    out.error(`export-pull: ${args}\n${EXPORT_PULL_USAGE}`);
    return 2;
  }
  if ('help' in args) {
    out.log(EXPORT_PULL_USAGE);
    return 0;
  }
  const config = loadConfig(env);
  const site = config.sites.find((s) => s.id === args.site);
  if (!site) {
    out.error(`export-pull: unknown site "${args.site}"; TRIALBRIDGE_SITES has: ${config.sites.map((s) => s.id).join(', ') || '(none)'}`);
    return 2;
  }
  if (!site.fhir) {
    out.error(`export-pull: site "${site.id}" has no fhir block in TRIALBRIDGE_SITES (its FHIR server's baseUrl and auth)`);
    return 2;
  }
  const log = stderrLogger(config.logLevel);
  // Database and Redis first: no point in an hours-long export that cannot be stored.
  const target = await openTargetOrSay(config, log, out, 'export-pull: ', 'nothing exported or stored');
  if (!target) return 1;
  let dir: string | null = null;
  const { abort, release } = abortOnSignals();
  try {
    if (args.keep) await fs.promises.mkdir((dir = path.resolve(args.keep)), { recursive: true });
    else dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'trialbridge-export-'));
    const client = createSiteClient({ id: site.id, fhir: site.fhir }, { log, tokens: createTokenSource(site.fhir.auth, { log, timeoutMs: site.fhir.timeoutMs }) });
    const since = args.since ? sinceInstant(args.since, site.timeZone) : null;
    const traceId = `export-pull-${crypto.randomUUID()}`;
    log.info({ site: site.id, types: args.types, since, traceId }, 'export-pull started');
    let result: ExportPullResult;
    try {
      result = await exportPull(client, { since, types: args.types, dir, signal: abort.signal, log, onProgress: (p) => out.error(progressLine(p)) });
    } catch (e) {
      if (abort.signal.aborted) out.error(`export-pull: interrupted by ${String(abort.signal.reason)}; the export was cancelled on the site; nothing stored`);
      else if (e instanceof SiteRequestError) out.error(`export-pull: the export from site ${site.id} failed (${e.kind}): ${e.message}; nothing stored`);
      else throw e;
      return 1;
    }
    const receiver = createReceiver({ db: target.db, mapQueue: target.mapQueue, log, sites: config.sites });
    const total = emptySummary(site.id);
    for (const f of result.files) {
      if (abort.signal.aborted) break;
      let s: ImportSummary;
      try {
        s = await importFile(f.path, { site: site.id, batch: DEFAULT_BATCH, receiver, traceId, source: 'bulk', signal: abort.signal });
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        Object.assign(total, { status: 'failed', error: e.message });
        break;
      }
      mergeSummary(total, s);
      if (s.status === 'failed') break;
    }
    if (abort.signal.aborted && total.status !== 'failed') Object.assign(total, { status: 'failed', error: `interrupted by ${String(abort.signal.reason)}` });
    const exported = { transactionTime: result.transactionTime, files: result.files.map(({ type, lines, bytes }) => ({ type, lines, bytes })), errors: result.errors, dir: args.keep ? dir : null };
    log.info({ traceId, status: total.status, files: result.files.length, accepted: total.accepted, duplicate: total.duplicate, rejected: total.rejected, ignored: total.ignored }, 'export-pull finished');
    if (args.json) out.log(JSON.stringify({ export: exported, import: total }, null, 2));
    else {
      const lines = result.files.reduce((n, f) => n + f.lines, 0);
      const issues = Object.entries(result.errors.byIssue).map(([k, c]) => `${c} x ${k}`).join(', ');
      out.log([
        `export from site ${site.id}: ${result.files.length} file(s), ${lines.toLocaleString('en-US')} lines, as of ${result.transactionTime}${since ? ` (changes since ${since})` : ' (full export)'}`,
        ...(result.errors.issues ? [`  the site reported ${result.errors.issues} issue(s) it could not export: ${issues}`] : []),
        ...(args.keep ? [`  files kept in ${dir}`] : []),
        formatSummary(total),
      ].join('\n'));
    }
    if (total.status === 'failed') {
      out.error(`export-pull: ${total.error}; ${total.accepted} new resource(s) stored before the failure`);
      return 1;
    }
    // Everything of these types up to transactionTime is now stored (Bulk Data IG: the export's point in time),
    // so polls continue from there instead of fetching the history again. Cursors only move forward.
    for (const type of args.types) await advanceCursor(target.db, site.id, type, result.transactionTime);
    return 0;
  } finally {
    release();
    if (dir && !args.keep) await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    await target.close();
  }
}
