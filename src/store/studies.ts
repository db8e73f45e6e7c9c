/**
 * ResearchStudy resources per site, the enrollments resolved through them,
 * and which site owns a trial's subject (migration 005).
 */
import type { Db } from './db';

export interface StoredStudy {
  readonly identifiers: readonly string[];
  /** The configured trial the identifiers named when the ResearchStudy was processed; null = none. */
  readonly trial: string | null;
}

/**
 * Stores a ResearchStudy version. An older version arriving after a newer one
 * changes nothing (arrival order, like enrollments). Returns the trial the
 * study named before, so the caller knows whether enrollments must re-resolve.
 */
export async function upsertResearchStudy(
  db: Db,
  s: { site: string; researchStudyId: string; identifiers: readonly string[]; trial: string | null; inboundId: number },
): Promise<{ stored: boolean; previousTrial: string | null }> {
  const prev = await db.query<{ trial: string | null }>('SELECT trial FROM research_studies WHERE site = $1 AND research_study_id = $2', [s.site, s.researchStudyId]);
  const r = await db.query(
    `INSERT INTO research_studies (site, research_study_id, identifiers, trial, inbound_id) VALUES ($1, $2, $3::text[], $4, $5)
     ON CONFLICT (site, research_study_id) DO UPDATE SET identifiers = EXCLUDED.identifiers, trial = EXCLUDED.trial,
       inbound_id = EXCLUDED.inbound_id, updated_at = now()
     WHERE research_studies.inbound_id <= EXCLUDED.inbound_id`,
    [s.site, s.researchStudyId, [...s.identifiers], s.trial, s.inboundId],
  );
  return { stored: r.rowCount > 0, previousTrial: prev.rows[0]?.trial ?? null };
}

/** The site's stored ResearchStudies with these ids. */
export async function storedStudies(db: Db, site: string, ids: readonly string[]): Promise<Map<string, StoredStudy>> {
  const out = new Map<string, StoredStudy>();
  if (!ids.length) return out;
  const r = await db.query<{ research_study_id: string; identifiers: string[]; trial: string | null }>(
    'SELECT research_study_id, identifiers, trial FROM research_studies WHERE site = $1 AND research_study_id = ANY($2::text[])',
    [site, [...new Set(ids)]],
  );
  for (const x of r.rows) out.set(x.research_study_id, { identifiers: x.identifiers, trial: x.trial });
  return out;
}

/** Every stored ResearchStudy of a site that names a trial: id → trial key (for the report's study-drug test). */
export async function siteStudyTrials(db: Db, site: string): Promise<Record<string, string>> {
  const r = await db.query<{ research_study_id: string; trial: string }>(
    'SELECT research_study_id, trial FROM research_studies WHERE site = $1 AND trial IS NOT NULL',
    [site],
  );
  return Object.fromEntries(r.rows.map((x) => [x.research_study_id, x.trial]));
}

/**
 * ResearchSubject rows of a site that a (new version of a) ResearchStudy may
 * resolve differently, moved back to `received` for re-processing: those
 * parked waiting for it (`unmatched`), those refused as `unknown-study`
 * (`needs_review`), and the current rows of enrollments resolved through it.
 * `refersTo` tells, from the body, whether a row names the study (the
 * reference has several spellings, so SQL cannot match it exactly).
 */
export async function releaseStudyWaiters(db: Db, site: string, studyId: string, refersTo: (body: Record<string, unknown>) => boolean): Promise<number[]> {
  const waiting = await db.query<{ id: number; body: Record<string, unknown> }>(
    `SELECT id, body FROM inbound WHERE site = $1 AND resource_type = 'ResearchSubject'
       AND (state = 'unmatched' OR (state = 'needs_review' AND last_error = 'unknown-study'))`,
    [site],
  );
  const enrolled = await db.query<{ inbound_id: number }>(
    `SELECT e.inbound_id FROM enrollments e JOIN inbound i ON i.id = e.inbound_id
     WHERE e.site = $1 AND e.study_ref = $2 AND i.state = 'mapped'`,
    [site, studyId],
  );
  const ids = [...waiting.rows.filter((r) => refersTo(r.body)).map((r) => Number(r.id)), ...enrolled.rows.map((r) => Number(r.inbound_id))];
  if (!ids.length) return [];
  const r = await db.query<{ id: number }>(`UPDATE inbound SET state = 'received', updated_at = now() WHERE id = ANY($1::bigint[]) RETURNING id`, [ids]);
  return r.rows.map((x) => Number(x.id)).sort((a, b) => a - b);
}

/** Patients enrolled at a site in any of these trials (their reports depend on the site's ResearchStudies). */
export async function patientsInTrials(db: Db, site: string, trials: readonly string[]): Promise<string[]> {
  if (!trials.length) return [];
  const r = await db.query<{ patient_id: string }>(
    'SELECT DISTINCT patient_id FROM enrollments WHERE site = $1 AND trial = ANY($2::text[]) AND patient_id IS NOT NULL',
    [site, [...trials]],
  );
  return r.rows.map((x) => x.patient_id);
}

/**
 * Claims (trial, subject) for a site: the first site to enroll a subject owns
 * it for good. Returns the owning site (this one, or the one that was first).
 */
export async function claimSubject(db: Db, trial: string, subject: string, site: string): Promise<string> {
  await db.query('INSERT INTO subject_owners (trial, subject, site) VALUES ($1, $2, $3) ON CONFLICT (trial, subject) DO NOTHING', [trial, subject, site]);
  const r = await db.query<{ site: string }>('SELECT site FROM subject_owners WHERE trial = $1 AND subject = $2', [trial, subject]);
  return r.rows[0].site;
}

/**
 * Subjects another site already owns: for each (subject, names) asked, the
 * owning site and trial when `subject` is owned by a site other than `site`
 * in a trial among `names` (trial keys, or ResearchStudy ids resolved through
 * the site's stored studies). Used at the door; the map worker's claim stays
 * the authority (a study may not have arrived yet, two sites may race).
 */
export async function subjectsOwnedElsewhere(
  db: Db,
  site: string,
  asks: readonly { readonly subject: string; readonly names: readonly string[]; readonly studyIds: readonly string[] }[],
): Promise<Map<string, { trial: string; owner: string }>> {
  const out = new Map<string, { trial: string; owner: string }>();
  for (const a of asks) {
    const r = await db.query<{ trial: string; site: string }>(
      `SELECT o.trial, o.site FROM subject_owners o
       WHERE o.subject = $1 AND o.site <> $2
         AND (o.trial = ANY($3::text[]) OR o.trial IN (SELECT s.trial FROM research_studies s WHERE s.site = $2 AND s.research_study_id = ANY($4::text[])))
       LIMIT 1`,
      [a.subject, site, a.names, a.studyIds],
    );
    if (r.rows[0]) out.set(a.subject, { trial: r.rows[0].trial, owner: r.rows[0].site });
  }
  return out;
}
