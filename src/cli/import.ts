/**
 * `trialbridge import FILE --site SITE_ID [--batch N] [--json]`: a thin
 * command over the ingest file import (src/ingest/file-import.ts): parse the
 * arguments, open the store and the queue (src/runtime.ts), import, print the
 * summary on stdout (text, or JSON with --json).
 *
 * Exit codes: 0 the import ran to the end (rejected lines included), 1 the
 * file could not be read or the database / Redis failed (the summary says how
 * much was stored), 2 usage (bad arguments, unknown site).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { loadConfig } from '../config';
import { createReceiver, DEFAULT_BATCH, formatSummary, importFile, InputError, MAX_BATCH, type ImportSummary } from '../ingest';
import { abortOnSignals, openTargetOrSay, stderrLogger, type Out } from '../runtime';

export const USAGE = 'usage: trialbridge import FILE(.ndjson | .json Bundle) --site SITE_ID [--batch N] [--json]';

export interface ImportArgs {
  readonly file: string;
  readonly site: string;
  readonly batch: number;
  readonly json: boolean;
}

export function parseImportArgs(argv: readonly string[]): ImportArgs | { help: true } | string {
  let file: string | undefined;
  let site: string | undefined;
  let batch = DEFAULT_BATCH;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return { help: true };
    if (a === '--site' || a === '--batch') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) return `${a} needs a value`;
      if (a === '--site') site = v;
      else {
        batch = Number(v);
        if (!/^\d+$/.test(v) || batch < 1 || batch > MAX_BATCH) return `--batch must be an integer from 1 to ${MAX_BATCH}, got "${v}"`;
      }
    } else if (a === '--json') json = true;
    else if (a.startsWith('--')) return `unknown option ${a}`;
    else if (file === undefined) file = a;
    else return `unexpected argument ${a}`;
  }
  if (!file) return 'an input FILE is required';
  if (!site) return '--site is required';
  return { file, site, batch, json };
}

export async function importCommand(argv: string[], out: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = parseImportArgs(argv);
  if (typeof args === 'string') {
    out.error(`import: ${args}\n${USAGE}`);
    return 2;
  }
  if ('help' in args) {
    out.log(USAGE);
    return 0;
  }
  const config = loadConfig(env);
  if (!config.sites.some((s) => s.id === args.site)) {
    out.error(`import: unknown site "${args.site}"; TRIALBRIDGE_SITES has: ${config.sites.map((s) => s.id).join(', ') || '(none)'}`);
    return 2;
  }
  try {
    const st = await fs.promises.stat(args.file);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    await fs.promises.access(args.file, fs.constants.R_OK);
  } catch (e) {
    out.error(`import: cannot read the input file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); nothing stored`);
    return 1;
  }
  const log = stderrLogger(config.logLevel);
  const target = await openTargetOrSay(config, log, out, 'import: ', 'nothing stored');
  if (!target) return 1;
  const { db, mapQueue } = target;
  try {
    const traceId = `import-${crypto.randomUUID()}`;
    log.info({ site: args.site, batch: args.batch, traceId }, 'import started');
    let summary: ImportSummary;
    // Ctrl-C stops reading, lets the batch in flight finish and still prints the summary; a second one kills.
    const { abort, release } = abortOnSignals();
    try {
      summary = await importFile(args.file, { site: args.site, batch: args.batch, receiver: createReceiver({ db, mapQueue, log, sites: config.sites }), traceId, source: 'file', signal: abort.signal });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      out.error(`import: ${e.message}; nothing stored`);
      return 1;
    } finally {
      release();
    }
    log.info({ traceId, status: summary.status, accepted: summary.accepted, duplicate: summary.duplicate, rejected: summary.rejected, ignored: summary.ignored }, 'import finished');
    out.log(args.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
    if (summary.status === 'failed') {
      out.error(`import: ${summary.error}; ${summary.accepted} new resource(s) stored before the failure`);
      return 1;
    }
    return 0;
  } finally {
    await target.close();
  }
}
