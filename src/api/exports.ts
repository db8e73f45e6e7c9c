/**
 * /api/trials/{trial}/exports: files for the trial database (README "Send data
 * to the trial database"). Data managers, monitors and admins (http/scope.ts
 * action `export`) create an export of the trial as far as their grants reach
 * (a user with grants for some sites exports only those sites), list the
 * exports of their scope and download any of them again.
 *
 *  - GET  /api/trials/{trial}/exports        the exports in the caller's scope, newest first, with download links;
 *  - POST /api/trials/{trial}/exports        body {format}: runs one, 201 with its record and Location;
 *  - GET  /api/trials/{trial}/exports/{id}   the file itself, audited (`export.download`) every time.
 *
 * Creating is a POST (RFC 9110 §9.2.1: GET is safe), so a browser session
 * needs the CSRF token like every other change (requireUser on /api).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import fs from 'node:fs';
import path from 'node:path';
import express, { type Request, type Router } from 'express';
import { REPO_ROOT, type Config } from '../config';
import { AppError } from '../errors';
import { ah, assertCan, can, scopeOf, scopeSql, type Principal, principalOf } from '../http';
import { appendAudit, type Actor } from '../store/audit';
import type { Db } from '../store/db';
import { EXPORT_FORMATS, listExports, readExport, runExport, type ExportDeps, type ExportFormat, type ExportRecord } from '../store/exports';
import type { ScopeFn } from '../store/views';
import type { ApiDeps } from './deps';

/** Largest create body ({"format": "..."}). */
export const EXPORT_BODY_LIMIT = '4kb';

/** Export record ids as runExport makes them (also the ODM FileOID). */
const EXPORT_ID = /^EXP-[1-9][0-9]{0,15}$/;

/** The version written into the files (ODM SourceSystemVersion), from the package that runs. */
function packageVersion(): string {
  try {
    return String((JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '0');
  } catch {
    return '0';
  }
}

/** What runExport needs from the running app: trials, mappings, the sites' time zones, user names, the version. */
export function exportDeps(config: Config, deps: Pick<ApiDeps, 'trials' | 'mappings'>, version = packageVersion()): ExportDeps {
  const names = new Map(config.users.map((u) => [u.id, u.name]));
  return { trials: deps.trials, mappings: deps.mappings, sites: config.sites.map((s) => ({ id: s.id, timeZone: s.timeZone })), userName: (id) => names.get(id), version };
}

/** The caller's export scope as an SQL condition (store/views.ts ScopeFn). */
export const exportScopeOf = (p: Principal): ScopeFn => (params, alias) => scopeSql(p, params, alias, 'export');

/**
 * The sites of `trial` the caller may export, as runExport records them: ['*']
 * when a grant covers every site of the trial, else the site ids, sorted
 * (transactional state is kept per (trial, sites), so the order is fixed).
 */
export function exportSites(p: Principal, trial: string): string[] {
  const s = scopeOf(p, 'export');
  if (s.all) return ['*'];
  const mine = s.pairs.filter((x) => x.trial === '*' || x.trial === trial);
  if (mine.some((x) => x.site === '*')) return ['*'];
  return [...new Set(mine.map((x) => x.site))].sort();
}

/** The actor of the audit trail: the user with the role of the grant that allows exporting `trial`. */
export function exportActor(p: Principal, trial: string): Actor {
  assertCan(p, 'export', trial);
  const g = p.grants.find((x) => can({ ...p, grants: [x] }, 'export', trial))!;
  return { id: p.id, role: g.role, name: p.name };
}

/**
 * The trial of the URL, checked in the order that reveals least: 403 for a
 * caller who may export nowhere, 404 for a trial that is not configured, 403
 * for a trial outside the caller's grants.
 */
export function exportTrial(p: Principal, trials: ApiDeps['trials'], trial: string): string {
  if (!can(p, 'export')) throw new AppError('forbidden', 'you may not export anywhere');
  if (!trials.has(trial)) throw new AppError('not-found', `no trial "${trial.slice(0, 64)}"`);
  assertCan(p, 'export', trial);
  return trial;
}

/** The format of a create request: one of EXPORT_FORMATS, else 400 naming the field and the allowed values. */
export function formatOf(body: unknown): ExportFormat {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new AppError('invalid-export-request', `the body must be a JSON object {"format": one of ${EXPORT_FORMATS.join(', ')}}`, ['format']);
  const f = (body as Record<string, unknown>).format;
  if (f === undefined || f === null || f === '') throw new AppError('invalid-export-request', `format is required: one of ${EXPORT_FORMATS.join(', ')}`, ['format']);
  if (typeof f !== 'string' || !(EXPORT_FORMATS as readonly string[]).includes(f)) {
    throw new AppError('invalid-export-request', `format must be one of ${EXPORT_FORMATS.join(', ')}`, ['format']);
  }
  return f as ExportFormat;
}

/** /api/trials/<trial>/exports/<id>, each segment encoded. */
export const exportHref = (trial: string, id: string): string => `/api/trials/${encodeURIComponent(trial)}/exports/${encodeURIComponent(id)}`;

/** The record as the API shows it: every field, plus where to download the file. */
const view = (r: ExportRecord) => ({ ...r, download: exportHref(r.trial, r.id) });

export function exportsRouter(config: Config, db: Db, deps: ApiDeps): Router {
  const r = express.Router();
  const xdeps = exportDeps(config, deps);
  r.use('/trials/:trial/exports', express.json({ limit: EXPORT_BODY_LIMIT, type: ['application/json', 'application/*+json'] }));

  r.get('/trials/:trial/exports', ah(async (req, res) => {
    const p = principalOf(req);
    const trial = exportTrial(p, deps.trials, req.params.trial);
    const rows = await listExports(db, { trial, scope: exportScopeOf(p) });
    res.set('Cache-Control', 'no-store').json({ trial, exports: rows.map(view) });
  }));

  r.post('/trials/:trial/exports', ah(async (req: Request, res) => {
    const p = principalOf(req);
    const trial = exportTrial(p, deps.trials, req.params.trial);
    const format = formatOf(req.body);
    const { record } = await runExport(db, xdeps, { trial, format, actor: exportActor(p, trial), scope: exportScopeOf(p), sites: exportSites(p, trial) });
    res.status(201).location(exportHref(trial, record.id)).set('Cache-Control', 'no-store').json(view(record));
  }));

  r.get('/trials/:trial/exports/:id', ah(async (req, res) => {
    const p = principalOf(req);
    const trial = exportTrial(p, deps.trials, req.params.trial);
    const id = req.params.id;
    const found = EXPORT_ID.test(id) ? await readExport(db, id, exportScopeOf(p)) : null;
    if (!found || found.record.trial !== trial) throw new AppError('not-found', `no export "${id.slice(0, 40)}" of trial ${trial} in your scope`);
    const { record } = found;
    // Every download is a disclosure of trial data: recorded each time, re-downloads too (21 CFR Part 11 §11.10(e)).
    await db.transaction((tx) => appendAudit(tx, exportActor(p, trial), {
      trial, site: record.sites.length === 1 ? record.sites[0] : '*', subject: null,
      entity: 'export', entityId: record.id, action: 'export.download',
      newValue: { format: record.format, fileName: record.fileName, bytes: record.bytes, sha256: record.sha256, sites: record.sites },
    }, req.traceId));
    res.status(200).set({
      'Content-Type': record.contentType,
      // The name is ours (trial key, format, id: ASCII), quoted as RFC 6266 §4.1 asks.
      'Content-Disposition': `attachment; filename="${record.fileName.replace(/["\\\r\n]/g, '_')}"`,
      'Content-Length': String(record.bytes),
      // A strong validator: the file's SHA-256 (RFC 9110 §8.8.3), the same value the record and the audit row carry.
      ETag: `"${record.sha256}"`,
      'Cache-Control': 'no-store',
    });
    // Decompressed on the way out: a large file is never held whole in memory.
    await pipeline(Readable.from([found.gzip]), createGunzip(), res);
  }));
  return r;
}
