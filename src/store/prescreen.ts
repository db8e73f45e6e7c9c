/**
 * Pre-screen candidates (migration 013): the patient's stored data for the
 * engine, the candidate row and its `potential-candidate` flag, people's
 * decisions (dismiss, start screening; audited), and the access log of every
 * view (README "Pre-screening and alerts").
 *
 * A candidate raises one flag in `flags` (subject = the pre-screen id, never a
 * patient id), resolved when it is withdrawn, dismissed or moves to screening,
 * so notifications treat pre-screen and subject flags alike.
 */
import crypto from 'node:crypto';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { appendAudit, type Actor } from './audit';
import type { Db } from './db';
import { flagKey } from './evaluation';

export type CandidateStatus = 'potential' | 'withdrawn' | 'dismissed' | 'screening';
export const CANDIDATE_STATUSES: readonly CandidateStatus[] = ['potential', 'withdrawn', 'dismissed', 'screening'];

export const POTENTIAL_FLAG = 'potential-candidate';
const FLAG_KEY = flagKey({ code: POTENTIAL_FLAG, visit: null, criterion: null, evidence: [] });

/** RFC 4648 base32 alphabet: no 0/1/8/9, so ids read aloud are unambiguous. */
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `PS-` + 10 random base32 characters: random, never derived from the MRN or patient id. */
export function newCandidateId(): string {
  const bytes = crypto.randomBytes(10);
  return `PS-${[...bytes].map((b) => BASE32[b & 31]).join('')}`;
}

export const CANDIDATE_ID = /^PS-[A-Z2-7]{10}$/;

/** Per-patient serialisation of pre-screening (two labs of one patient in two jobs). */
const PRESCREEN_LOCK = 7_243_013;

/**
 * Locks the patients until the end of the caller's transaction. In sorted order,
 * so two jobs whose batches overlap wait for each other instead of deadlocking.
 */
export async function lockPrescreenPatients(tx: Db, site: string, patientIds: readonly string[]): Promise<void> {
  const keys = [...new Set(patientIds)].sort().map((p) => `${site}|${p}`);
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext(k)) FROM unnest($2::text[]) AS k', [PRESCREEN_LOCK, keys]);
}

/** What the engine reads about a patient: the latest Patient and the latest version of each lab Observation. */
export interface PrescreenPatientData {
  readonly patient: Patient | null;
  readonly observations: { resource: Observation; inboundId: number; fallbackEffective: string | null }[];
}

/**
 * The patients' stored data in two statements for the whole batch. Inbound rows
 * name their patient by the logical id or by `identifier:<system>|<value>`
 * (ingest resolves what it can), so both keys are looked up.
 */
/**
 * What the quick checks read of an Observation (queue/prescreen.ts): its code,
 * status, value and reference range, extracted by PostgreSQL so the bodies of
 * patients who cannot qualify are never transferred or parsed.
 */
export const SLIM_OBSERVATION = `jsonb_strip_nulls(jsonb_build_object('resourceType', body->'resourceType', 'id', body->'id', 'status', body->'status', 'code', body->'code', 'valueQuantity', body->'valueQuantity', 'referenceRange', body->'referenceRange'))`;

export async function loadPrescreenPatients(db: Db, site: string, patientIds: readonly string[], opts: { slim?: boolean } = {}): Promise<Map<string, PrescreenPatientData>> {
  const ids = [...new Set(patientIds)];
  const owner = new Map<string, string>(ids.map((p) => [p, p]));
  const idents = await db.query<{ system: string; value: string; patient_id: string }>('SELECT system, value, patient_id FROM patient_identifiers WHERE site = $1 AND patient_id = ANY($2::text[])', [site, ids]);
  for (const x of idents.rows) owner.set(`identifier:${x.system}|${x.value}`, x.patient_id);
  const r = await db.query<{ id: number; resource_type: string; resource_id: string; patient_id: string | null; body: Patient | Observation; context: Record<string, unknown> | null }>(
    `SELECT DISTINCT ON (resource_type, resource_id) id, resource_type, resource_id, patient_id, ${opts.slim ? `CASE WHEN resource_type = 'Observation' THEN ${SLIM_OBSERVATION} ELSE body END AS body` : 'body'}, context FROM inbound
     WHERE site = $1 AND ((resource_type = 'Patient' AND resource_id = ANY($2::text[])) OR (resource_type = 'Observation' AND patient_id = ANY($3::text[])))
       AND state <> 'failed'
     ORDER BY resource_type, resource_id, coalesce(last_updated, received_at) DESC, id DESC`,
    [site, ids, [...owner.keys()]],
  );
  const out = new Map<string, PrescreenPatientData>(ids.map((p) => [p, { patient: null, observations: [] }]));
  for (const x of r.rows) {
    if (x.resource_type === 'Patient') {
      const d = out.get(x.resource_id);
      if (d) out.set(x.resource_id, { ...d, patient: x.body as Patient });
      continue;
    }
    const o = x.body as Observation;
    const d = x.patient_id ? out.get(owner.get(x.patient_id) ?? '') : undefined;
    if (!d || o.status === 'entered-in-error') continue;
    d.observations.push({ resource: o, inboundId: Number(x.id), fallbackEffective: typeof x.context?.fallbackEffective === 'string' ? x.context.fallbackEffective : null });
  }
  return out;
}

/** Trials each patient has an enrollment in at the site, in any status (they are not pre-screened for those). */
export async function enrolledTrialsOf(db: Db, site: string, patientIds: readonly string[]): Promise<Map<string, Set<string>>> {
  const r = await db.query<{ trial: string; patient_id: string }>(
    `SELECT DISTINCT e.trial, e.patient_id FROM enrollments e WHERE e.site = $1 AND e.patient_id = ANY($2::text[])
     UNION
     SELECT DISTINCT e.trial, pi.patient_id FROM enrollments e
       JOIN patient_identifiers pi ON pi.site = e.site AND pi.system = e.individual_system AND pi.value = e.individual_value
     WHERE e.site = $1 AND pi.patient_id = ANY($2::text[])`,
    [site, [...new Set(patientIds)]],
  );
  const out = new Map<string, Set<string>>();
  for (const x of r.rows) {
    let s = out.get(x.patient_id);
    if (!s) out.set(x.patient_id, (s = new Set()));
    s.add(x.trial);
  }
  return out;
}

export interface CandidateRow {
  readonly id: string;
  readonly trial: string;
  readonly site: string;
  readonly patientId: string;
  readonly status: CandidateStatus;
  readonly evidence: unknown[];
  readonly toCheck: { id: string; type: string; text: string }[];
  readonly reason: string | null;
  readonly note: string | null;
  readonly ageYears: number | null;
  readonly screeningDate: string | null;
  readonly firstQualifiedAt: string;
  readonly updatedAt: string;
  readonly dismissedBy: string | null;
  readonly dismissedAt: string | null;
  readonly screeningSubject: string | null;
  readonly screeningAt: string | null;
}

type Raw = {
  id: string; trial: string; site: string; patient_id: string; status: CandidateStatus; evidence: { criteria?: unknown[]; screeningDate?: string } | unknown[];
  to_check: CandidateRow['toCheck']; reason: string | null; note: string | null; age_years: number | null; first_qualified_at: Date; updated_at: Date;
  dismissed_by: string | null; dismissed_at: Date | null; screening_subject: string | null; screening_at: Date | null;
};
const COLUMNS = 'id, trial, site, patient_id, status, evidence, to_check, reason, note, age_years, first_qualified_at, updated_at, dismissed_by, dismissed_at, screening_subject, screening_at';
const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function fromRaw(x: Raw): CandidateRow {
  const ev = Array.isArray(x.evidence) ? { criteria: x.evidence, screeningDate: undefined } : x.evidence;
  return {
    id: x.id, trial: x.trial, site: x.site, patientId: x.patient_id, status: x.status, evidence: ev.criteria ?? [], toCheck: x.to_check,
    reason: x.reason, note: x.note, ageYears: x.age_years, screeningDate: ev.screeningDate ?? null,
    firstQualifiedAt: new Date(x.first_qualified_at).toISOString(), updatedAt: new Date(x.updated_at).toISOString(),
    dismissedBy: x.dismissed_by, dismissedAt: iso(x.dismissed_at), screeningSubject: x.screening_subject, screeningAt: iso(x.screening_at),
  };
}

/** The result of pre-screening one patient for one trial, as the store keeps it. */
export type Outcome =
  | {
      readonly kind: 'potential';
      readonly evidence: readonly unknown[];
      readonly refs: readonly string[];
      readonly toCheck: readonly { id: string; type: string; text: string }[];
      readonly ageYears: number | null;
      readonly screeningDate: string;
    }
  | { readonly kind: 'none'; readonly reason: string };

export type Applied = 'raised' | 'updated' | 'withdrawn' | 'unchanged';

/** PHI-free: counts only (clinical-reference criterion ids are not data about the patient). */
const flagMessage = (toCheck: number) => `potential candidate: every lab-computable criterion met; ${toCheck} criteria to check`;

async function raiseFlag(tx: Db, c: { id: string; trial: string; site: string }, refs: readonly string[], toCheck: number): Promise<void> {
  await tx.query(
    `INSERT INTO flags (trial, subject, site, key, code, severity, visit, criterion, message, evidence) VALUES ($1, $2, $3, $4, $5, 'info', NULL, NULL, $6, $7::jsonb)
     ON CONFLICT (trial, subject, site, key) WHERE status = 'open' DO UPDATE SET message = EXCLUDED.message, evidence = EXCLUDED.evidence`,
    [c.trial, c.id, c.site, FLAG_KEY, POTENTIAL_FLAG, flagMessage(toCheck), JSON.stringify([c.id, ...refs])],
  );
}

async function resolveFlag(tx: Db, c: { id: string; trial: string; site: string }, by?: { actor: Actor; note: string }): Promise<void> {
  await tx.query(
    `UPDATE flags SET status = 'resolved', resolved_at = clock_timestamp(), resolved_by = $5, resolved_by_name = $6, resolution_note = $7
     WHERE trial = $1 AND subject = $2 AND site = $3 AND key = $4 AND status = 'open'`,
    [c.trial, c.id, c.site, FLAG_KEY, by?.actor.id ?? null, by?.actor.name ?? null, by?.note ?? null],
  );
}

/**
 * Stores one pre-screen result (call under lockPrescreenPatients): a new
 * potential candidate is created with its flag; a candidate who still
 * qualifies gets the new evidence and keeps its one open flag (no second
 * alert); a candidate who stops qualifying is withdrawn with the reason and its
 * flag resolved; a withdrawn one who qualifies again is potential again with a
 * new flag row (a new cause). Dismissed and screening candidates are people's
 * decisions and stay as they are.
 */
export async function applyOutcome(tx: Db, k: { trial: string; site: string; patientId: string; retainDays: number }, o: Outcome, current?: CandidateRow | null): Promise<Applied> {
  const row = current !== undefined ? current : (await candidatesOf(tx, k.site, [k.patientId], [k.trial])).get(candidateKey(k.trial, k.patientId)) ?? null;
  if (o.kind === 'none') {
    if (row?.status !== 'potential') return 'unchanged';
    await tx.query(`UPDATE prescreen_candidates SET status = 'withdrawn', reason = $2, updated_at = clock_timestamp() WHERE id = $1`, [row.id, o.reason]);
    await resolveFlag(tx, row);
    return 'withdrawn';
  }
  if (!row) {
    await insertCandidates(tx, [{ key: k, outcome: o }]);
    return 'raised';
  }
  if (row.status === 'dismissed' || row.status === 'screening') return 'unchanged';
  const evidence = JSON.stringify({ screeningDate: o.screeningDate, criteria: o.evidence });
  await tx.query(
    `UPDATE prescreen_candidates SET status = 'potential', reason = NULL, evidence = $2::jsonb, to_check = $3::jsonb, age_years = $4, retain_days = $5, updated_at = clock_timestamp() WHERE id = $1`,
    [row.id, evidence, JSON.stringify(o.toCheck), o.ageYears, k.retainDays],
  );
  await raiseFlag(tx, row, o.refs, o.toCheck.length);
  return row.status === 'withdrawn' ? 'raised' : 'updated';
}

/** One patient's result for one trial, with its current candidate row (from candidatesOf). */
export interface OutcomeItem {
  readonly key: { trial: string; site: string; patientId: string; retainDays: number };
  readonly outcome: Outcome;
  readonly current: CandidateRow | null;
}

/**
 * applyOutcome for a batch (call under lockPrescreenPatients). New potential
 * candidates, the common case of a burst, are inserted with their flags in two
 * statements; every other case goes through applyOutcome. Results in input order.
 */
export async function applyOutcomes(tx: Db, items: readonly OutcomeItem[]): Promise<Applied[]> {
  const out: Applied[] = new Array(items.length);
  const fresh: { i: number; key: OutcomeItem['key']; outcome: PotentialOutcome }[] = [];
  for (const [i, item] of items.entries()) {
    if (!item.current && item.outcome.kind === 'potential') fresh.push({ i, key: item.key, outcome: item.outcome });
    else out[i] = await applyOutcome(tx, item.key, item.outcome, item.current);
  }
  await insertCandidates(tx, fresh);
  for (const x of fresh) out[x.i] = 'raised';
  return out;
}

type PotentialOutcome = Extract<Outcome, { kind: 'potential' }>;

/** New potential candidates and their open flags, in two statements whatever their number. */
async function insertCandidates(tx: Db, rows: readonly { key: OutcomeItem['key']; outcome: PotentialOutcome }[]): Promise<void> {
  if (!rows.length) return;
  const ids = rows.map(() => newCandidateId());
  const col = <T>(f: (x: (typeof rows)[number]) => T) => rows.map(f);
  await tx.query(
    `INSERT INTO prescreen_candidates (id, trial, site, patient_id, status, evidence, to_check, age_years, retain_days)
     SELECT id, trial, site, patient_id, 'potential', evidence::jsonb, to_check::jsonb, age_years, retain_days
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[]) AS x(id, trial, site, patient_id, evidence, to_check, age_years, retain_days)`,
    [ids, col((x) => x.key.trial), col((x) => x.key.site), col((x) => x.key.patientId),
      col((x) => JSON.stringify({ screeningDate: x.outcome.screeningDate, criteria: x.outcome.evidence })), col((x) => JSON.stringify(x.outcome.toCheck)),
      col((x) => x.outcome.ageYears), col((x) => x.key.retainDays)],
  );
  await tx.query(
    `INSERT INTO flags (trial, subject, site, key, code, severity, visit, criterion, message, evidence)
     SELECT trial, subject, site, $4, $5, 'info', NULL, NULL, message, evidence::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $6::text[], $7::text[]) AS x(trial, subject, site, message, evidence)`,
    [col((x) => x.key.trial), ids, col((x) => x.key.site), FLAG_KEY, POTENTIAL_FLAG,
      col((x) => flagMessage(x.outcome.toCheck.length)), rows.map((x, i) => JSON.stringify([ids[i], ...x.outcome.refs]))],
  );
}

export const candidateKey = (trial: string, patientId: string): string => `${trial}\u0000${patientId}`;

/** The candidate rows of these patients for these trials, locked for update, by candidateKey. */
export async function candidatesOf(tx: Db, site: string, patientIds: readonly string[], trials: readonly string[]): Promise<Map<string, CandidateRow>> {
  const r = await tx.query<Raw>(`SELECT ${COLUMNS} FROM prescreen_candidates WHERE site = $1 AND patient_id = ANY($2::text[]) AND trial = ANY($3::text[]) FOR UPDATE`, [site, [...new Set(patientIds)], [...trials]]);
  return new Map(r.rows.map((x) => [candidateKey(x.trial, x.patient_id), fromRaw(x)]));
}

export interface CandidateQuery {
  readonly trial?: string;
  readonly site?: string;
  readonly status?: CandidateStatus;
  readonly limit: number;
  /** SQL over the columns trial and site (http/scope.ts scopeSql), parameters from $1. */
  readonly scope: { sql: string; params: readonly unknown[] };
}

/** Candidates in scope, most recently qualified first. */
export async function listCandidates(db: Db, q: CandidateQuery): Promise<CandidateRow[]> {
  const params: unknown[] = [...q.scope.params];
  const where = [q.scope.sql];
  for (const [col, v] of [['trial', q.trial], ['site', q.site], ['status', q.status]] as const) {
    if (v === undefined) continue;
    params.push(v);
    where.push(`${col} = $${params.length}`);
  }
  params.push(q.limit);
  const r = await db.query<Raw>(`SELECT ${COLUMNS} FROM prescreen_candidates WHERE ${where.join(' AND ')} ORDER BY first_qualified_at DESC, id LIMIT $${params.length}`, params);
  return r.rows.map(fromRaw);
}

export async function candidateById(db: Db, id: string, forUpdate = false): Promise<CandidateRow | null> {
  if (!CANDIDATE_ID.test(id)) return null;
  const r = await db.query<Raw>(`SELECT ${COLUMNS} FROM prescreen_candidates WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ? fromRaw(r.rows[0]) : null;
}

export type Access = 'list' | 'view' | 'dismiss' | 'start-screening';

/** One access-log row per candidate read or acted on: who, when, which (ids only). */
export async function logAccess(db: Db, rows: readonly { id: string; trial: string; site: string }[], who: { id: string; role: string }, access: Access, traceId?: string | null): Promise<void> {
  if (!rows.length) return;
  await db.query(
    `INSERT INTO prescreen_access_log (candidate_id, trial, site, user_id, user_role, access, trace_id)
     SELECT c, t, s, $4, $5, $6, $7 FROM unnest($1::text[], $2::text[], $3::text[]) AS x(c, t, s)`,
    [rows.map((r) => r.id), rows.map((r) => r.trial), rows.map((r) => r.site), who.id, who.role, access, traceId ?? null],
  );
}

export async function accessLog(db: Db, candidateId: string): Promise<{ userId: string; userRole: string; access: string; at: string }[]> {
  const r = await db.query<{ user_id: string; user_role: string; access: string; at: Date }>('SELECT user_id, user_role, access, at FROM prescreen_access_log WHERE candidate_id = $1 ORDER BY id', [candidateId]);
  return r.rows.map((x) => ({ userId: x.user_id, userRole: x.user_role, access: x.access, at: new Date(x.at).toISOString() }));
}

/** A person dismisses a potential candidate (reason, note): flag resolved, audited. Null when it is not potential. */
export async function dismissCandidate(tx: Db, id: string, actor: Actor, reason: string, note: string | null, traceId?: string | null): Promise<CandidateRow | null> {
  const r = await tx.query<Raw>(
    `UPDATE prescreen_candidates SET status = 'dismissed', reason = $2, note = $3, dismissed_by = $4, dismissed_by_name = $5, dismissed_at = clock_timestamp(), updated_at = clock_timestamp()
     WHERE id = $1 AND status = 'potential' RETURNING ${COLUMNS}`,
    [id, reason, note, actor.id, actor.name],
  );
  if (!r.rows[0]) return null;
  const c = fromRaw(r.rows[0]);
  await resolveFlag(tx, c, { actor, note: note ? `dismissed: ${reason}; ${note}` : `dismissed: ${reason}` });
  await appendAudit(tx, actor, { trial: c.trial, site: c.site, subject: c.id, entity: 'prescreen', entityId: c.id, action: 'dismiss', field: 'status', oldValue: 'potential', newValue: 'dismissed', reason: note ? `${reason}: ${note}` : reason }, traceId);
  return c;
}

/** A person starts screening: the candidate moves to screening with its subject number, flag resolved, audited. */
export async function markScreening(tx: Db, id: string, actor: Actor, subject: string, traceId?: string | null): Promise<CandidateRow | null> {
  const r = await tx.query<Raw>(
    `UPDATE prescreen_candidates SET status = 'screening', screening_subject = $2, screening_by = $3, screening_at = clock_timestamp(), updated_at = clock_timestamp()
     WHERE id = $1 AND status = 'potential' RETURNING ${COLUMNS}`,
    [id, subject, actor.id],
  );
  if (!r.rows[0]) return null;
  const c = fromRaw(r.rows[0]);
  await resolveFlag(tx, c, { actor, note: `screening started as subject ${subject}` });
  await appendAudit(tx, actor, { trial: c.trial, site: c.site, subject: c.id, entity: 'prescreen', entityId: c.id, action: 'start-screening', field: 'status', oldValue: 'potential', newValue: { status: 'screening', subject }, reason: null }, traceId);
  return c;
}

/** Replaces the site's pre-screen scope with the patients the EHR gave (logical ids), in one transaction. */
export async function saveScopePatients(db: Db, site: string, kind: string, patientIds: readonly string[]): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('DELETE FROM prescreen_scope WHERE site = $1', [site]);
    if (patientIds.length) await tx.query('INSERT INTO prescreen_scope (site, patient_id) SELECT $1, p FROM unnest($2::text[]) AS p ON CONFLICT DO NOTHING', [site, [...patientIds]]);
    await tx.query(
      `INSERT INTO prescreen_scope_reads (site, kind, patients) VALUES ($1, $2, $3)
       ON CONFLICT (site) DO UPDATE SET kind = EXCLUDED.kind, patients = EXCLUDED.patients, read_at = now()`,
      [site, kind, patientIds.length],
    );
  });
}

/** Those of the patients who are in the site's pre-screen scope as last read; none before it was ever read. */
export async function patientsInScope(db: Db, site: string, patientIds: readonly string[]): Promise<Set<string>> {
  const r = await db.query<{ patient_id: string }>('SELECT patient_id FROM prescreen_scope WHERE site = $1 AND patient_id = ANY($2::text[])', [site, [...new Set(patientIds)]]);
  return new Set(r.rows.map((x) => x.patient_id));
}
