/**
 * The stored data of one trial as an ExportDataset (src/export/model.ts): the
 * values the trial file selects (`export.values`), placed on the visits the last
 * evaluation assigned them to, the study-drug administrations, valid signatures
 * and the people named by them. Read in a handful of statements per trial, never
 * one per value: an export of 100 subjects x 2 years of weekly labs (~200,000
 * values) must take seconds (README "Benchmark").
 */
import type { MedicationAdministration } from '@medplum/fhirtypes';
import { AppError } from '../errors';
import { buildStudy, UNSCHEDULED, valueKey, type ExportAdministration, type ExportDataset, type ExportSignature, type ExportStudy, type ExportSubject, type ExportUser, type ExportValue, type ValueStatus } from '../export';
import type { MappingSet } from '../mapping';
import { localDateOf, localDateTimeOf, studyDrugAdministrations } from '../protocol/schedule';
import { attributeStudies, resolvedStudies } from '../protocol/study-ref';
import type { TrialSet } from '../protocol/trials';
import type { SubjectReport } from '../protocol/report/types';
import type { Db } from './db';
import type { ScopeFn } from './views';

/** What the dataset is built with besides the database (passed in, design.md habit 8). */
export interface ExportDeps {
  readonly trials: TrialSet;
  readonly mappings: MappingSet;
  readonly sites: readonly { id: string; timeZone: string }[];
  /** Display name of a configured user (TRIALBRIDGE_USERS), when known. */
  readonly userName?: (id: string) => string | undefined;
  /** trialbridge version (ODM SourceSystemVersion). */
  readonly version: string;
}

export interface DatasetQuery {
  readonly trial: string;
  readonly scope: ScopeFn;
  /** The instant the data is read as (default: now). */
  readonly asOf?: string;
  /** Called as subjects are assembled (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** The pipeline as the audit trail names it (migration 008 audit_actor). */
export const PIPELINE_USER: ExportUser = Object.freeze({ id: 'trialbridge', name: 'trialbridge', role: 'system' });

/** Statuses of values that count as reviewed (a person accepted or corrected them). */
const REVIEWED: readonly ValueStatus[] = ['accepted', 'corrected'];

interface ValueRow {
  id: number; subject: string; site: string; form: string; item: string; value: number | string; unit: string | null;
  original_value: number | string; original_unit: string | null; effective_ms: number; source_type: string; source_id: string; source_version: string;
  code: string; status: ValueStatus; updated_ms: number; reviewed_by: string | null; reviewed_ms: number | null; review_reason: string | null; review_note: string | null;
  interpretation: string | null; source_effective: string | null;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Orders values as model.ts says: subject, visit (schedule order), form and item (CRF order), effective, then id. */
export function sortValues(study: ExportStudy, values: readonly ExportValue[]): ExportValue[] {
  const visit = new Map(study.visits.map((v, i) => [v.code, i]));
  const item = new Map(study.forms.flatMap((f) => f.items.map((it) => `${f.form}|${it.item}`)).map((k, i) => [k, i]));
  // Items the CRF file does not list (none today) follow, in code order.
  for (const k of [...new Set(values.map((v) => `${v.form}|${v.item}`))].filter((k) => !item.has(k)).sort(cmp)) item.set(k, item.size);
  const subject = new Map([...new Set(values.map((v) => v.subject))].sort(cmp).map((s, i) => [s, i]));
  // Numeric ranks computed once per value, not per comparison (200,000 values: ~3.5 million comparisons).
  const keyed = values.map((v) => ({
    v, s: subject.get(v.subject)!, visit: visit.get(v.visit) ?? visit.size, repeat: v.visitRepeat === '1' ? 0 : Date.parse(v.visitRepeat), item: item.get(`${v.form}|${v.item}`)!, at: Date.parse(v.effective),
  }));
  keyed.sort((a, b) => a.s - b.s || a.visit - b.visit || a.repeat - b.repeat || a.item - b.item || a.at - b.at || a.v.id - b.v.id);
  return keyed.map((k) => k.v);
}

/** Reads everything one export of `q.trial` is written from, limited to the reader's scope. */
export async function loadExportDataset(db: Db, deps: ExportDeps, q: DatasetQuery): Promise<ExportDataset> {
  const trial = deps.trials.get(q.trial);
  if (!trial) throw new AppError('invalid-export-request', `unknown trial ${q.trial}; known: ${deps.trials.keys.join(', ')}`, ['trial']);
  const study = buildStudy(trial, deps.mappings);
  const at = q.asOf ? Date.parse(q.asOf) : Date.now();
  if (Number.isNaN(at)) throw new AppError('invalid-export-request', 'asOf must be an ISO 8601 date-time', ['asOf']);
  const asOf = new Date(at).toISOString();
  const zone = new Map(deps.sites.map((s) => [s.id, s.timeZone]));
  const tz = (site: string) => zone.get(site) ?? 'UTC';

  let p: unknown[] = [];
  const enrolled = await db.query<{ subject: string; site: string; arm: string | null; status: string; patient_id: string | null; report: SubjectReport | null }>(
    `SELECT e.subject, e.site, e.arm, e.status, e.patient_id, r.report FROM
       (SELECT DISTINCT ON (subject) subject, site, arm, status, patient_id, trial FROM enrollments e
        WHERE e.trial = $1 AND ${q.scope((p = [q.trial]), 'e')} ORDER BY subject, updated_at DESC) e
     LEFT JOIN subject_reports r ON r.trial = e.trial AND r.subject = e.subject AND r.site = e.site
     ORDER BY e.subject`,
    p,
  );
  const subjects: ExportSubject[] = enrolled.rows.map((e) => ({ subject: e.subject, site: e.site, arm: e.arm, status: e.status, day0: e.report?.day0 ?? null }));
  const siteOf = new Map(subjects.map((s) => [s.subject, s.site]));

  const statuses = study.values === 'all' ? [...REVIEWED, 'auto'] : [...REVIEWED];
  // interpretation and the source's own effective time come from the stored source resource (inbound row).
  // Instants travel as epoch milliseconds: parsing 3 x 200,000 timestamps into Dates was most of the read.
  const ms = (col: string) => `(extract(epoch FROM ${col}) * 1000)::float8`;
  const rows = await db.query<ValueRow>(
    `SELECT c.id, c.subject, c.site, c.form, c.item, c.value, c.unit, c.original_value, c.original_unit, ${ms('c.effective')} AS effective_ms,
            c.source_type, c.source_id, c.source_version, c.code, c.status, ${ms('c.updated_at')} AS updated_ms, c.reviewed_by, ${ms('c.reviewed_at')} AS reviewed_ms,
            c.review_reason, c.review_note,
            i.body #>> '{interpretation,0,coding,0,code}' AS interpretation,
            coalesce(i.body ->> 'effectiveDateTime', i.body #>> '{effectivePeriod,start}') AS source_effective
     FROM crf_values c LEFT JOIN inbound i ON i.id = c.inbound_id
     WHERE c.trial = $1 AND c.status = ANY($2::text[]) AND (c.status <> 'auto' OR c.rereview_of IS NULL) AND ${q.scope((p = [q.trial, statuses]), 'c')}`,
    p,
  );
  const assigned = await db.query<{ crf_value_id: number; visit: string }>(
    `SELECT va.crf_value_id, va.visit FROM visit_assignments va WHERE va.trial = $1 AND ${q.scope((p = [q.trial]), 'va')}`,
    p,
  );
  const visitRank = new Map(study.visits.map((v, i) => [v.code, i]));
  const visitOf = new Map<number, string>();
  for (const a of assigned.rows) {
    const id = Number(a.crf_value_id);
    if (!visitRank.has(a.visit)) continue;
    const prev = visitOf.get(id);
    if (prev === undefined || visitRank.get(a.visit)! < visitRank.get(prev)!) visitOf.set(id, a.visit);
  }

  const values = sortValues(study, dedupe(rows.rows.filter((r) => siteOf.get(r.subject) === r.site).map((r) => toValue(r, visitOf.get(Number(r.id)), tz(r.site)))));

  const administrations = await loadAdministrations(db, q, trial, enrolled.rows, tz);
  const signatures = await loadSignatures(db, q, siteOf);
  const users = await loadUsers(db, deps, q.trial, values, signatures);
  const sites = [...new Set(subjects.map((s) => s.site))].sort(cmp).map((id) => ({ id, timeZone: tz(id) }));
  q.onProgress?.(subjects.length, subjects.length);
  return { study, sites, users, subjects, values, administrations, signatures, asOf };
}

function toValue(r: ValueRow, visit: string | undefined, timeZone: string): ExportValue {
  const instant = Number(r.effective_ms);
  const effective = new Date(instant).toISOString();
  // A source that gave only a date keeps the date alone (it carries no time to localise).
  const dateOnly = r.source_effective && r.source_effective.length === 10 && /^\d{4}-\d{2}-\d{2}$/.test(r.source_effective) ? r.source_effective : null;
  const localDate = dateOnly ?? localDateOf(instant, timeZone);
  const code = visit ?? UNSCHEDULED.code;
  const reviewed = r.status !== 'auto' && r.reviewed_by;
  const reason = r.review_reason ? (r.review_note ? `${r.review_reason}: ${r.review_note}` : r.review_reason) : null;
  return {
    id: Number(r.id), subject: r.subject, site: r.site, form: r.form, item: r.item,
    visit: code, visitRepeat: code === UNSCHEDULED.code ? localDate : '1',
    value: r.value, unit: r.unit, originalValue: r.original_value, originalUnit: r.original_unit,
    effective, localDateTime: dateOnly ?? localDateTimeOf(instant, timeZone), localDate,
    status: r.status, loinc: r.code, interpretation: r.interpretation ?? null,
    source: `${r.source_type}/${r.source_id}/_history/${r.source_version}`,
    audit: reviewed
      ? { user: r.reviewed_by!, at: new Date(Number(r.reviewed_ms ?? r.updated_ms)).toISOString(), reason }
      : { user: PIPELINE_USER.id, at: new Date(Number(r.updated_ms)).toISOString(), reason: null },
  };
}

/**
 * One value per trial-database cell (valueKey): two sources for one item at the
 * same wall time would otherwise be two Inserts of one cell. A person's value wins
 * over an automatic one, then the newest row.
 */
function dedupe(values: ExportValue[]): ExportValue[] {
  const best = new Map<string, ExportValue>();
  for (const v of values) {
    const k = valueKey(v);
    const o = best.get(k);
    if (!o || (o.status === 'auto' && v.status !== 'auto') || ((o.status === 'auto') === (v.status === 'auto') && v.id > o.id)) best.set(k, v);
  }
  return best.size === values.length ? values : [...best.values()];
}

/**
 * Study-drug administrations of the subjects: the latest stored version of each
 * MedicationAdministration of their patients, kept when it is this trial's study
 * drug (protocol/schedule studyDrugAdministrations), with the visit the subject
 * report's dose check gave it and its adjustment from the dose flags.
 */
async function loadAdministrations(db: Db, q: DatasetQuery, trial: NonNullable<ReturnType<TrialSet['get']>>, enrolled: readonly { subject: string; site: string; patient_id: string | null; report: SubjectReport | null }[], tz: (site: string) => string): Promise<ExportAdministration[]> {
  const withPatient = enrolled.filter((e) => e.patient_id);
  if (!withPatient.length) return [];
  const r = await db.query<{ site: string; patient_id: string; version: string; body: MedicationAdministration }>(
    `SELECT DISTINCT ON (i.site, i.resource_id) i.site, i.patient_id, i.version, i.body FROM inbound i
     JOIN unnest($1::text[], $2::text[]) AS s(site, patient_id) ON s.site = i.site AND s.patient_id = i.patient_id
     WHERE i.resource_type = 'MedicationAdministration' AND i.state <> 'failed'
     ORDER BY i.site, i.resource_id, coalesce(i.last_updated, i.received_at) DESC, i.id DESC`,
    [withPatient.map((e) => e.site), withPatient.map((e) => e.patient_id)],
  );
  if (!r.rows.length) return [];
  const sites = [...new Set(r.rows.map((x) => x.site))];
  const studies = new Map<string, Record<string, string>>();
  if (sites.length) {
    const st = await db.query<{ site: string; research_study_id: string; trial: string }>(
      'SELECT site, research_study_id, trial FROM research_studies WHERE site = ANY($1::text[]) AND trial IS NOT NULL',
      [sites],
    );
    for (const x of st.rows) studies.set(x.site, { ...(studies.get(x.site) ?? {}), [x.research_study_id]: x.trial });
  }
  const ofPatient = new Map<string, typeof r.rows>();
  for (const x of r.rows) ofPatient.set(`${x.site}|${x.patient_id}`, [...(ofPatient.get(`${x.site}|${x.patient_id}`) ?? []), x]);
  const out: ExportAdministration[] = [];
  for (const [done, e] of enrolled.entries()) {
    if (done % 10 === 0) q.onProgress?.(done, enrolled.length);
    const rows = e.patient_id ? ofPatient.get(`${e.site}|${e.patient_id}`) ?? [] : [];
    if (!rows.length) continue;
    const version = new Map(rows.map((x) => [`MedicationAdministration/${x.body.id}`, x.version]));
    const mas = attributeStudies(rows.map((x) => x.body), resolvedStudies(studies.get(e.site) ?? {}));
    const timeZone = tz(e.site);
    const { administrations } = studyDrugAdministrations(trial, mas, { id: e.site, timeZone });
    const byRef = new Map(mas.map((m) => [`MedicationAdministration/${m.id}`, m]));
    for (const a of administrations) {
      const dose = e.report?.doses.find((d) => d.source === a.ref);
      const flag = e.report?.flags.find((f) => (f.code === 'dose-partial' || f.code === 'dose-deviation') && f.evidence.includes(a.ref));
      const q0 = byRef.get(a.ref)?.dosage?.dose;
      out.push({
        subject: e.subject, site: e.site, visit: dose?.visit ?? UNSCHEDULED.code,
        source: `${a.ref}/_history/${version.get(a.ref)}`,
        start: a.at.instant !== null ? localDateTimeOf(a.at.instant, timeZone) : a.at.date,
        dose: typeof q0?.value === 'number' ? q0.value : null, doseUnit: q0?.code ?? q0?.unit ?? null,
        state: a.state, adjustment: flag ? flag.message : null,
      });
    }
  }
  out.sort((a, b) => cmp(a.subject, b.subject) || cmp(a.start, b.start) || cmp(a.source, b.source));
  return out;
}

async function loadSignatures(db: Db, q: DatasetQuery, siteOf: ReadonlyMap<string, string>): Promise<ExportSignature[]> {
  const p: unknown[] = [q.trial];
  const r = await db.query<{ id: number; subject: string; site: string; visit: string | null; signer_id: string; printed_name: string; meaning: string; signed_at: Date }>(
    `SELECT s.id, s.subject, s.site, s.visit, s.signer_id, s.printed_name, s.meaning, s.signed_at FROM signatures s
     WHERE s.trial = $1 AND s.voided_at IS NULL AND ${q.scope(p, 's')} ORDER BY s.subject, s.id`,
    p,
  );
  return r.rows.filter((s) => siteOf.get(s.subject) === s.site).map((s) => ({
    id: Number(s.id), subject: s.subject, site: s.site, visit: s.visit, signer: s.signer_id, printedName: s.printed_name, meaning: s.meaning, at: new Date(s.signed_at).toISOString(),
  }));
}

/**
 * The people named by the values' audit and the signatures, plus the pipeline.
 * Names: the printed name of their signature, else the name the audit trail
 * recorded, else the configured name, else the id.
 */
async function loadUsers(db: Db, deps: ExportDeps, trial: string, values: readonly ExportValue[], signatures: readonly ExportSignature[]): Promise<ExportUser[]> {
  const ids = [...new Set([...values.map((v) => v.audit.user), ...signatures.map((s) => s.signer)])].filter((id) => id !== PIPELINE_USER.id).sort(cmp);
  if (!ids.length) return [PIPELINE_USER];
  const signed = new Map<string, { name: string; role: string }>();
  const sr = await db.query<{ signer_id: string; printed_name: string; signer_role: string }>(
    'SELECT DISTINCT ON (signer_id) signer_id, printed_name, signer_role FROM signatures WHERE trial = $1 AND signer_id = ANY($2::text[]) ORDER BY signer_id, id DESC',
    [trial, ids],
  );
  for (const x of sr.rows) signed.set(x.signer_id, { name: x.printed_name, role: x.signer_role });
  const ar = await db.query<{ actor: string; actor_role: string; actor_name: string | null }>(
    'SELECT DISTINCT ON (actor) actor, actor_role, actor_name FROM audit_log WHERE trial = $1 AND actor = ANY($2::text[]) ORDER BY actor, id DESC',
    [trial, ids],
  );
  const audited = new Map(ar.rows.map((x) => [x.actor, x]));
  const users = ids.map((id): ExportUser => ({
    id,
    name: signed.get(id)?.name || audited.get(id)?.actor_name || deps.userName?.(id) || id,
    role: audited.get(id)?.actor_role ?? signed.get(id)?.role ?? 'unknown',
  }));
  return [PIPELINE_USER, ...users];
}
