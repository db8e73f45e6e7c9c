/** Patients, their identifiers, and enrollments (from ResearchSubject). */
import type { Db } from './db';
import { valuesList } from './sql';

import type { Identifier } from '../protocol/research-subject';

export type { Identifier };

export interface Enrollment {
  readonly site: string;
  readonly researchSubjectId: string;
  readonly trial: string;
  readonly subject: string;
  readonly patientId: string | null;
  readonly arm: string | null;
  readonly status: string;
  readonly periodStart: string | null;
}

/** Upserts a Patient and its identifiers; returns enrollments that named it by identifier and are now resolved. */
export async function upsertPatient(db: Db, site: string, patientId: string, identifiers: readonly Identifier[], inboundId: number): Promise<void> {
  await db.query(
    `INSERT INTO patients (site, patient_id, inbound_id) VALUES ($1, $2, $3)
     ON CONFLICT (site, patient_id) DO UPDATE SET inbound_id = GREATEST(patients.inbound_id, EXCLUDED.inbound_id), updated_at = now()`,
    [site, patientId, inboundId],
  );
  // Real Patients repeat an identifier (same system and value twice); one row each.
  identifiers = [...new Map(identifiers.map((i) => [`${i.system}|${i.value}`, i])).values()];
  if (!identifiers.length) return;
  const { sql, params } = valuesList(identifiers.map((i) => [site, i.system, i.value, patientId]));
  await db.query(
    `INSERT INTO patient_identifiers (site, system, value, patient_id) VALUES ${sql}
     ON CONFLICT (site, system, value) DO UPDATE SET patient_id = EXCLUDED.patient_id`,
    params,
  );
  // An enrollment that arrived before its Patient named the individual by identifier only.
  const v = valuesList(identifiers.map((i) => [i.system, i.value]));
  await db.query(
    `UPDATE enrollments e SET patient_id = $${v.params.length + 1}, updated_at = now()
     FROM (VALUES ${v.sql}) AS k(system, value)
     WHERE e.site = $${v.params.length + 2} AND e.patient_id IS NULL AND e.individual_system = k.system AND e.individual_value = k.value`,
    [...v.params, patientId, site],
  );
}

export async function patientIdByIdentifier(db: Db, site: string, ident: Identifier): Promise<string | null> {
  const r = await db.query<{ patient_id: string }>('SELECT patient_id FROM patient_identifiers WHERE site = $1 AND system = $2 AND value = $3', [site, ident.system, ident.value]);
  return r.rows[0]?.patient_id ?? null;
}

export interface NewEnrollment extends Enrollment {
  readonly individual: Identifier | null;
  readonly inboundId: number;
  /** The ResearchStudy id the trial was resolved through (a later version of it re-resolves), or null. */
  readonly studyRef: string | null;
}

/**
 * Stores an enrollment version (an older one arriving late changes nothing).
 * Returns the (trial, subject) the ResearchSubject had before, when this
 * version changed it (a ResearchStudy re-resolved, or a new subject number).
 */
export async function upsertEnrollment(db: Db, e: NewEnrollment): Promise<{ moved: { trial: string; subject: string } | null }> {
  const prev = await db.query<{ trial: string; subject: string; inbound_id: number }>(
    'SELECT trial, subject, inbound_id FROM enrollments WHERE site = $1 AND research_subject_id = $2',
    [e.site, e.researchSubjectId],
  );
  const p = prev.rows[0];
  const r = await db.query(
    `INSERT INTO enrollments (site, research_subject_id, trial, subject, patient_id, individual_system, individual_value, arm, status, period_start, inbound_id, study_ref)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
     ON CONFLICT (site, research_subject_id) DO UPDATE SET trial = EXCLUDED.trial, subject = EXCLUDED.subject,
       patient_id = COALESCE(EXCLUDED.patient_id, enrollments.patient_id), individual_system = EXCLUDED.individual_system,
       individual_value = EXCLUDED.individual_value, arm = EXCLUDED.arm, status = EXCLUDED.status,
       period_start = EXCLUDED.period_start, inbound_id = EXCLUDED.inbound_id, study_ref = EXCLUDED.study_ref, updated_at = now()
     WHERE enrollments.inbound_id <= EXCLUDED.inbound_id`,
    [e.site, e.researchSubjectId, e.trial, e.subject, e.patientId, e.individual?.system ?? null, e.individual?.value ?? null, e.arm, e.status, e.periodStart, e.inboundId, e.studyRef],
  );
  const applied = r.rowCount > 0 && !!p && Number(p.inbound_id) <= e.inboundId;
  return { moved: applied && (p.trial !== e.trial || p.subject !== e.subject) ? { trial: p.trial, subject: p.subject } : null };
}

/**
 * After an enrollment moved to another trial or subject number: the values
 * mapped under the old (trial, subject) at this site are superseded, and the
 * patient's current clinical rows go back to `received` to be mapped under
 * the new one. Returns the re-queued row ids.
 */
export async function remapMovedEnrollment(db: Db, site: string, patientId: string, old: { trial: string; subject: string }): Promise<number[]> {
  await db.query(
    `UPDATE crf_values SET status = 'superseded', updated_at = now() WHERE site = $1 AND trial = $2 AND subject = $3 AND status = 'auto'`,
    [site, old.trial, old.subject],
  );
  const r = await db.query<{ id: number }>(
    `UPDATE inbound SET state = 'received', updated_at = now()
     WHERE site = $1 AND patient_id = $2 AND state IN ('mapped', 'needs_review') AND resource_type IN ('Observation', 'MedicationAdministration', 'Condition')
     RETURNING id`,
    [site, patientId],
  );
  return r.rows.map((x) => Number(x.id)).sort((a, b) => a - b);
}

/**
 * ResearchSubject statuses for which CRF values are kept. Candidates and
 * screening patients are included (screening labs fill SCR); a
 * patient found ineligible or never registered gets no CRF.
 */
export const MAPPED_STATUSES = [
  'candidate', 'eligible', 'follow-up', 'off-study', 'on-study', 'on-study-intervention', 'on-study-observation',
  'pending-on-study', 'potential-candidate', 'screening', 'withdrawn',
] as const;

type RawEnrollment = { site: string; research_subject_id: string; trial: string; subject: string; patient_id: string | null; arm: string | null; status: string; period_start: string | null };
const toEnrollment = (r: RawEnrollment): Enrollment => ({
  site: r.site, researchSubjectId: r.research_subject_id, trial: r.trial, subject: r.subject, patientId: r.patient_id, arm: r.arm, status: r.status, periodStart: r.period_start,
});

/** Enrollments (mapped statuses) of these patients at one site, keyed by patient id. */
export async function enrollmentsByPatient(db: Db, site: string, patientIds: readonly string[]): Promise<Map<string, Enrollment[]>> {
  const out = new Map<string, Enrollment[]>();
  if (!patientIds.length) return out;
  const r = await db.query<RawEnrollment>(
    `SELECT site, research_subject_id, trial, subject, patient_id, arm, status, period_start FROM enrollments
     WHERE site = $1 AND patient_id = ANY($2::text[]) AND status = ANY($3::text[]) ORDER BY trial, research_subject_id`,
    [site, patientIds, MAPPED_STATUSES],
  );
  for (const row of r.rows) {
    const e = toEnrollment(row);
    out.set(e.patientId!, [...(out.get(e.patientId!) ?? []), e]);
  }
  return out;
}

/** Enrollments of a subject number, optionally narrowed to one trial and/or one site (subject numbers are per trial and site). */
export async function enrollmentsBySubject(db: Db, subject: string, only: { trial?: string; site?: string } = {}): Promise<Enrollment[]> {
  const r = await db.query<RawEnrollment>(
    `SELECT site, research_subject_id, trial, subject, patient_id, arm, status, period_start FROM enrollments
     WHERE subject = $1 AND ($2::text IS NULL OR trial = $2) AND ($3::text IS NULL OR site = $3) ORDER BY trial, site, research_subject_id`,
    [subject, only.trial ?? null, only.site ?? null],
  );
  return r.rows.map(toEnrollment);
}

/** Namespace of the per-patient advisory locks (the two-key form keeps them apart from the migration lock). */
const PATIENT_LOCK_CLASS = 7_243_002;

/**
 * Serialises work on one patient across concurrent jobs: enrollment changes
 * (Patient, ResearchSubject) take the lock exclusively, mapping of labs takes
 * it shared. Without it, a lab mapped while its ResearchSubject commits in
 * another job could be parked as unmatched after the release of parked rows
 * ran, and stay parked. Keys are taken in sorted order so two jobs cannot
 * deadlock on each other (PostgreSQL would detect it and the job would retry).
 */
export async function lockPatients(db: Db, site: string, exclusive: Iterable<string>, shared: Iterable<string>): Promise<void> {
  const ex = new Set([...exclusive].map((k) => `${site}|${k}`));
  const keys = [...new Set([...ex, ...[...shared].map((k) => `${site}|${k}`)])].sort();
  if (!keys.length) return;
  await db.query(
    `SELECT CASE WHEN x THEN pg_advisory_xact_lock($1, hashtext(k))::text ELSE pg_advisory_xact_lock_shared($1, hashtext(k))::text END
     FROM unnest($2::text[], $3::bool[]) AS t(k, x)`,
    [PATIENT_LOCK_CLASS, keys, keys.map((k) => ex.has(k))],
  );
}
