/**
 * One subject's data for evaluation (evaluation reads only that subject's data): the enrollment, the Patient and ResearchSubject, the
 * latest version of each of the patient's other resources, the active CRF
 * values of the trial, and the open review items.
 */
import type { Patient, Resource, ResearchSubject } from '@medplum/fhirtypes';
import type { Db } from './db';
import { subjectCrf, type CrfValueRow } from './crf';
import { siteStudyTrials } from './studies';
import { latestAnswers, type StoredAnswer } from './answers';

export interface SubjectData {
  readonly site: string;
  readonly trial: string;
  readonly subject: string;
  readonly patient: Patient | null;
  readonly researchSubject: ResearchSubject;
  readonly resources: Resource[];
  readonly crf: CrfValueRow[];
  readonly reviews: { reason: string; detail: string; source: string }[];
  /** The site's ResearchStudy ids that name a trial (id → trial key): administrations name the study by reference. */
  readonly studies: Record<string, string>;
  /** Investigators' workbench answers to judgement criteria, the latest per criterion. */
  readonly clinicianAnswers: StoredAnswer[];
}

export async function loadSubjectData(db: Db, k: { trial: string; subject: string; site: string }): Promise<SubjectData | null> {
  const en = await db.query<{ patient_id: string | null; body: ResearchSubject }>(
    `SELECT e.patient_id, i.body FROM enrollments e JOIN inbound i ON i.id = e.inbound_id
     WHERE e.trial = $1 AND e.subject = $2 AND e.site = $3 ORDER BY e.updated_at DESC LIMIT 1`,
    [k.trial, k.subject, k.site],
  );
  if (!en.rows.length) return null;
  const pid = en.rows[0].patient_id;
  // Latest version of each resource about this patient (ordering as for supersede: lastUpdated, then arrival).
  const res = pid
    ? await db.query<{ resource_type: string; body: Resource }>(
        `SELECT DISTINCT ON (resource_type, resource_id) resource_type, body FROM inbound
         WHERE site = $1 AND ((resource_type = 'Patient' AND resource_id = $2) OR (patient_id = $2 AND resource_type IN ('Observation', 'MedicationAdministration', 'Condition')))
           AND state <> 'failed'
         ORDER BY resource_type, resource_id, coalesce(last_updated, received_at) DESC, id DESC`,
        [k.site, pid],
      )
    : { rows: [] };
  const patient = (res.rows.find((r) => r.resource_type === 'Patient')?.body as Patient | undefined) ?? null;
  const crf = (await subjectCrf(db, k.subject, { trial: k.trial })).filter((c) => c.site === k.site && c.status !== 'rejected' && !c.pendingReview);
  const rv = await db.query<{ reason: string; detail: string; resource_type: string; resource_id: string }>(
    `SELECT r.reason, r.detail, i.resource_type, i.resource_id FROM review_items r JOIN inbound i ON i.id = r.inbound_id
     WHERE r.trial = $1 AND r.subject = $2 AND i.site = $3 AND r.status = 'open' AND r.reason <> 'no-rule' ORDER BY r.id`,
    [k.trial, k.subject, k.site],
  );
  return {
    ...k,
    patient,
    researchSubject: en.rows[0].body,
    resources: res.rows.filter((r) => r.resource_type !== 'Patient').map((r) => r.body),
    crf,
    reviews: rv.rows.map((r) => ({ reason: r.reason, detail: r.detail, source: `${r.resource_type}/${r.resource_id}` })),
    studies: await siteStudyTrials(db, k.site),
    clinicianAnswers: [...(await latestAnswers(db, k)).values()],
  };
}

/** Subjects (trial, subject, site) of the given patients, for re-evaluation after their data changed. */
export async function subjectsOfPatients(db: Db, site: string, patientIds: readonly string[]): Promise<{ trial: string; subject: string; site: string }[]> {
  if (!patientIds.length) return [];
  const r = await db.query<{ trial: string; subject: string }>('SELECT DISTINCT trial, subject FROM enrollments WHERE site = $1 AND patient_id = ANY($2::text[])', [site, patientIds]);
  return r.rows.map((x) => ({ ...x, site }));
}
