/**
 * Exports to the trial database (README "Send data to the trial database"):
 * `runExport` reads the dataset, writes the file with the pure writers of
 * src/export, records it (migration 016: the gzip-compressed file, its SHA-256,
 * counts, who and when) and audits `export.create` in one transaction; an `odm`
 * export also moves the transactional state of its (trial, sites) in that same
 * transaction, under an advisory lock, so two exports at once never both send
 * the same change. Every other format is a snapshot and moves nothing.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createGzip, gunzipSync } from 'node:zlib';
import { AppError } from '../errors';
import { exCsv, lbCsv, odmSnapshot, odmTransactional, redcapZip, ODM_CONTENT_TYPE, REDCAP_ZIP_CONTENT_TYPE, SDTM_CONTENT_TYPE, type ExportDataset, type ValueChange } from '../export';
import { appendAudit, type Actor } from './audit';
import type { Db } from './db';
import { loadExportDataset, type ExportDeps } from './export-dataset';
import { applyChanges, lockScope, planChanges, sitesKey } from './export-state';
import type { ScopeFn } from './views';

export { loadExportDataset, sortValues, PIPELINE_USER, type DatasetQuery, type ExportDeps } from './export-dataset';
export { contentHash, sitesKey } from './export-state';

export type ExportFormat = 'odm' | 'odm-snapshot' | 'redcap' | 'lb' | 'ex';
export const EXPORT_FORMATS: readonly ExportFormat[] = Object.freeze(['odm', 'odm-snapshot', 'redcap', 'lb', 'ex']);

/** What each format is: file extension, content type, and whether it continues the transactional state. */
const FORMAT_INFO: Readonly<Record<ExportFormat, { ext: string; contentType: string; kind: 'snapshot' | 'transactional' }>> = {
  odm: { ext: 'xml', contentType: ODM_CONTENT_TYPE, kind: 'transactional' },
  'odm-snapshot': { ext: 'xml', contentType: ODM_CONTENT_TYPE, kind: 'snapshot' },
  redcap: { ext: 'zip', contentType: REDCAP_ZIP_CONTENT_TYPE, kind: 'snapshot' },
  lb: { ext: 'csv', contentType: SDTM_CONTENT_TYPE, kind: 'snapshot' },
  ex: { ext: 'csv', contentType: SDTM_CONTENT_TYPE, kind: 'snapshot' },
};

export function isExportFormat(s: unknown): s is ExportFormat {
  return typeof s === 'string' && (EXPORT_FORMATS as readonly string[]).includes(s);
}

export interface ExportCounts {
  /** Subjects in the dataset (the exporter's scope). */
  readonly subjects: number;
  /** Values the file carries: every exportable value for a snapshot, inserted + updated + removed for `odm`, 0 for `ex`. */
  readonly values: number;
  readonly inserted: number;
  readonly updated: number;
  readonly removed: number;
  /** Administrations the file carries (`ex`, and the dataset's for ODM/REDCap snapshots). */
  readonly administrations: number;
}

export interface ExportRecord {
  /** 'EXP-<n>' (also the ODM FileOID). */
  readonly id: string;
  readonly trial: string;
  readonly format: ExportFormat;
  readonly kind: 'snapshot' | 'transactional';
  /** ISO instant of the previous transactional export it continues (odm only; null for the first and for snapshots). */
  readonly since: string | null;
  /** Dataset asOf. */
  readonly until: string;
  /** Scope of the exporter: site ids, or ['*']. */
  readonly sites: readonly string[];
  readonly counts: ExportCounts;
  /** e.g. NCT05985863-odm-EXP-7.xml / -redcap-EXP-8.zip / -lb-EXP-9.csv */
  readonly fileName: string;
  readonly contentType: string;
  readonly bytes: number;
  /** SHA-256 (hex) of the file as delivered. */
  readonly sha256: string;
  readonly createdBy: string;
  readonly createdAt: string;
}

export interface RunExportRequest {
  readonly trial: string;
  readonly format: ExportFormat;
  readonly actor: Actor;
  /** SQL condition over trial/site (http/scope.ts scopeSql(p, params, alias, 'export')). */
  readonly scope: ScopeFn;
  /** The same scope as site ids or ['*'] (recorded; the transactional state is kept per (trial, sites)). */
  readonly sites: readonly string[];
  readonly onProgress?: (done: number, total: number) => void;
  /** The instant the data is read as (default now); tests pin it. */
  readonly asOf?: string;
}

interface ExportRow {
  seq: number; trial: string; format: ExportFormat; kind: 'snapshot' | 'transactional'; since: Date | null; until: Date; sites: string[];
  counts: ExportCounts; file_name: string; content_type: string; bytes: number; sha256: string; created_by: string; created_at: Date;
}

const COLUMNS = 'seq, trial, format, kind, since, until, sites, counts, file_name, content_type, bytes, sha256, created_by, created_at';

function toRecord(r: ExportRow): ExportRecord {
  return {
    id: `EXP-${Number(r.seq)}`, trial: r.trial, format: r.format, kind: r.kind, since: r.since ? new Date(r.since).toISOString() : null,
    until: new Date(r.until).toISOString(), sites: r.sites, counts: r.counts, fileName: r.file_name, contentType: r.content_type,
    bytes: Number(r.bytes), sha256: r.sha256, createdBy: r.created_by, createdAt: new Date(r.created_at).toISOString(),
  };
}

/** The file of an export of `ds` as chunks (the ODM writers stream); `changes` for `odm` only. */
function fileChunks(format: ExportFormat, ds: ExportDataset, changes: readonly ValueChange[], file: { fileOid: string; priorFileOid: string | null; version: string }): Iterable<string | Uint8Array> {
  const info = { fileOid: file.fileOid, priorFileOid: file.priorFileOid, creationDateTime: ds.asOf, sourceSystemVersion: file.version };
  switch (format) {
    case 'odm':
      return odmTransactional(ds, changes, info);
    case 'odm-snapshot':
      return odmSnapshot(ds, info);
    case 'redcap':
      return [redcapZip(ds)];
    case 'lb':
      return [lbCsv(ds)];
    case 'ex':
      return [exCsv(ds)];
  }
}

/** A stored file: gzip-compressed, with the SHA-256 and length of the uncompressed bytes. */
export interface PackedFile {
  readonly gzip: Buffer;
  readonly sha256: string;
  readonly bytes: number;
}

/**
 * Compresses the chunks as they come, hashing the plain bytes on the way, so a
 * large trial's file (about 85 MiB of ODM for 100 subjects x 2 years of weekly
 * labs) is never held whole in memory: only its compressed form is.
 */
export async function packFile(chunks: Iterable<string | Uint8Array>): Promise<PackedFile> {
  const hash = createHash('sha256');
  const out: Buffer[] = [];
  let bytes = 0;
  const gz = createGzip();
  gz.on('data', (c: Buffer) => out.push(c));
  const ended = once(gz, 'end');
  for (const chunk of chunks) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    hash.update(b);
    bytes += b.length;
    if (!gz.write(b)) await once(gz, 'drain');
  }
  gz.end();
  await ended;
  return { gzip: Buffer.concat(out), sha256: hash.digest('hex'), bytes };
}

/** An export as callers get it: the record and the stored file; `body` decompresses it when read. */
export interface ExportFile {
  readonly record: ExportRecord;
  readonly gzip: Buffer;
  readonly body: Buffer;
}

const exportFile = (record: ExportRecord, gzip: Buffer): ExportFile => ({
  record,
  gzip,
  get body() {
    return gunzipSync(gzip);
  },
});

function countsOf(format: ExportFormat, ds: ExportDataset, changes: readonly ValueChange[]): ExportCounts {
  const n = (k: ValueChange['kind']) => changes.filter((c) => c.kind === k).length;
  const subjects = ds.subjects.length;
  if (format === 'odm') return { subjects, values: changes.length, inserted: n('insert'), updated: n('update'), removed: n('remove'), administrations: ds.administrations.length };
  if (format === 'ex') return { subjects, values: 0, inserted: 0, updated: 0, removed: 0, administrations: ds.administrations.length };
  return { subjects, values: ds.values.length, inserted: 0, updated: 0, removed: 0, administrations: format === 'lb' ? 0 : ds.administrations.length };
}

/** Runs one export: reads, writes, records and audits it (and for `odm` moves the sent state) in one transaction. */
export async function runExport(db: Db, deps: ExportDeps, req: RunExportRequest): Promise<ExportFile> {
  if (!isExportFormat(req.format)) throw new AppError('invalid-export-request', `unknown format ${String(req.format)}; known: ${EXPORT_FORMATS.join(', ')}`, ['format']);
  if (!deps.trials.get(req.trial)) throw new AppError('invalid-export-request', `unknown trial ${req.trial}; known: ${deps.trials.keys.join(', ')}`, ['trial']);
  if (!req.sites.length) throw new AppError('invalid-export-request', 'an export needs a scope of sites', ['sites']);
  const info = FORMAT_INFO[req.format];
  const key = req.sites.includes('*') ? '*' : sitesKey(req.sites);
  const sites = key.split(',');
  return db.transaction(async (tx) => {
    let prior: { seq: number; until: Date } | null = null;
    if (info.kind === 'transactional') {
      // Held until commit: a second export of this scope waits, then sees this one's state.
      await lockScope(tx, req.trial, key);
      const r = await tx.query<{ seq: number; until: Date }>(
        `SELECT seq, until FROM exports WHERE trial = $1 AND sites_key = $2 AND kind = 'transactional' ORDER BY seq DESC LIMIT 1`,
        [req.trial, key],
      );
      prior = r.rows[0] ?? null;
    }
    const ds = await loadExportDataset(tx, deps, { trial: req.trial, scope: req.scope, asOf: req.asOf, onProgress: req.onProgress });
    const planned = info.kind === 'transactional' ? await planChanges(tx, req.trial, key, ds.values) : null;
    const changes = planned?.changes ?? [];
    const seq = Number((await tx.query<{ seq: number }>(`SELECT nextval(pg_get_serial_sequence('exports', 'seq')) AS seq`)).rows[0].seq);
    const id = `EXP-${seq}`;
    const file = await packFile(fileChunks(req.format, ds, changes, { fileOid: id, priorFileOid: prior ? `EXP-${Number(prior.seq)}` : null, version: deps.version }));
    const { sha256, bytes } = file;
    const counts = countsOf(req.format, ds, changes);
    const fileName = `${req.trial}-${req.format}-${id}.${info.ext}`;
    const r = await tx.query<ExportRow>(
      `INSERT INTO exports (seq, trial, format, kind, since, until, sites, sites_key, counts, file_name, content_type, bytes, sha256, body_gzip, created_by, created_by_role)
       VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8, $9::jsonb, $10, $11, $12, $13, $14, $15, $16) RETURNING ${COLUMNS}`,
      [seq, req.trial, req.format, info.kind, prior?.until ?? null, ds.asOf, sites, key, JSON.stringify(counts), fileName, info.contentType, bytes, sha256,
        file.gzip, req.actor.id, req.actor.role],
    );
    if (planned) await applyChanges(tx, req.trial, key, seq, planned);
    const site = sites.length === 1 ? sites[0] : '*';
    await appendAudit(tx, req.actor, {
      trial: req.trial, site, subject: null, entity: 'export', entityId: id, action: 'export.create',
      newValue: { format: req.format, kind: info.kind, sites, fileName, bytes, sha256, counts },
    });
    return exportFile(toRecord(r.rows[0]), file.gzip);
  });
}

/**
 * The condition that every site of an export row `e` is inside the reader's
 * scope: an export of ['*'] needs a grant for every site of its trial.
 */
function visible(scope: ScopeFn, params: unknown[]): string {
  return `NOT EXISTS (SELECT 1 FROM (SELECT e.trial, s AS site FROM unnest(e.sites) AS s) x WHERE NOT (${scope(params, 'x')}))`;
}

/** The exports of a trial the reader may see, newest first. */
export async function listExports(db: Db, q: { trial: string; scope: ScopeFn }): Promise<ExportRecord[]> {
  const p: unknown[] = [q.trial];
  const r = await db.query<ExportRow>(`SELECT ${COLUMNS} FROM exports e WHERE e.trial = $1 AND ${visible(q.scope, p)} ORDER BY e.seq DESC`, p);
  return r.rows.map(toRecord);
}

/** One export with its file (decompressed), or null when it does not exist or lies outside the reader's scope. */
export async function readExport(db: Db, id: string, scope: ScopeFn): Promise<ExportFile | null> {
  const m = /^EXP-([1-9]\d{0,15})$/.exec(id);
  if (!m) return null;
  const p: unknown[] = [Number(m[1])];
  const r = await db.query<ExportRow & { body_gzip: Uint8Array }>(`SELECT ${COLUMNS}, body_gzip FROM exports e WHERE e.seq = $1 AND ${visible(scope, p)}`, p);
  if (!r.rows.length) return null;
  return exportFile(toRecord(r.rows[0]), Buffer.from(r.rows[0].body_gzip));
}
