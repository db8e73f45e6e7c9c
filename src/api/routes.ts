/**
 * /api: read-back and review endpoints for users (README "Read-back API", "Review API").
 * Every endpoint filters or checks with the principal's grants (http/scope.ts):
 * listings show only rows of the reader's trials and sites, and a single row
 * outside them is refused with 403 that names the action, never the data.
 */
import type { ApiDeps } from './deps';
import express, { type Router } from 'express';
import type { Config } from '../config';
import { AppError } from '../errors';
import type { Db } from '../store/db';
import { INBOUND_STATES, listInbound, type InboundState } from '../store/inbound';
import { listReviewItems, subjectCrf } from '../store/crf';
import { listUnmapped } from '../store/unmapped';
import { enrollmentsBySubject, type Enrollment } from '../store/enrollment';
import { ah, assertCan, can, requireUser, scopeOf, scopeSql, type Action, type Principal, principalOf } from '../http';
import { siteLocalTime } from '../protocol/schedule';
import { buildSubjectReport } from '../protocol/report/build';
import { reportInput } from '../protocol/report/from-stored';
import { loadSubjectData } from '../store/subject-data';
import { listFlags } from '../store/evaluation';
import { siteOverview } from '../store/sites';
import { clinicalRoutes } from './clinical';
import { reviewRouter } from './review';
import { notifyRouter } from './notify';
import { prescreenRouter, type PrescreenActions } from './prescreen';
import { exportsRouter } from './exports';

/** Page size bounds for listings. */
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

function intParam(v: unknown, name: string, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new AppError('invalid-query', `${name} must be an integer from 0 to ${max}`, [name]);
  return n;
}

/** An optional single-valued text query parameter (`?trial=a&trial=b` is refused, not half-read). */
function textParam(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v) throw new AppError('invalid-query', `${name} must be given once, non-empty`, [name]);
  return v;
}

/**
 * The one (trial, site) enrollment a report is about. A subject number is
 * unique per trial (the first site to enroll it owns it), but the same number
 * may exist in two trials, and data stored before ownership was enforced may
 * name two sites: ?trial= and ?site= pick one.
 */
function oneEnrollment(subject: string, found: readonly Enrollment[], asked: { trial?: string; site?: string }): Enrollment {
  const narrowed = [asked.trial && `trial ${asked.trial}`, asked.site && `site ${asked.site}`].filter(Boolean).join(' at ');
  if (!found.length) throw new AppError('not-found', `no enrolled subject "${subject}"${narrowed ? ` in ${narrowed}` : ''}`);
  const distinct = [...new Map(found.map((e) => [`${e.trial}@${e.site}`, e])).values()];
  if (distinct.length > 1) {
    const param = new Set(distinct.map((e) => e.trial)).size > 1 ? 'trial' : 'site';
    throw new AppError('invalid-query', `subject "${subject}" is enrolled in ${distinct.map((e) => `${e.trial}@${e.site}`).join(', ')}; add ?${param}=`, [param]);
  }
  return distinct[0];
}

export interface ReportDeps extends ApiDeps {
  /** Start screening's front door and EHR write (README "Pre-screening and alerts"). */
  readonly prescreen?: PrescreenActions;
}

/** Refuses a principal that may do `action` nowhere (the listing would always be empty). */
const anywhere = (action: Action) => (req: express.Request, _res: express.Response, next: express.NextFunction) => {
  const p = req.principal;
  if (!p) return next(new AppError('unauthenticated', 'sign-in required'));
  const s = scopeOf(p, action);
  next(s.all || s.pairs.length ? undefined : new AppError('forbidden', `you may not ${action} anywhere`));
};

/** True when some grant of `p` for `action` covers `site` (in any trial). */
function siteInScope(p: Principal, action: Action, site: string): boolean {
  const s = scopeOf(p, action);
  return s.all || s.pairs.some((x) => x.site === '*' || x.site === site);
}

export function apiRouter(config: Config, db: Db, deps: ReportDeps): Router {
  const r = express.Router();
  r.use(requireUser(config.users, config.sites));

  // Connector status per site, for the IT team: contact, cursors, errors, backlog. No PHI, no secrets. Only the reader's sites.
  r.get('/sites', ah(async (req, res) => {
    const p = principalOf(req);
    const sites = [];
    for (const s of config.sites.filter((x) => siteInScope(p, 'read', x.id))) {
      const o = await siteOverview(db, s.id);
      sites.push({
        id: s.id, name: s.name, timeZone: s.timeZone,
        mode: s.fhir ? s.fhir.modes : ['push'],
        fhirBaseUrl: s.fhir?.baseUrl ?? null, auth: s.fhir?.auth.type ?? null,
        pollIntervalMs: s.fhir?.modes.includes('poll') ? s.fhir.pollIntervalMs : null,
        patientScope: s.fhir?.patientScope ?? null,
        ...o,
        subscriptions: o.subscriptions.map((x) => ({ id: x.subscriptionId, key: x.key, resourceType: x.resourceType, status: x.status, error: x.error, lastEventNumber: x.lastEventNumber, lastSeenAt: x.lastSeenAt })),
      });
    }
    res.json({ sites });
  }));

  /** The subject's enrollments the reader may see; 404 when there are none at all, 403 when none is in scope. */
  const visibleEnrollments = async (p: Principal, subject: string, asked: { trial?: string; site?: string } = {}): Promise<Enrollment[]> => {
    const all = await enrollmentsBySubject(db, subject, asked);
    if (!all.length) throw new AppError('not-found', `no enrolled subject "${subject}"`);
    const mine = all.filter((e) => can(p, 'read', e.trial, e.site));
    if (!mine.length) throw new AppError('forbidden', 'you may not read this subject');
    return mine;
  };

  r.get('/subjects/:subject/crf', ah(async (req, res) => {
    const p = principalOf(req);
    const subject = req.params.subject;
    const trial = textParam(req.query.trial, 'trial');
    const site = textParam(req.query.site, 'site');
    const enrollments = await visibleEnrollments(p, subject, { site });
    const values = (await subjectCrf(db, subject, { trial, site, includeSuperseded: req.query.includeSuperseded === 'true' })).filter((v) => can(p, 'read', v.trial, v.site));
    // The instant stays as stored; the site-local date and time are what the CRF records (README Read-back API).
    const local = values.map((v) => ({ ...v, ...siteLocalTime(v.effective, deps.timeZoneOf(v.site)) }));
    res.json({ subject, enrollments: enrollments.map((e) => ({ trial: e.trial, site: e.site, arm: e.arm, status: e.status })), values: local });
  }));

  // The subject report, computed on request from the subject's stored data (same builder as `trialbridge evaluate`).
  r.get('/subjects/:subject/report', ah(async (req, res) => {
    const p = principalOf(req);
    const subject = req.params.subject;
    const asOf = typeof req.query.asOf === 'string' ? req.query.asOf : new Date().toISOString().slice(0, 10);
    if (!/^\d{4}-\d{2}-\d{2}(T[0-9:.+\-Z]+)?$/.test(asOf)) throw new AppError('invalid-query', 'asOf must be a FHIR date (YYYY-MM-DD) or dateTime', ['asOf']);
    const trial = textParam(req.query.trial, 'trial');
    const site = textParam(req.query.site, 'site');
    // Only enrollments in scope are candidates, so a refusal never names another trial's or site's enrollment.
    const e = oneEnrollment(subject, await visibleEnrollments(p, subject, { trial, site }), { trial, site });
    const data = await loadSubjectData(db, { trial: e.trial, subject, site: e.site });
    const input = data && reportInput(deps, data, asOf);
    if (!input) throw new AppError('not-found', `no trial definition for ${e.trial}`);
    res.json(buildSubjectReport(input).report);
  }));

  r.get('/flags', ah(async (req, res) => {
    const p = principalOf(req);
    const limit = intParam(req.query.limit, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
    const afterId = intParam(req.query.after, 'after', 0, Number.MAX_SAFE_INTEGER);
    const q = (k: string) => textParam(req.query[k], k);
    const params: unknown[] = [];
    const sql = scopeSql(p, params);
    const rows = await listFlags(db, { subject: q('subject'), status: q('status'), code: q('code'), trial: q('trial'), site: q('site'), afterId, limit, scope: { sql, params } });
    res.json({ rows, next: rows.length === limit ? rows[rows.length - 1].id : null });
  }));

  // Inbound rows and review items are the data managers' work lists (review: admin, data-manager), each in their scope.
  r.get('/inbound', anywhere('review'), ah(async (req, res) => {
    const p = principalOf(req);
    const state = req.query.state as string | undefined;
    if (state !== undefined && !INBOUND_STATES.includes(state as InboundState)) {
      throw new AppError('invalid-query', `state must be one of ${INBOUND_STATES.join(', ')}`, ['state']);
    }
    const limit = intParam(req.query.limit, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
    const afterId = intParam(req.query.after, 'after', 0, Number.MAX_SAFE_INTEGER);
    const rows = await listInbound(db, { state: state as InboundState | undefined, site: textParam(req.query.site, 'site'), afterId, limit, scope: scopeOf(p, 'review') });
    res.json({ rows, next: rows.length === limit ? rows[rows.length - 1].id : null });
  }));

  r.get('/review-items', anywhere('review'), ah(async (req, res) => {
    const p = principalOf(req);
    const limit = intParam(req.query.limit, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
    const afterId = intParam(req.query.after, 'after', 0, Number.MAX_SAFE_INTEGER);
    const q = (k: string) => textParam(req.query[k], k);
    const params: unknown[] = [];
    const sql = scopeSql(p, params, 'x', 'review');
    const rows = await listReviewItems(db, { status: q('status'), reason: q('reason'), subject: q('subject'), trial: q('trial'), site: q('site'), afterId, limit, scope: { sql, params } });
    res.json({ rows, next: rows.length === limit ? rows[rows.length - 1].id : null });
  }));
  // Codes of Observations no trial maps, by frequency, for IT (candidates for a site code map). Counts and terminology only.
  r.get('/unmapped-codes', anywhere('admin'), ah(async (req, res) => {
    const p = principalOf(req);
    const limit = intParam(req.query.limit, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
    const site = textParam(req.query.site, 'site');
    if (site !== undefined && !config.sites.some((s) => s.id === site)) throw new AppError('invalid-query', `site "${site}" is not configured`, ['site']);
    if (site !== undefined) {
      if (!siteInScope(p, 'admin', site)) assertCan(p, 'admin', '*', site);
      res.json({ rows: await listUnmapped(db, { site, limit }) });
      return;
    }
    if (scopeOf(p, 'admin').all) {
      res.json({ rows: await listUnmapped(db, { limit }) });
      return;
    }
    // Per site in scope, merged by frequency (the few sites one admin holds).
    const per = await Promise.all(config.sites.filter((s) => siteInScope(p, 'admin', s.id)).map((s) => listUnmapped(db, { site: s.id, limit })));
    const rows = per.flat().sort((a, b) => b.count - a.count || a.site.localeCompare(b.site) || a.system.localeCompare(b.system) || a.code.localeCompare(b.code));
    res.json({ rows: rows.slice(0, limit) });
  }));
  r.use(reviewRouter(db, deps));
  r.use(clinicalRoutes(config, db, deps));
  r.use(prescreenRouter(config, db, deps));
  r.use(notifyRouter(config, db));
  r.use(exportsRouter(config, db, deps));
  r.all('*', (req, _res, next) => next(new AppError('not-found', `${req.method} ${req.baseUrl}${req.path}`)));
  return r;
}
