/**
 * FHIR Bulk Data client (backfill): the asynchronous `$export` of the
 * Bulk Data Access IG 2.0 (https://hl7.org/fhir/uv/bulkdata/STU2/export.html).
 *
 *   kick-off  GET [base]/$export?_type=..&_since=.. (or Group/[id]/$export),
 *             Accept: application/fhir+json, Prefer: respond-async → 202 + Content-Location
 *   status    GET Content-Location → 202 (+ Retry-After, X-Progress) while running,
 *             200 + the manifest when done, 4xx/5xx + OperationOutcome on failure
 *   output    GET each manifest `output[].url` → application/fhir+ndjson
 *   delete    DELETE Content-Location: cancels a running export, or tells the
 *             server the files of a finished one may be removed
 *
 * Files are streamed to disk (constant memory whatever their size). Nothing
 * from the files is logged: only counts, types and resource types.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import readline from 'node:readline';
import type { Logger } from '../logger';
import { parseRetryAfter, withRetry } from './retry';
import { SiteRequestError, type SiteClient } from './types';

/** Poll interval when the server sends no Retry-After (the IG leaves it to the client; [A]). */
export const POLL_DEFAULT_MS = 2_000;
/** Our own backoff between polls grows to at most this. */
export const POLL_MAX_MS = 60_000;
/** Give up on an export still running after this long ([A] 6 h; large EHR exports take hours). */
export const EXPORT_TIMEOUT_MS = 6 * 3600_000;
/** Tries per request (kick-off, poll, one file) on transient failures. */
export const REQUEST_ATTEMPTS = 5;
/** How long the best-effort DELETE of the status URL may take. */
const DELETE_TIMEOUT_MS = 10_000;

export interface ExportFile {
  readonly type: string;
  readonly path: string;
  /** Non-blank NDJSON lines. */
  readonly lines: number;
  readonly bytes: number;
}

/** The manifest's `error` files, summarised: counts by "severity code" only (diagnostics may quote patient data). */
export interface ExportErrorSummary {
  readonly files: number;
  readonly issues: number;
  readonly byIssue: Record<string, number>;
}

export interface ExportPullResult {
  readonly files: ExportFile[];
  readonly transactionTime: string;
  readonly errors: ExportErrorSummary;
}

export type ExportProgress =
  | { readonly phase: 'kicked-off'; readonly statusUrl: string }
  | { readonly phase: 'waiting'; readonly polls: number; readonly progress: string | null; readonly nextPollMs: number }
  | { readonly phase: 'downloading'; readonly file: number; readonly of: number; readonly type: string }
  | { readonly phase: 'done'; readonly files: number };

export interface ExportPullOptions {
  /** `_since` (a FHIR instant), null for a full export. */
  readonly since: string | null;
  readonly types: readonly string[];
  /** `_typeFilter` queries, e.g. "Observation?code=http://loinc.org|1975-2"; one parameter each. */
  readonly typeFilter?: readonly string[];
  /** Group-level export (`Group/{id}/$export`) instead of system-level. */
  readonly groupId?: string;
  /** Where the files go; must exist. */
  readonly dir: string;
  readonly signal?: AbortSignal;
  /** Injected for tests; default setTimeout (abortable). */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly log: Logger;
  readonly onProgress?: (p: ExportProgress) => void;
  /** Default EXPORT_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** Default POLL_DEFAULT_MS. */
  readonly pollMs?: number;
  /** For manifests with requiresAccessToken false (files fetched without our token). */
  readonly fetch?: typeof fetch;
}

interface Manifest {
  transactionTime: string;
  requiresAccessToken?: boolean;
  output: { type: string; url: string }[];
  error?: { type: string; url: string }[];
}

const TYPE = /^[A-Z][A-Za-z]{1,63}$/;

/**
 * Runs one export to the end: kick-off, polls, downloads. On abort or failure
 * the status URL is DELETEd (best effort) and the error rethrown
 * (SiteRequestError for the server's answers, the abort reason on abort).
 */
export async function exportPull(client: SiteClient, o: ExportPullOptions): Promise<ExportPullResult> {
  const signal = o.signal;
  const sleep = o.sleep ? async (ms: number) => { await o.sleep!(ms); signal?.throwIfAborted(); } : (ms: number) => abortableSleep(ms, signal);
  const retry = <T>(what: string, fn: () => Promise<T>) =>
    withRetry(() => (signal?.throwIfAborted(), fn()), {
      attempts: REQUEST_ATTEMPTS, sleep,
      onRetry: (e, delayMs, attempt) => o.log.warn({ site: client.siteId, what, kind: e.kind, status: e.status, delayMs, attempt }, 'bulk export: retrying'),
    });
  const log = o.log;
  let statusUrl: string | null = null;
  let finished = false;
  try {
    // Kick-off. 429 (with Retry-After) is retried by withRetry (IG: servers may throttle kick-offs).
    const q = new URLSearchParams();
    if (o.types.length) q.set('_type', o.types.join(','));
    if (o.since) q.set('_since', o.since);
    for (const f of o.typeFilter ?? []) q.append('_typeFilter', f);
    const kick = await retry('kick-off', () =>
      client.request('GET', `${o.groupId ? `Group/${encodeURIComponent(o.groupId)}/` : ''}$export?${q}`, { accept: 'application/fhir+json', headers: { Prefer: 'respond-async' }, signal }),
    );
    const loc = kick.headers.get('content-location');
    if (kick.status !== 202 || !loc) throw new SiteRequestError('bad-response', `$export kick-off answered ${kick.status}${loc ? '' : ' without Content-Location'} (the IG requires 202 + Content-Location)`, kick.status);
    statusUrl = new URL(loc, `${client.baseUrl}/`).href;
    log.info({ site: client.siteId, types: o.types, since: o.since }, 'bulk export: kicked off');
    o.onProgress?.({ phase: 'kicked-off', statusUrl });

    const manifest = await waitForManifest(client, statusUrl, o, retry, sleep);
    const files: ExportFile[] = [];
    const noToken = manifest.requiresAccessToken === false;
    for (const [i, out] of manifest.output.entries()) {
      const type = TYPE.test(out.type) ? out.type : 'Unknown';
      o.onProgress?.({ phase: 'downloading', file: i + 1, of: manifest.output.length, type });
      const file = path.join(o.dir, `${String(i + 1).padStart(4, '0')}-${type}.ndjson`);
      const got = await retry(`output ${i + 1}`, () => download(client, out.url, file, noToken, o));
      files.push({ type, path: file, ...got });
    }
    const errors = { files: 0, issues: 0, byIssue: {} as Record<string, number> };
    for (const [i, e] of (manifest.error ?? []).entries()) {
      // IG: error files are OperationOutcome NDJSON; they describe what the server could not export, not a failure of the export.
      const file = path.join(o.dir, `errors-${String(i + 1).padStart(4, '0')}.ndjson`);
      await retry(`error file ${i + 1}`, () => download(client, e.url, file, noToken, o));
      errors.files++;
      await summariseErrors(file, errors);
    }
    finished = true;
    log.info({ site: client.siteId, files: files.length, lines: files.reduce((n, f) => n + f.lines, 0), errorIssues: errors.issues }, 'bulk export: downloaded');
    o.onProgress?.({ phase: 'done', files: files.length });
    return { files, transactionTime: manifest.transactionTime, errors };
  } finally {
    // Running: cancel it. Finished: IG 2.0 "a server MAY use the request as a signal that a client is done retrieving files".
    if (statusUrl) await bestEffortDelete(client, statusUrl, log, finished);
  }
}

async function waitForManifest(
  client: SiteClient, statusUrl: string, o: ExportPullOptions,
  retry: <T>(what: string, fn: () => Promise<T>) => Promise<T>, sleep: (ms: number) => Promise<void>,
): Promise<Manifest> {
  const deadline = Date.now() + (o.timeoutMs ?? EXPORT_TIMEOUT_MS);
  let backoff = o.pollMs ?? POLL_DEFAULT_MS;
  for (let polls = 1; ; polls++) {
    let delay: number;
    let progress: string | null = null;
    try {
      const res = await retry('status', () => client.request<Manifest>('GET', statusUrl, { accept: 'application/json', signal: o.signal }));
      if (res.status === 200) return checkManifest(res.body);
      if (res.status !== 202) throw new SiteRequestError('bad-response', `$export status answered ${res.status}`, res.status);
      progress = res.headers.get('x-progress')?.slice(0, 100) ?? null;
      delay = parseRetryAfter(res.headers.get('retry-after'), Date.now()) ?? backoff;
    } catch (e) {
      // 429 on a poll means "poll slower", not "the export failed" (IG: servers SHOULD use 429 for too-frequent polling).
      if (!(e instanceof SiteRequestError) || e.kind !== 'retry-later') throw e;
      delay = e.retryAfterMs ?? backoff;
    }
    // Our own backoff (no Retry-After) grows, capped; a server's Retry-After is honoured as given, with a floor against hot loops.
    backoff = Math.min(Math.round(backoff * 1.5), POLL_MAX_MS);
    delay = Math.max(delay, 100);
    if (Date.now() + delay > deadline) throw new SiteRequestError('unavailable', `$export still running after ${Math.round((o.timeoutMs ?? EXPORT_TIMEOUT_MS) / 60_000)} min; gave up`);
    o.onProgress?.({ phase: 'waiting', polls, progress, nextPollMs: delay });
    await sleep(delay);
  }
}

function checkManifest(m: unknown): Manifest {
  const o = m as Partial<Manifest> | null;
  const files = (v: unknown) => Array.isArray(v) && v.every((f) => f && typeof f.type === 'string' && typeof f.url === 'string' && /^https?:\/\//.test(f.url));
  if (!o || typeof o.transactionTime !== 'string' || !files(o.output) || (o.error !== undefined && !files(o.error)))
    throw new SiteRequestError('bad-response', '$export manifest is not the IG shape (transactionTime, output[{type, url}], error[])', 200);
  return o as Manifest;
}

/** Streams one file to disk, counting non-blank lines and bytes; a broken stream becomes a retriable error. */
async function download(client: SiteClient, url: string, file: string, noToken: boolean, o: ExportPullOptions): Promise<{ lines: number; bytes: number }> {
  let bytes = 0;
  let lines = 0;
  let blank = true;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        if (b === 0x0a) {
          if (!blank) lines++;
          blank = true;
        } else if (b !== 0x20 && b !== 0x0d && b !== 0x09) blank = false;
      }
      cb(null, chunk);
    },
  });
  const body = noToken ? await plainDownload(url, o) : await client.download(url, { accept: 'application/fhir+ndjson', signal: o.signal });
  try {
    await pipeline(body, counter, fs.createWriteStream(file), { signal: o.signal });
  } catch (e) {
    if (o.signal?.aborted || e instanceof SiteRequestError) throw e;
    throw new SiteRequestError('unavailable', `download of an export file broke off after ${bytes} bytes (${(e as Error).message})`);
  }
  return { lines: lines + (blank ? 0 : 1), bytes };
}

/** requiresAccessToken false (IG: e.g. pre-signed object-store URLs): fetch without our token, which must not leak to another host. */
async function plainDownload(url: string, o: ExportPullOptions): Promise<NodeJS.ReadableStream> {
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(url, { headers: { accept: 'application/fhir+ndjson' }, signal: o.signal });
  } catch (e) {
    if (o.signal?.aborted) throw e;
    throw new SiteRequestError('unavailable', `export file download failed (${(e as Error).message})`);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    const s = res.status;
    const kind = s === 429 || s === 503 ? 'retry-later' : s >= 500 ? 'unavailable' : s === 401 || s === 403 ? 'auth' : 'rejected';
    throw new SiteRequestError(kind, `export file download answered ${s}`, s, parseRetryAfter(res.headers.get('retry-after'), Date.now()));
  }
  return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
}

async function summariseErrors(file: string, into: { issues: number; byIssue: Record<string, number> }): Promise<void> {
  const rl = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let issues: { severity?: unknown; code?: unknown }[] = [{}];
    try {
      const oo = JSON.parse(line) as { issue?: typeof issues };
      if (Array.isArray(oo.issue) && oo.issue.length) issues = oo.issue;
    } catch {
      /* an unreadable line still counts as one issue */
    }
    for (const i of issues) {
      const key = `${typeof i.severity === 'string' ? i.severity : 'error'} ${typeof i.code === 'string' ? i.code : 'unknown'}`.replace(/[^a-z -]/gi, '');
      into.issues++;
      into.byIssue[key] = (into.byIssue[key] ?? 0) + 1;
    }
  }
}

async function bestEffortDelete(client: SiteClient, statusUrl: string, log: Logger, finished: boolean): Promise<void> {
  try {
    await client.request('DELETE', statusUrl, { signal: AbortSignal.timeout(DELETE_TIMEOUT_MS) });
    log.info({ site: client.siteId }, finished ? 'bulk export: released on the server' : 'bulk export: cancelled on the server');
  } catch (e) {
    log.warn({ site: client.siteId, err: (e as Error).message }, 'bulk export: DELETE of the status URL failed (ignored)');
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
