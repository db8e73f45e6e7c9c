/**
 * /api/prescreen: potential candidates from routine labs (README "Pre-screening
 * and alerts"). Scoped like every /api endpoint (http/scope.ts): investigators,
 * data managers and admins of the trial and site act (`prescreen`), monitors
 * read. Every read of a candidate, in a list or alone, writes a row to the
 * pre-screen access log (HIPAA 45 CFR 164.312(b) audit controls; minimum
 * necessary, 45 CFR 164.502(b)): who, when, which candidate.
 *
 * Start screening creates the ResearchSubject (status candidate, period.start
 * today) through the one front door, passed in as `deps.prescreen.accept`
 * (api/ never imports ingest/), so the patient then follows the normal path:
 * the enrollment releases the parked labs, which are mapped to CRF values.
 */
import express, { type Router } from 'express';
import type { ResearchSubject } from '@medplum/fhirtypes';
import type { Config, SiteConfig } from '../config';
import { AppError } from '../errors';
import { ah, assertCan, can, scopeSql, type Principal, principalOf } from '../http';
import type { TrialSet } from '../protocol/trials';
import { localDateOf } from '../protocol/schedule/dates';
import { asActor, type Actor } from '../store/audit';
import type { Db } from '../store/db';
import { CANDIDATE_STATUSES, candidateById, dismissCandidate, listCandidates, logAccess, markScreening, type CandidateRow, type CandidateStatus } from '../store/prescreen';

/** What start screening needs from the rest of the app (passed in from app.ts). */
export interface PrescreenActions {
  /** Stores a resource through the front door (ingest Receiver.accept); resolves with the outcome, or throws AppError. */
  accept(site: string, resource: ResearchSubject, traceId: string): Promise<{ outcome: string; id?: string; detail?: string }>;
  /** Creates the resource on the site's EHR (connect SiteClient.create), for sites whose write-back allows it. */
  createOnEhr?(site: SiteConfig, resource: ResearchSubject): Promise<{ id?: string }>;
}

export interface PrescreenApiDeps {
  readonly trials: TrialSet;
  readonly timeZoneOf: (site: string) => string;
  readonly prescreen?: PrescreenActions;
}

/** The ResearchSubject identifier system for subject numbers (as the enrollment parser reads them). */
export const SUBJECT_SYSTEM = 'urn:trialbridge:subject';
const SUBJECT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_REASON = 200;
const MAX_NOTE = 2000;
export const PRESCREEN_LIST_LIMIT = 500;

/** The actor of the audit trail: the user with the role of the grant that allowed `prescreen` here. */
function actorFor(p: Principal, trial: string, site: string): Actor {
  assertCan(p, 'prescreen', trial, site);
  const g = p.grants.find((x) => can({ ...p, grants: [x] }, 'prescreen', trial, site))!;
  return { id: p.id, role: g.role, name: p.name };
}

/** The role under which `p` reads (for the access log). */
function readRole(p: Principal, c: CandidateRow): string {
  return p.grants.find((x) => can({ ...p, grants: [x] }, 'read', c.trial, c.site))?.role ?? 'unknown';
}

function text(v: unknown, name: string, max: number, required: boolean): string | null {
  if (v === undefined || v === null || v === '') {
    if (required) throw new AppError('invalid-prescreen-request', `${name} is required`, [name]);
    return null;
  }
  if (typeof v !== 'string' || !v.trim() || v.length > max) throw new AppError('invalid-prescreen-request', `${name} must be a non-empty string of at most ${max} characters`, [name]);
  return v.trim();
}

function query(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v) throw new AppError('invalid-query', `${name} must be given once, non-empty`, [name]);
  return v;
}

/** Evidence as shown: the source results' references, not the Patient's (the age is given; minimum necessary). */
function shownEvidence(evidence: readonly unknown[]): unknown[] {
  return evidence.map((e) => {
    const x = e as { refs?: unknown };
    return Array.isArray(x.refs) ? { ...x, refs: x.refs.filter((r) => typeof r === 'string' && !r.startsWith('Patient/')) } : e;
  });
}

/** The API shape of a candidate: the pre-screen id, never the patient id. */
function view(c: CandidateRow) {
  return {
    id: c.id, trial: c.trial, site: c.site, status: c.status, ageYears: c.ageYears, screeningDate: c.screeningDate,
    evidence: shownEvidence(c.evidence), toCheck: c.toCheck, reason: c.reason, note: c.note,
    firstQualifiedAt: c.firstQualifiedAt, updatedAt: c.updatedAt, dismissedBy: c.dismissedBy, dismissedAt: c.dismissedAt,
    screeningSubject: c.screeningSubject, screeningAt: c.screeningAt,
  };
}

/** Whether the site's write-back configuration lets us create the ResearchSubject on its EHR. */
function writesBack(site: SiteConfig): boolean {
  const wb = (site.fhir as { writeBack?: unknown } | null)?.writeBack;
  if (wb === true) return true;
  return !!wb && typeof wb === 'object' && (wb as { researchSubject?: unknown }).researchSubject !== false && (wb as { enabled?: unknown }).enabled !== false;
}

export function prescreenRouter(config: Config, db: Db, deps: PrescreenApiDeps): Router {
  const r = express.Router();
  r.use('/prescreen', express.json({ limit: '16kb', type: ['application/json', 'application/*+json'] }));

  /** A candidate the reader may read, or 404 (out of scope is not found: its existence is not disclosed). */
  const visible = async (p: Principal, id: string): Promise<CandidateRow> => {
    const c = await candidateById(db, id);
    if (!c || !can(p, 'read', c.trial, c.site)) throw new AppError('not-found', `no pre-screen candidate "${id.slice(0, 20)}"`);
    return c;
  };

  r.get('/prescreen', ah(async (req, res) => {
    const p = principalOf(req);
    const status = query(req.query.status, 'status');
    if (status !== undefined && !CANDIDATE_STATUSES.includes(status as CandidateStatus)) {
      throw new AppError('invalid-prescreen-request', `status must be one of ${CANDIDATE_STATUSES.join(', ')}`, ['status']);
    }
    const params: unknown[] = [];
    const sql = scopeSql(p, params);
    const rows = await listCandidates(db, { trial: query(req.query.trial, 'trial'), site: query(req.query.site, 'site'), status: status as CandidateStatus | undefined, limit: PRESCREEN_LIST_LIMIT, scope: { sql, params } });
    for (const c of rows) await logAccess(db, [c], { id: p.id, role: readRole(p, c) }, 'list', req.traceId);
    res.json({ rows: rows.map(view) });
  }));

  r.get('/prescreen/:id', ah(async (req, res) => {
    const p = principalOf(req);
    const c = await visible(p, req.params.id);
    await logAccess(db, [c], { id: p.id, role: readRole(p, c) }, 'view', req.traceId);
    res.json(view(c));
  }));

  r.post('/prescreen/:id/dismiss', ah(async (req, res) => {
    const p = principalOf(req);
    const c = await visible(p, req.params.id);
    const actor = actorFor(p, c.trial, c.site);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const reason = text(body.reason, 'reason', MAX_REASON, true)!;
    const note = text(body.note, 'note', MAX_NOTE, false);
    const done = await asActor(db, { actor, action: 'prescreen-dismiss', reason, traceId: req.traceId }, async (tx) => {
      const d = await dismissCandidate(tx, c.id, actor, reason, note, req.traceId);
      if (d) await logAccess(tx, [d], actor, 'dismiss', req.traceId);
      return d;
    });
    if (!done) throw new AppError('prescreen-not-potential', `pre-screen candidate ${c.id} is ${c.status === 'potential' ? 'no longer potential' : c.status}`);
    res.json(view(done));
  }));

  r.post('/prescreen/:id/start-screening', ah(async (req, res) => {
    const p = principalOf(req);
    const c = await visible(p, req.params.id);
    const actor = actorFor(p, c.trial, c.site);
    if (c.status !== 'potential') throw new AppError('prescreen-not-potential', `pre-screen candidate ${c.id} is ${c.status}`);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const given = body.subject === undefined || body.subject === null || body.subject === '' ? null : body.subject;
    if (given !== null && (typeof given !== 'string' || !SUBJECT.test(given))) {
      throw new AppError('invalid-prescreen-request', 'subject must be 1-64 characters [A-Za-z0-9._-], starting with a letter or digit', ['subject']);
    }
    // Without a number from the investigator, the pre-screen id serves until the trial assigns one (it identifies nobody).
    const subject = (given as string | null) ?? c.id;
    const trial = deps.trials.get(c.trial);
    if (!trial) throw new AppError('not-found', `no trial definition for ${c.trial}`);
    const site = config.sites.find((s) => s.id === c.site);
    if (!site || !deps.prescreen) throw new AppError('not-found', `site ${c.site} is not configured`);
    const today = localDateOf(Date.now(), deps.timeZoneOf(c.site));
    // The id is derived from the pre-screen id, so a retried request updates the same ResearchSubject (PUT is idempotent).
    const rs: ResearchSubject = {
      resourceType: 'ResearchSubject', id: c.id.toLowerCase(), status: 'candidate',
      identifier: [{ system: SUBJECT_SYSTEM, value: subject }],
      period: { start: today },
      study: { identifier: { system: 'https://clinicaltrials.gov', value: trial.registryId ?? trial.key } },
      individual: { reference: `Patient/${c.patientId}` },
    };
    const stored = await deps.prescreen.accept(c.site, rs, req.traceId ?? '');
    if (!['created', 'updated', 'unchanged'].includes(stored.outcome)) {
      throw new AppError('invalid-prescreen-request', `the ResearchSubject was not stored (${stored.outcome}${stored.detail ? `: ${stored.detail}` : ''})`, ['subject']);
    }
    let ehr: { status: 'created' | 'failed' | 'not-configured'; id?: string; error?: string } = { status: 'not-configured' };
    if (site.fhir && writesBack(site) && deps.prescreen.createOnEhr) {
      try {
        const made = await deps.prescreen.createOnEhr(site, rs);
        ehr = { status: 'created', id: made.id };
      } catch (e) {
        // Stored here and on its way through the normal path; the EHR copy can be made again by hand.
        ehr = { status: 'failed', error: (e as Error).message.slice(0, 300) };
      }
    }
    const done = await asActor(db, { actor, action: 'prescreen-start-screening', reason: null, traceId: req.traceId }, async (tx) => {
      const d = await markScreening(tx, c.id, actor, subject, req.traceId);
      if (d) await logAccess(tx, [d], actor, 'start-screening', req.traceId);
      return d;
    });
    if (!done) throw new AppError('prescreen-not-potential', `pre-screen candidate ${c.id} is no longer potential`);
    res.status(201).json({ ...view(done), researchSubject: `ResearchSubject/${stored.id ?? rs.id}`, ehr });
  }));
  return r;
}
