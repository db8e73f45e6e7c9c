/**
 * Importing files (README "Running it": `trialbridge import`, and the files
 * of a Bulk Data export): streams an NDJSON file (one resource per line, FHIR
 * Bulk Data format; a line may also be a Bundle) or a single JSON Bundle
 * through the front door (accept.ts), so a running `trialbridge worker` maps
 * what is imported exactly as it maps what is POSTed.
 *
 * Memory: NDJSON is read line by line (readline over a read stream) and
 * handed over in batches of N (default 500); the next batch is read while
 * the previous one is being stored, never more than that, so memory stays
 * flat whatever the file size. A single pretty-printed JSON document (not
 * NDJSON) is parsed whole, because `urn:uuid:` references and DiagnosticReport
 * times are resolved across the entire Bundle; it is limited to
 * MAX_DOCUMENT_BYTES with a clear error beyond that.
 *
 * Bundle semantics differ from POST /fhir on purpose: any Bundle.type is read
 * (exports are often searchset or collection Bundles) and every entry is taken
 * on its own (no all-or-nothing for transactions): the summary lists what was
 * rejected, and importing the corrected file again is safe, since the current
 * content of a resource already stored counts as a duplicate and changes nothing.
 *
 * Progress goes to stderr (a live line on a terminal, otherwise a line every
 * PROGRESS_EVERY resources). Neither progress nor summary names the file
 * (export files are often named after the patient) nor prints any value from
 * it: only counts, line numbers, resource ids, FHIRPath expressions and
 * validator messages with values elided.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { AppError } from '../errors';
import type { AcceptEntry, AcceptResult, AcceptSource, Receiver } from './accept';
import { bundleEntries } from './bundle';
import { jsonProblem } from './parse-json';
import { FHIR_ID } from './validate';

/** Resources per store call (one multi-row INSERT, one BullMQ addBulk). */
export const DEFAULT_BATCH = 500;
export const MAX_BATCH = 10_000;
/** A single JSON document (not NDJSON) is parsed whole; beyond this size, convert it to NDJSON. */
export const MAX_DOCUMENT_BYTES = 128 * 1024 * 1024;
/** Without a terminal, a progress line every this many resources. */
export const PROGRESS_EVERY = 10_000;
/** Examples kept per rejection reason. */
export const EXAMPLES_PER_REASON = 5;
/** How much of the file is looked at to tell NDJSON from one JSON document. */
const HEAD_BYTES = 1024 * 1024;

// ------------------------------------------------------------------ summary ---

export interface RejectExample {
  /** 1-based line of the NDJSON file; null for a single JSON document. */
  readonly line: number | null;
  /** Type/id when the resource has a valid id. */
  readonly resource: string | null;
  /** FHIRPath of the problem (Bundle.entry[3].resource.status); null for a line that is not a resource at all. */
  readonly expression: string | null;
  readonly message: string;
}

export interface RejectReason {
  readonly reason: string;
  count: number;
  readonly examples: RejectExample[];
}

export interface ImportSummary {
  status: 'completed' | 'failed';
  site: string;
  format: 'ndjson' | 'json-document' | null;
  lines: number;
  /** Everything classified: accepted + duplicate + rejected + ignored (+ in a failed batch). */
  resources: number;
  accepted: number;
  acceptedByType: Record<string, number>;
  duplicate: number;
  rejected: number;
  rejectedReasons: RejectReason[];
  ignored: number;
  ignoredByType: Record<string, number>;
  elapsedMs: number;
  resourcesPerSecond: number;
  peakRssBytes: number;
  /** Set when status is failed. */
  error: string | null;
  /** Resources of the batch being stored when it failed: possibly (partly) stored, not counted above. */
  failedBatch: number;
}

function emptySummary(site: string): ImportSummary {
  return {
    status: 'completed', site, format: null, lines: 0, resources: 0, accepted: 0, acceptedByType: {}, duplicate: 0, rejected: 0, rejectedReasons: [],
    ignored: 0, ignoredByType: {}, elapsedMs: 0, resourcesPerSecond: 0, peakRssBytes: 0, error: null, failedBatch: 0,
  };
}

const n = (x: number) => x.toLocaleString('en-US');
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
const byType = (m: Record<string, number>) => Object.entries(m).sort(([a], [b]) => a.localeCompare(b)).map(([t, c]) => `${t} ${n(c)}`).join(', ');

export function formatSummary(s: ImportSummary): string {
  const lines = [
    `import into site ${s.site}: ${s.status === 'completed' ? 'completed' : 'FAILED'}`,
    `  read:       ${n(s.resources)} resources${s.format === 'ndjson' ? ` from ${n(s.lines)} lines` : s.format === 'json-document' ? ' from one JSON document' : ''}`,
    `  accepted:   ${n(s.accepted)} new${s.accepted ? ` (${byType(s.acceptedByType)})` : ''}`,
    `  duplicate:  ${n(s.duplicate)} (already stored, same version; nothing changed)`,
    `  rejected:   ${n(s.rejected)}`,
  ];
  for (const r of s.rejectedReasons) {
    lines.push(`    ${n(r.count)} x ${r.reason}`);
    for (const e of r.examples) {
      const at = [e.line !== null ? `line ${e.line}` : 'document', e.resource].filter(Boolean).join(' ');
      // The message is in the reason already, unless it says more (a position).
      const what = [e.expression, r.reason.endsWith(e.message) ? null : e.message].filter(Boolean).join(': ');
      lines.push(`      ${at}${what ? `: ${what}` : ''}`);
    }
    if (r.count > r.examples.length) lines.push(`      ... and ${n(r.count - r.examples.length)} more`);
  }
  lines.push(`  ignored:    ${n(s.ignored)}${s.ignored ? ` (types trialbridge does not store: ${byType(s.ignoredByType)})` : ''}`);
  lines.push(`  elapsed:    ${(s.elapsedMs / 1000).toFixed(1)} s, ${n(Math.round(s.resourcesPerSecond))} resources/s, peak RSS ${mib(s.peakRssBytes)}`);
  if (s.status === 'failed') {
    lines.push(`  error:      ${s.error}`);
    lines.push(`  stored:     ${n(s.accepted)} new resources were stored and queued before the failure` +
      (s.failedBatch ? `; the batch of ${n(s.failedBatch)} being stored may be partly stored (rows left in received are queued by a worker's sweeper)` : ''));
    lines.push('  importing the same file again is safe: what is already stored counts as duplicate');
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------ issues ---

/** Validator messages with values elided: only our own code check quotes the value it got. */
function safeMessage(issue: OperationOutcomeIssue): string {
  const raw = issue.details?.text ?? issue.diagnostics ?? issue.code ?? 'invalid';
  return raw.replace(/^Invalid code "(?:[^"\\]|\\.)*"/, 'Invalid code').slice(0, 300);
}

/** Same reason whatever the entry: Bundle.entry[12] and Bundle.entry[3] are one reason. */
const genericExpression = (e: string) => e.replace(/\.entry\[\d+\]/g, '.entry[*]');

const refOf = (r: unknown): string | null => {
  const o = r as { resourceType?: unknown; id?: unknown } | null;
  return o && typeof o.resourceType === 'string' && typeof o.id === 'string' && FHIR_ID.test(o.id) && /^[A-Za-z]{1,64}$/.test(o.resourceType) ? `${o.resourceType}/${o.id}` : null;
};

/** JSON.parse messages may quote the input: the grammar part and the position only (parse-json.ts). */
export const parseProblem = jsonProblem;

interface Problem {
  readonly expression: string | null;
  readonly message: string;
  /** What the problem is counted under; default "expression: message" with entry indexes generalised. */
  readonly reason?: string;
}

// ---------------------------------------------------------------- progress ---

class Progress {
  private nextLineAt = PROGRESS_EVERY;
  private lastDraw = 0;
  private peak = process.memoryUsage().rss;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly s: ImportSummary, private readonly started: number, private readonly stderr: NodeJS.WriteStream) {
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
  }

  /** Samples RSS; returns the current value (the peak is kept). */
  sample(): number {
    const rss = process.memoryUsage().rss;
    this.peak = Math.max(this.peak, rss);
    return rss;
  }

  private line(): string {
    const s = this.s;
    const secs = (performance.now() - this.started) / 1000;
    return `import: ${n(s.resources)} read, ${n(s.accepted)} new, ${n(s.duplicate)} duplicate, ${n(s.rejected)} rejected, ${n(s.ignored)} ignored, ${n(Math.round(s.resources / Math.max(secs, 0.001)))}/s, RSS ${mib(this.sample())}`;
  }

  tick(): void {
    if (this.stderr.isTTY) {
      const now = performance.now();
      if (now - this.lastDraw < 200) return;
      this.lastDraw = now;
      this.stderr.write(`\r${this.line()}\x1b[K`);
    } else if (this.s.resources >= this.nextLineAt) {
      this.nextLineAt = (Math.floor(this.s.resources / PROGRESS_EVERY) + 1) * PROGRESS_EVERY;
      this.stderr.write(`${this.line()}\n`);
    }
  }

  /** Stops sampling; returns the peak RSS. */
  finish(): number {
    clearInterval(this.timer);
    if (this.stderr.isTTY && this.lastDraw) this.stderr.write(`\r${this.line()}\x1b[K\n`);
    this.sample();
    return this.peak;
  }
}

// ------------------------------------------------------------------ import ---

/** The file cannot be read as input at all (exit 1, nothing stored). */
export class InputError extends Error {}

/** The operator stopped the import (SIGINT/SIGTERM): a failed summary, exit 1. */
class Interrupted extends Error {}

/** The database or Redis failed while storing (exit 1). */
class StoreFailure extends Error {
  constructor(readonly cause: unknown, readonly batch: number) {
    super((cause as Error).message);
  }
}

interface Where {
  readonly line: number | null;
}

type Item = AcceptEntry & { readonly where: Where };

export interface ImportOptions {
  readonly site: string;
  readonly batch: number;
  readonly receiver: Receiver;
  readonly traceId: string;
  /** `file` (trialbridge import) or `bulk` (a Bulk Data export's files); default `file`. */
  readonly source?: Extract<AcceptSource, 'file' | 'bulk'>;
  readonly stderr?: NodeJS.WriteStream;
  /** Aborting stops reading after the current line; what was stored stays stored. */
  readonly signal?: AbortSignal;
}

class Importer {
  readonly s: ImportSummary;
  private batch: Item[] = [];
  private inFlight: Promise<void> | null = null;
  private failure: StoreFailure | null = null;
  readonly progress: Progress;
  readonly started = performance.now();

  constructor(private readonly o: ImportOptions) {
    this.s = emptySummary(o.site);
    this.progress = new Progress(this.s, this.started, o.stderr ?? process.stderr);
  }

  reject(where: Where, resource: string | null, issues: readonly Problem[]): void {
    this.s.rejected++;
    this.s.resources++;
    const seen = new Set<string>();
    for (const i of issues) {
      const reason = i.reason ?? (i.expression ? `${genericExpression(i.expression)}: ${i.message}` : i.message);
      if (seen.has(reason)) continue;
      seen.add(reason);
      let r = this.s.rejectedReasons.find((x) => x.reason === reason);
      if (!r) this.s.rejectedReasons.push((r = { reason, count: 0, examples: [] }));
      r.count++;
      if (r.examples.length < EXAMPLES_PER_REASON) r.examples.push({ line: where.line, resource, expression: i.expression, message: i.message });
    }
  }

  private rejectIssues(where: Where, resource: string | null, issues: readonly OperationOutcomeIssue[], fallback: string): void {
    this.reject(where, resource, issues.map((i) => ({ expression: i.expression?.[0] ?? fallback, message: safeMessage(i) })));
  }

  private ignore(type: string): void {
    this.s.ignored++;
    this.s.resources++;
    const t = /^[A-Za-z]{1,64}$/.test(type) ? type : '(unknown)';
    this.s.ignoredByType[t] = (this.s.ignoredByType[t] ?? 0) + 1;
  }

  /** One parsed JSON value: a resource, or a Bundle whose entries are taken one by one (any Bundle.type, each entry on its own). */
  async take(doc: unknown, where: Where): Promise<void> {
    const r = doc as Resource | null;
    if (!r || typeof r !== 'object' || Array.isArray(r) || typeof r.resourceType !== 'string') {
      this.reject(where, null, [{ expression: null, message: 'not a FHIR resource (a JSON object with resourceType)' }]);
      return;
    }
    if (r.resourceType !== 'Bundle') return this.add({ resource: r, path: r.resourceType, where });
    let entries: AcceptEntry[];
    try {
      entries = bundleEntries(r as Bundle, { anyType: true }).entries;
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      this.reject(where, refOf(r), [{ expression: e.expression?.[0] ?? 'Bundle', message: `invalid Bundle: ${e.diagnostics ?? e.code}` }]);
      return;
    }
    for (const entry of entries) await this.add({ ...entry, where });
  }

  async add(item: Item): Promise<void> {
    this.batch.push(item);
    if (this.batch.length >= this.o.batch) await this.flush();
  }

  /** Hands the batch to the receiver; waits for the previous one first, so at most one store is in flight (backpressure). */
  async flush(): Promise<void> {
    await this.settle();
    if (!this.batch.length) return;
    const items = this.batch;
    this.batch = [];
    this.inFlight = this.storeBatch(items).catch((e) => {
      this.failure = e instanceof StoreFailure ? e : new StoreFailure(e, items.length);
    });
  }

  /** Waits for the store in flight; throws its failure. */
  async settle(): Promise<void> {
    const p = this.inFlight;
    this.inFlight = null;
    if (p) await p;
    if (this.failure) throw this.failure;
  }

  private async storeBatch(items: Item[]): Promise<void> {
    let results: AcceptResult[];
    try {
      results = await this.o.receiver.accept(this.o.site, items, { atomic: false, traceId: this.o.traceId, source: this.o.source ?? 'file' });
    } catch (e) {
      throw new StoreFailure(e, items.length);
    }
    results.forEach((r, k) => this.count(items[k], r));
    this.progress.tick();
  }

  private count(item: Item, r: AcceptResult): void {
    switch (r.outcome) {
      case 'created':
      case 'updated':
        this.s.accepted++;
        this.s.acceptedByType[r.resourceType!] = (this.s.acceptedByType[r.resourceType!] ?? 0) + 1;
        this.s.resources++;
        return;
      case 'unchanged':
        this.s.duplicate++;
        this.s.resources++;
        return;
      case 'ignored':
        return this.ignore(r.resourceType ?? '(unknown)');
      default:
        return this.rejectIssues(item.where, refOf(item.resource), r.issues ?? [], item.path);
    }
  }

  finish(error: unknown): ImportSummary {
    const s = this.s;
    s.elapsedMs = performance.now() - this.started;
    s.resourcesPerSecond = s.resources / Math.max(s.elapsedMs / 1000, 0.001);
    s.peakRssBytes = this.progress.finish();
    if (error) {
      s.status = 'failed';
      if (error instanceof StoreFailure) {
        const c = error.cause;
        s.failedBatch = error.batch;
        s.error = c instanceof AppError && c.code === 'queue-unavailable' ? `Redis failed while queueing: ${c.diagnostics}` : `the database or Redis failed: ${(c as Error).message}`;
      } else s.error = (error as Error).message;
    }
    return s;
  }
}

type Format = 'ndjson' | 'json-document';

/**
 * NDJSON unless the file is one pretty-printed JSON document: its first
 * non-blank line does not parse on its own, and neither does the second.
 */
async function detectFormat(file: string): Promise<Format> {
  const fh = await fs.promises.open(file, 'r');
  let head: string;
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    head = buf.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '');
  } finally {
    await fh.close();
  }
  const complete = head.length < HEAD_BYTES ? head.split('\n') : head.split('\n').slice(0, -1);
  const [first, second] = complete.map((l) => l.trim()).filter(Boolean);
  // A first line over 1 MiB is one large resource or Bundle per line, not a pretty-printed document.
  if (first === undefined) return 'ndjson';
  const parses = (l: string | undefined) => {
    if (l === undefined) return false;
    try {
      const v = JSON.parse(l);
      return !!v && typeof v === 'object' && !Array.isArray(v);
    } catch {
      return false;
    }
  };
  if (parses(first) || parses(second)) return 'ndjson';
  return /^[{[]/.test(first) ? 'json-document' : 'ndjson';
}

/** Streams FILE into the receiver. Throws InputError when the file cannot be read; a store failure ends in a 'failed' summary. */
export async function importFile(file: string, o: ImportOptions): Promise<ImportSummary> {
  const imp = new Importer(o);
  let failure: unknown = null;
  try {
    const format = await detectFormat(file).catch((e) => {
      throw new InputError(`cannot read the input file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    });
    imp.s.format = format;
    if (format === 'json-document') {
      const size = (await fs.promises.stat(file)).size;
      if (size > MAX_DOCUMENT_BYTES) {
        throw new InputError(`the input is a single JSON document of ${mib(size)}; over ${mib(MAX_DOCUMENT_BYTES)} it must be NDJSON (one resource, or one Bundle, per line)`);
      }
      let doc: unknown;
      try {
        doc = JSON.parse((await fs.promises.readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
      } catch (e) {
        throw new InputError(`the input is neither NDJSON nor one JSON document: not valid JSON (${parseProblem(e)})`);
      }
      await imp.take(doc, { line: null });
      imp.progress.tick();
    } else {
      const stream = fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 });
      let readError: Error | null = null;
      const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
      stream.on('error', (e) => {
        readError = e;
        rl.close();
      });
      let lineNo = 0;
      for await (const raw of rl) {
        imp.s.lines = ++lineNo;
        if (o.signal?.aborted) throw new Interrupted(`interrupted by ${o.signal.reason ?? 'a signal'} at line ${lineNo}`);
        // Exports written on Windows may start with a byte order mark.
        const text = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
        if (!text.trim()) continue;
        let doc: unknown;
        try {
          doc = JSON.parse(text);
        } catch (e) {
          imp.reject({ line: lineNo }, null, [{ expression: null, message: parseProblem(e), reason: 'not valid JSON' }]);
          imp.progress.tick();
          continue;
        }
        await imp.take(doc, { line: lineNo });
        imp.progress.tick();
      }
      if (readError) throw new InputError(`reading the input file failed after line ${lineNo} (${(readError as NodeJS.ErrnoException).code ?? (readError as Error).message})`);
    }
    await imp.flush();
    await imp.settle();
  } catch (e) {
    // Let the store in flight finish, so the counts say what is in the database.
    await imp.settle().catch(() => undefined);
    if (e instanceof InputError && imp.s.resources === 0) {
      imp.finish(null);
      throw e;
    }
    failure = e;
  }
  return imp.finish(failure);
}

