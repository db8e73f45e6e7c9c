/**
 * The clinical API (README "Clinical API"): investigators' answers to
 * judgement criteria, electronic signatures of a subject's CRF, and people
 * acting on flags. Every endpoint checks scope with the subject's (or flag's)
 * trial and site (http/scope.ts); every action is audited in the transaction
 * that makes it (21 CFR Part 11 §11.10(e)).
 */
import { reevaluate, type ApiDeps } from './deps';
import express, { type Request, type Router } from 'express';
import type { Config } from '../config';
import { AppError } from '../errors';
import { ah, assertCan, can, type Action, type Principal } from '../http';
import { reauthenticatedWithin, REAUTH_WINDOW_MS } from '../http/session';
import { buildSubjectReport } from '../protocol/report/build';
import { reportInput } from '../protocol/report/from-stored';
import { isComputable } from '../protocol/trials';
import { ANSWER_VALUES, insertAnswer, type AnswerValue } from '../store/answers';
import { appendAudit, type Actor } from '../store/audit';
import type { Db } from '../store/db';
import { enrollmentsBySubject } from '../store/enrollment';
import { acknowledgeFlag, flagById, lockSubject, resolveFlag } from '../store/evaluation';
import { createSignature, listSignatures, SIGNATURE_MEANINGS, type SignatureMeaning, type SignatureRow } from '../store/signatures';
import { loadSubjectData } from '../store/subject-data';

/** Longest note kept with an answer, signature or flag action. */
export const MAX_NOTE_LENGTH = 2000;

export type ClinicalDeps = ApiDeps;

interface SubjectKey {
  readonly trial: string;
  readonly subject: string;
  readonly site: string;
}

const json = express.json({ limit: '64kb' });

function body(req: Request): Record<string, unknown> {
  const b: unknown = req.body;
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new AppError('invalid-clinical-request', 'the body must be a JSON object (Content-Type: application/json)');
  return b as Record<string, unknown>;
}

function text(b: Record<string, unknown>, name: string, required: true): string;
function text(b: Record<string, unknown>, name: string, required: false): string | null;
function text(b: Record<string, unknown>, name: string, required: boolean): string | null {
  const v = b[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw new AppError('invalid-clinical-request', `${name} is required`, [name]);
    return null;
  }
  if (typeof v !== 'string') throw new AppError('invalid-clinical-request', `${name} must be a string`, [name]);
  if (v.length > MAX_NOTE_LENGTH) throw new AppError('invalid-clinical-request', `${name} is longer than ${MAX_NOTE_LENGTH} characters`, [name]);
  return v;
}

function queryText(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v) throw new AppError('invalid-query', `${name} must be given once, non-empty`, [name]);
  return v;
}

/** The role of the grant that allows `action` on (trial, site): recorded as the actor's role. */
function actorFor(p: Principal, action: Action, trial: string, site: string): Actor {
  const grant = p.grants.find((g) => can({ ...p, grants: [g] }, action, trial, site));
  return { id: p.id, role: grant?.role ?? 'unknown', name: p.name };
}

/**
 * The one enrollment of `subject` (narrowed by trial/site) that `p` may read,
 * or 404 / 400 when none or several. Only enrollments in scope are candidates,
 * so a refusal never reveals another trial's or site's subject.
 */
async function enrollment(db: Db, p: Principal | undefined, subject: string, asked: { trial?: string; site?: string }): Promise<SubjectKey> {
  const reader = assertCan(p, 'read');
  const found = (await enrollmentsBySubject(db, subject, asked)).filter((e) => can(reader, 'read', e.trial, e.site));
  const distinct = [...new Map(found.map((e) => [`${e.trial}@${e.site}`, e])).values()];
  if (!distinct.length) throw new AppError('not-found', `no enrolled subject "${subject}"${asked.trial ? ` in trial ${asked.trial}` : ''}${asked.site ? ` at site ${asked.site}` : ''}`);
  if (distinct.length > 1) {
    const param = new Set(distinct.map((e) => e.trial)).size > 1 ? 'trial' : 'site';
    throw new AppError('invalid-query', `subject "${subject}" is enrolled in ${distinct.map((e) => `${e.trial}@${e.site}`).join(', ')}; add ?${param}=`, [param]);
  }
  return { trial: distinct[0].trial, subject, site: distinct[0].site };
}

const todayUtc = (): string => new Date().toISOString().slice(0, 10);

/**
 * The subject's eligibility, computed now from stored data (the same builder as
 * GET /report): each criterion with its verdict, reason, evidence (linked to CRF
 * value ids where a CRF value came from the evidence), the trial file's text,
 * and the latest workbench answer.
 */
export async function eligibilityJson(db: Db, deps: ClinicalDeps, k: SubjectKey): Promise<unknown> {
  const trial = deps.trials.get(k.trial);
  const data = await loadSubjectData(db, k);
  const input = data && reportInput(deps, data, todayUtc());
  if (!trial || !data || !input) throw new AppError('not-found', `no trial definition for ${k.trial}`);
  const { report } = buildSubjectReport(input);
  const results = new Map(report.eligibility.criteria.map((c) => [c.id, c]));
  const answers = new Map(data.clinicianAnswers.map((a) => [a.criterion, a]));
  const crfBySource = new Map<string, typeof data.crf>();
  for (const v of data.crf) crfBySource.set(v.source.reference, [...(crfBySource.get(v.source.reference) ?? []), v]);
  const criteria = trial.eligibility.map((c) => {
    const r = results.get(c.id);
    const a = answers.get(c.id);
    const evidence = (r?.evidence ?? []).flatMap((ref) => {
      const values = crfBySource.get(ref);
      if (!values?.length) return [{ reference: ref, label: ref }];
      return values.map((v) => ({ crfValueId: v.id, reference: ref, label: `${v.form}.${v.item} ${v.value}${v.unit ? ` ${v.unit}` : ''}` }));
    });
    return {
      id: c.id, kind: c.type, type: isComputable(c.rule) ? 'computable' : 'judgement', text: c.text,
      verdict: r?.verdict ?? 'unknown', reason: r?.reason ?? '', evidence,
      answer: a ? { answer: a.answer, note: a.note, by: a.by, byName: a.printedName, role: a.role, at: a.at } : null,
    };
  });
  return { trial: k.trial, site: k.site, subject: k.subject, verdict: report.eligibility.overall, criteria };
}

function signatureJson(s: SignatureRow) {
  return {
    id: s.id, trial: s.trial, site: s.site, subject: s.subject, visit: s.visit, signer: s.signer, printedName: s.printedName, meaning: s.meaning,
    signedAt: s.signedAt, signedAtLocal: s.signedAtLocal, valueIds: s.valueIds, valuesHash: s.valuesHash, status: s.status, voidedAt: s.voidedAt, voidReason: s.voidReason,
  };
}

export function clinicalRoutes(_config: Config, db: Db, deps: ClinicalDeps): Router {
  const r = express.Router();

  r.get('/subjects/:subject/eligibility', ah(async (req, res) => {
    const k = await enrollment(db, req.principal, req.params.subject, { trial: queryText(req, 'trial'), site: queryText(req, 'site') });
    assertCan(req.principal, 'read', k.trial, k.site);
    res.json(await eligibilityJson(db, deps, k));
  }));

  // An investigator's answer to a judgement criterion (README "Clinical API").
  r.post('/subjects/:subject/answers', json, ah(async (req, res) => {
    const b = body(req);
    const trial = text(b, 'trial', true);
    const site = text(b, 'site', true);
    const criterionId = text(b, 'criterion', true);
    const answer = text(b, 'answer', true);
    if (!(ANSWER_VALUES as readonly string[]).includes(answer)) throw new AppError('invalid-clinical-request', `answer must be one of ${ANSWER_VALUES.join(', ')}`, ['answer']);
    const note = text(b, 'note', false);
    const p = assertCan(req.principal, 'answer', trial, site);
    const k = await enrollment(db, req.principal, req.params.subject, { trial, site });
    const criterion = deps.trials.get(trial)?.eligibility.find((c) => c.id === criterionId);
    if (!criterion) throw new AppError('unknown-criterion', `trial ${trial} has no eligibility criterion "${criterionId}"`, ['criterion']);
    if (isComputable(criterion.rule)) throw new AppError('criterion-not-answerable', `${trial} ${criterion.id} is lab-computable: its data decide it`, ['criterion']);
    const actor = actorFor(p, 'answer', trial, site);
    await db.transaction(async (tx) => {
      const { answer: row, previous } = await insertAnswer(tx, k, actor, { criterion: criterion.id, answer: answer as AnswerValue, note });
      await appendAudit(tx, actor, {
        trial, site, subject: k.subject, entity: 'eligibility_answer', entityId: `${k.subject}/${criterion.id}`, action: 'answer',
        field: criterion.id, oldValue: previous?.answer ?? null, newValue: row.answer, reason: note,
      }, req.traceId);
    });
    await reevaluate(deps, k);
    res.json(await eligibilityJson(db, deps, k));
  }));

  // An electronic signature (21 CFR Part 11 §11.50, §11.70, §11.200): investigators, re-authenticated browser sessions only.
  r.post('/subjects/:subject/signatures', json, ah(async (req, res) => {
    const b = body(req);
    const trial = text(b, 'trial', true);
    const site = text(b, 'site', true);
    if (b.visit !== null && b.visit !== undefined && typeof b.visit !== 'string') throw new AppError('invalid-clinical-request', 'visit must be a visit code or null (the whole CRF)', ['visit']);
    const visit = (b.visit as string | null | undefined) || null;
    const meaning = text(b, 'meaning', true);
    if (!(SIGNATURE_MEANINGS as readonly string[]).includes(meaning)) throw new AppError('invalid-clinical-request', `meaning must be one of: ${SIGNATURE_MEANINGS.join('; ')}`, ['meaning']);
    const p = assertCan(req.principal, 'answer', trial, site);
    if (p.via !== 'session') {
      throw new AppError('reauthentication-required', 'an electronic signature requires an interactive sign-in in the browser (a bearer token cannot sign)');
    }
    if (!(await reauthenticatedWithin(db, p, REAUTH_WINDOW_MS))) {
      throw new AppError('reauthentication-required', `re-enter your credentials (GET /ui/auth/reauth) within ${REAUTH_WINDOW_MS / 60_000} minutes before signing`);
    }
    const k = await enrollment(db, req.principal, req.params.subject, { trial, site });
    const def = deps.trials.get(trial);
    if (visit !== null && !(def?.visits.some((v) => v.code === visit) || visit === 'SCR')) {
      throw new AppError('invalid-clinical-request', `trial ${trial} defines no visit "${visit}"`, ['visit']);
    }
    // Sign what counts now: the assignments are brought up to date first.
    await reevaluate(deps, k);
    const actor = actorFor(p, 'answer', trial, site);
    const row = await db.transaction(async (tx) => {
      await lockSubject(tx, k);
      return createSignature(tx, k, actor, { visit, meaning: meaning as SignatureMeaning, sessionId: p.sessionId ?? null });
    });
    if (!row) throw new AppError('nothing-to-sign', `no CRF value counts for ${visit ?? 'the CRF'} of this subject`, ['visit']);
    // A new valid signature clears the visit's signature-void flag.
    await reevaluate(deps, k);
    res.status(201).json(signatureJson(row));
  }));

  r.get('/subjects/:subject/signatures', ah(async (req, res) => {
    const k = await enrollment(db, req.principal, req.params.subject, { trial: queryText(req, 'trial'), site: queryText(req, 'site') });
    assertCan(req.principal, 'read', k.trial, k.site);
    res.json((await listSignatures(db, k)).map(signatureJson));
  }));

  const flagAction = (kind: 'acknowledge' | 'resolve') => ah(async (req, res) => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new AppError('not-found', `no flag ${req.params.id}`);
    const b = req.body === undefined ? {} : body(req);
    const note = kind === 'resolve' ? text(b, 'note', true) : text(b, 'note', false);
    const f = await flagById(db, id);
    if (!f) throw new AppError('not-found', `no flag ${id}`);
    const p = assertCan(req.principal, 'flag', f.trial, f.site);
    const actor = actorFor(p, 'flag', f.trial, f.site);
    const done = await db.transaction((tx) => (kind === 'resolve' ? resolveFlag(tx, id, actor, note ?? '') : acknowledgeFlag(tx, id, actor, note)));
    if (!done) throw new AppError('flag-not-open', `flag ${id} is ${f.status}`);
    res.json(done);
  });
  r.post('/flags/:id/acknowledge', json, flagAction('acknowledge'));
  r.post('/flags/:id/resolve', json, flagAction('resolve'));
  return r;
}
