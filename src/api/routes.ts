/** /api: read-back endpoints for data managers and investigators (user tokens only). */
import express, { type Router } from 'express';
import type { Config } from '../config';
import { AppError } from '../errors';
import type { Db } from '../store/db';
import { INBOUND_STATES, listInbound, type InboundState } from '../store/inbound';
import { listReviewItems, subjectCrf } from '../store/crf';
import { listUnmapped } from '../store/unmapped';
import { enrollmentsBySubject, type Enrollment } from '../store/enrollment';
import { ah, requireUser } from '../http';
import type { TrialSet } from '../protocol/trials';
import type { MappingSet } from '../mapping';
import { siteLocalTime } from '../protocol/schedule';
import { buildSubjectReport } from '../protocol/report/build';
import { reportInput } from '../protocol/report/from-stored';
import { loadSubjectData } from '../store/subject-data';
import { listFlags } from '../store/evaluation';
import { siteOverview } from '../store/sites';
import { clinicalRoutes } from './clinical';

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

export interface ReportDeps {
  readonly trials: TrialSet;
  readonly mappings: MappingSet;
  readonly timeZoneOf: (site: string) => string;
  /** Queues a subject's re-evaluation (after a person changed its data). */
  readonly evaluateQueue?: { enqueue(subjects: readonly { trial: string; subject: string; site: string }[]): Promise<void> };
  /** Re-evaluates a subject at once, so the response shows the new verdicts. */
  readonly evaluateNow?: (k: { trial: string; subject: string; site: string }) => Promise<unknown>;
}

export function apiRouter(config: Config, db: Db, deps: ReportDeps): Router {
  const r = express.Router();
  r.use(requireUser(config.users, config.sites));

  // Connector status per site, for the IT team: contact, cursors, errors, backlog. No PHI, no secrets.
  r.get('/sites', ah(async (_req, res) => {
    const sites = [];
    for (const s of config.sites) {
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

  r.get('/subjects/:subject/crf', ah(async (req, res) => {
    const subject = req.params.subject;
    const enrollments = await enrollmentsBySubject(db, subject);
    if (!enrollments.length) throw new AppError('not-found', `no enrolled subject "${subject}"`);
    const trial = typeof req.query.trial === 'string' ? req.query.trial : undefined;
    const values = await subjectCrf(db, subject, { trial, includeSuperseded: req.query.includeSuperseded === 'true' });
    // The instant stays as stored; the site-local date and time are what the CRF records (README Read-back API).
    const local = values.map((v) => ({ ...v, ...siteLocalTime(v.effective, deps.timeZoneOf(v.site)) }));
    res.json({ subject, enrollments: enrollments.map((e) => ({ trial: e.trial, site: e.site, arm: e.arm, status: e.status })), values: local });
  }));

  // The subject report, computed on request from the subject's stored data (same builder as `trialbridge evaluate`).
  r.get('/subjects/:subject/report', ah(async (req, res) => {
    const subject = req.params.subject;
    const asOf = typeof req.query.asOf === 'string' ? req.query.asOf : new Date().toISOString().slice(0, 10);
    if (!/^\d{4}-\d{2}-\d{2}(T[0-9:.+\-Z]+)?$/.test(asOf)) throw new AppError('invalid-query', 'asOf must be a FHIR date (YYYY-MM-DD) or dateTime', ['asOf']);
    const trial = textParam(req.query.trial, 'trial');
    const site = textParam(req.query.site, 'site');
    const e = oneEnrollment(subject, await enrollmentsBySubject(db, subject, { trial, site }), { trial, site });
    const data = await loadSubjectData(db, { trial: e.trial, subject, site: e.site });
    const input = data && reportInput(deps, data, asOf);
    if (!input) throw new AppError('not-found', `no trial definition for ${e.trial}`);
    res.json(buildSubjectReport(input).report);
  }));

  r.get('/flags', ah(async (req, res) => {
    const limit = intParam(req.query.limit, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
    const afterId = intParam(req.query.after, 'after', 0, Number.MAX_SAFE_INTEGER);
    const q = (k: string) => (typeof req.query[k] === 'string' ? (req.query[k] as string) : undefined);
    const rows = await listFlags(db, { subject: q('subject'), status: q('status'), code: q('code'), afterId, limit });
    res.json({ rows, next: rows.length === limit ? rows[rows.length - 1].id : null });
  }));

  const managers = requireUser(config.users, config.sites, ['admin', 'data-manager']);
  r.get('/inbound', managers, ah(async (req, res) => {
    const state = req.query.state as string | undefined;
    if (state !== undefined && !INBOUND_STATES.includes(state as InboundState)) {
      throw new AppError('invalid-query', `state must be one of ${INBOUND_STATES.join(', ')}`, ['state']);
    }
    const limit = intParam(req.query.limit, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
    const afterId = intParam(req.query.after, 'after', 0, Number.MAX_SAFE_INTEGER);
    const rows = await listInbound(db, { state: state as InboundState | undefined, site: req.query.site as string | undefined, afterId, limit });
    res.json({ rows, next: rows.length === limit ? rows[rows.length - 1].id : null });
  }));

  r.get('/review-items', managers, ah(async (req, res) => {
    const limit = intParam(req.query.limit, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
    const afterId = intParam(req.query.after, 'after', 0, Number.MAX_SAFE_INTEGER);
    const q = (k: string) => (typeof req.query[k] === 'string' ? (req.query[k] as string) : undefined);
    const rows = await listReviewItems(db, { status: q('status'), reason: q('reason'), subject: q('subject'), afterId, limit });
    res.json({ rows, next: rows.length === limit ? rows[rows.length - 1].id : null });
  }));
  // Codes of Observations no trial maps, by frequency, for IT (candidates for a site code map). Counts and terminology only.
  r.get('/unmapped-codes', requireUser(config.users, config.sites, ['admin']), ah(async (req, res) => {
    const limit = intParam(req.query.limit, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
    const site = typeof req.query.site === 'string' ? req.query.site : undefined;
    if (site !== undefined && !config.sites.some((s) => s.id === site)) throw new AppError('invalid-query', `site "${site}" is not configured`, ['site']);
    res.json({ rows: await listUnmapped(db, { site, limit }) });
  }));
  r.use(clinicalRoutes(config, db, deps));
  r.all('*', (req, _res, next) => next(new AppError('not-found', `${req.method} ${req.baseUrl}${req.path}`)));
  return r;
}
