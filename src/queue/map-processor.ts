/**
 * The map-resource processor: inbound rows → enrollments and CRF values.
 *
 * One job = up to MAP_BATCH rows, processed in ONE transaction with
 * multi-row SQL, so a retried job either did everything or nothing, and every
 * write is an idempotent upsert keyed on source id + version (design.md
 * habit 6). Transient errors (database down) throw and BullMQ retries with
 * backoff; permanent problems become review items and never throw.
 */
import type { Patient, Resource, ResearchStudy, ResearchSubject } from '@medplum/fhirtypes';
import type { Logger } from '../logger';
import { mapResource, unmappedCodings, type MappingSet } from '../mapping';
import { countUnmapped, type UnmappedSeen } from '../store/unmapped';
import { metrics } from '../metrics';
import { isTransientDbError, type Db } from '../store/db';
import { claimInbound, newerVersionExists, releaseUnmatched, setInboundStates, type InboundRow, type InboundState } from '../store/inbound';
import { enrollmentsByPatient, patientIdByIdentifier, remapMovedEnrollment, upsertEnrollment, upsertPatient, lockPatients, type Enrollment, type Identifier } from '../store/enrollment';
import { insertReviewItems, markRereviews, supersedeOlderVersions, upsertCrfValues, type NewCrfValue, type NewReviewItem } from '../store/crf';
import { parseResearchSubject } from '../protocol/research-subject';
import { researchStudyId, studyIdentifiers, trialNamer, trialOfStudy, type StudyAliases, type TrialNamer } from '../protocol/study-ref';
import { claimSubject, patientsInTrials, releaseStudyWaiters, storedStudies, upsertResearchStudy, type StoredStudy } from '../store/studies';

export interface MapDeps {
  readonly db: Db;
  readonly mappings: MappingSet;
  readonly log: Logger;
  /** The site's `studyAliases` (TRIALBRIDGE_SITES): local ResearchStudy identifiers naming a trial. */
  readonly studyAliases?: (site: string) => StudyAliases;
}

export interface MapResult {
  readonly processed: number;
  readonly states: Record<string, number>;
  /** Parked rows released by enrollments in this batch; the caller enqueues them after commit. */
  readonly released: number[];
  /** Patients whose mapped data or enrollment changed, per site: their subjects are re-evaluated. */
  readonly changed: Map<string, Set<string>>;
  /** Sites where a ResearchSubject or Patient was processed: their patient scope may have changed. */
  readonly enrollmentSites: string[];
  /** Patients with no enrollment whose labs or Patient arrived, per site: candidates for pre-screening (README "Pre-screening and alerts"). */
  readonly unenrolled: Map<string, Set<string>>;
}

interface Batch {
  readonly states: { id: number; state: InboundState; error?: string | null }[];
  readonly values: NewCrfValue[];
  readonly reviews: NewReviewItem[];
  /** Codings of Observations no trial maps: counted for IT, no review item (README "Mapping rules"). */
  readonly unmapped: UnmappedSeen[];
  /** Patients whose enrollment or identity changed: their parked rows get another chance. */
  readonly touchedPatients: Map<string, Set<string>>;
  /** Patients whose mapped data or enrollment changed (resolved logical ids). */
  readonly changed: Map<string, Set<string>>;
  /** Rows sent back for another pass: ResearchSubjects a ResearchStudy re-resolves, the data of an enrollment that moved. */
  readonly restudied: number[];
  /** Patients (resolved logical ids) whose rows were parked as unmatched, or whose Patient arrived. */
  readonly unenrolled: Map<string, Set<string>>;
}

/** Studies first (enrollments resolve through them), then identities, then enrollments, then clinical data. */
const TYPE_ORDER: Record<string, number> = { ResearchStudy: 0, Patient: 1, ResearchSubject: 2 };
const ENROLLMENT_TYPES = new Set(['ResearchStudy', 'Patient', 'ResearchSubject']);

/**
 * Processes a job's rows. If the batch fails for a non-transient reason, the
 * rows are retried one by one, so one row that trips a bug or a constraint is
 * marked `failed` (kept, with its error, for an operator) and does not hold
 * back the others. Transient errors propagate: BullMQ retries the job.
 */
export async function processMapJob(deps: MapDeps, inboundIds: readonly number[]): Promise<MapResult> {
  try {
    return await processBatch(deps, inboundIds);
  } catch (e) {
    if (isTransientDbError(e)) throw e;
    const merged = { processed: 0, states: {} as Record<string, number>, released: [] as number[], changed: new Map<string, Set<string>>(), enrollmentSites: [] as string[], unenrolled: new Map<string, Set<string>>() };
    for (const id of inboundIds) {
      let r: MapResult;
      try {
        r = await processBatch(deps, [id]);
      } catch (e1) {
        if (isTransientDbError(e1)) throw e1;
        const message = (e1 as Error).message.slice(0, 500);
        deps.log.error({ inbound: id, err: message }, 'row failed permanently');
        await setInboundStates(deps.db, [{ id, state: 'failed', error: message }]);
        r = { processed: 1, states: { failed: 1 }, released: [], changed: new Map(), enrollmentSites: [], unenrolled: new Map() };
      }
      merged.released.push(...r.released);
      r.enrollmentSites.forEach((s) => merged.enrollmentSites.includes(s) || merged.enrollmentSites.push(s));
      for (const [site, ids] of r.changed) ids.forEach((id) => addTo(merged.changed, site, id));
      for (const [site, ids] of r.unenrolled) ids.forEach((id) => addTo(merged.unenrolled, site, id));
      merged.processed += r.processed;
      for (const [k, n] of Object.entries(r.states)) merged.states[k] = (merged.states[k] ?? 0) + n;
    }
    return merged;
  }
}

async function processBatch(deps: MapDeps, inboundIds: readonly number[]): Promise<MapResult> {
  return deps.db.transaction(async (tx) => {
    // Rows already processed (a redelivered job) are skipped: at-least-once delivery, exactly-once effect.
    const rows = (await claimInbound(tx, inboundIds)).filter((r) => r.state === 'received');
    rows.sort((a, b) => (TYPE_ORDER[a.resourceType] ?? 3) - (TYPE_ORDER[b.resourceType] ?? 3) || a.id - b.id);
    const batch: Batch = { states: [], values: [], reviews: [], unmapped: [], touchedPatients: new Map(), changed: new Map(), restudied: [], unenrolled: new Map() };
    await lockRowPatients(tx, deps, rows);
    const namers = new Map<string, TrialNamer>();
    const namerOf = (site: string) => namers.get(site) ?? namers.set(site, trialNamer((k) => deps.mappings.hasTrial(k), deps.studyAliases?.(site))).get(site)!;
    for (const row of rows.filter((r) => r.resourceType === 'ResearchStudy')) await handleResearchStudy(tx, namerOf(row.site), row, batch);
    for (const row of rows.filter((r) => r.resourceType === 'Patient')) await handlePatient(tx, row, batch);
    const subjects = rows.filter((r) => r.resourceType === 'ResearchSubject');
    const studies = await studiesNamedBy(tx, subjects);
    for (const row of subjects) await handleResearchSubject(tx, { namer: namerOf(row.site), studies: studies.get(row.site) ?? new Map() }, row, batch);
    const clinical = rows.filter((r) => !ENROLLMENT_TYPES.has(r.resourceType));
    const current = await handleClinical(tx, deps, clinical, batch);
    await upsertCrfValues(tx, batch.values);
    // After the upsert, so an older version in this same batch is superseded too.
    // A newer version (including one now entered-in-error) replaces the CRF values of the older ones.
    await supersedeOlderVersions(tx, current);
    // A person's decision about an older version stands until a person reviews the new one (README "Review API").
    await markRereviews(tx, current);
    await insertReviewItems(tx, batch.reviews);
    await countUnmapped(tx, batch.unmapped);
    await setInboundStates(tx, batch.states);
    const released: number[] = [...batch.restudied];
    for (const [site, keys] of batch.touchedPatients) released.push(...(await releaseUnmatched(tx, site, [...keys])));
    const states: Record<string, number> = {};
    for (const s of batch.states) states[s.state] = (states[s.state] ?? 0) + 1;
    // A Patient can resolve an enrollment that named it by identifier only.
    const enrollmentSites = [...new Set(rows.filter((r) => r.resourceType === 'ResearchSubject' || r.resourceType === 'Patient').map((r) => r.site))];
    return { processed: rows.length, states, released, changed: batch.changed, enrollmentSites, unenrolled: batch.unenrolled };
  });
}

/** Takes the per-patient and per-ResearchStudy locks of a batch, site by site (see lockPatients). */
async function lockRowPatients(db: Db, deps: MapDeps, rows: readonly InboundRow[]): Promise<void> {
  const bySite = new Map<string, { ex: Set<string>; sh: Set<string> }>();
  const at = (site: string) => bySite.get(site) ?? bySite.set(site, { ex: new Set(), sh: new Set() }).get(site)!;
  for (const r of rows) {
    if (r.resourceType === 'Patient') {
      const idents = ((r.body as unknown as Patient).identifier ?? []).filter((i) => i.value).map((i) => identifierKey({ system: i.system ?? '', value: i.value! }));
      [r.resourceId, ...idents].forEach((k) => at(r.site).ex.add(k));
    } else if (r.resourceType === 'ResearchStudy') {
      at(r.site).ex.add(studyLockKey(r.resourceId));
    } else if (r.resourceType === 'ResearchSubject') {
      // Only the patient half is read here; the study is resolved under the lock.
      const e = parseResearchSubject(r.body as unknown as ResearchSubject, (k) => deps.mappings.hasTrial(k));
      [e.patientRef, e.individual ? identifierKey(e.individual) : null].forEach((k) => k && at(r.site).ex.add(k));
      // Shared with its ResearchStudy's processing: otherwise a subject parked as awaiting the study while the
      // study commits in another job would miss that job's release and stay parked.
      const study = researchStudyId((r.body as unknown as ResearchSubject).study?.reference);
      if (study) at(r.site).sh.add(studyLockKey(study));
    } else if (r.patientId) at(r.site).sh.add(r.patientId);
  }
  for (const [site, { ex, sh }] of [...bySite].sort(([a], [b]) => a.localeCompare(b))) await lockPatients(db, site, ex, sh);
}

function addTo(m: Map<string, Set<string>>, site: string, id: string): void {
  m.set(site, (m.get(site) ?? new Set()).add(id));
}

function touch(batch: Batch, site: string, keys: readonly string[]): void {
  keys.forEach((k) => addTo(batch.touchedPatients, site, k));
}

/** Lock key of a ResearchStudy, in the per-site key space of lockPatients (no patient key starts so). */
function studyLockKey(id: string): string {
  return `research-study:${id}`;
}

function identifierKey(i: Identifier): string {
  return `identifier:${i.system}|${i.value}`;
}

async function handlePatient(db: Db, row: InboundRow, batch: Batch): Promise<void> {
  const p = row.body as unknown as Patient;
  const idents: Identifier[] = (p.identifier ?? []).filter((i) => i.value).map((i) => ({ system: i.system ?? '', value: i.value! }));
  await upsertPatient(db, row.site, row.resourceId, idents, row.id);
  touch(batch, row.site, [row.resourceId, ...idents.map(identifierKey)]);
  // A birth date arriving after the labs can make a parked patient a potential candidate (the pre-screen job skips enrolled trials).
  addTo(batch.unenrolled, row.site, row.resourceId);
  batch.states.push({ id: row.id, state: 'mapped' });
}

/**
 * Stores a ResearchStudy and sends back for re-resolution the ResearchSubjects
 * that wait for it or were resolved through it (a later version may name
 * another trial). The subjects of the trials it names (before and now) are
 * re-evaluated: their study-drug administrations may name it by reference.
 */
async function handleResearchStudy(db: Db, trialOf: TrialNamer, row: InboundRow, batch: Batch): Promise<void> {
  const identifiers = studyIdentifiers(row.body as unknown as ResearchStudy);
  const trial = trialOfStudy(identifiers, trialOf);
  const { previousTrial } = await upsertResearchStudy(db, { site: row.site, researchStudyId: row.resourceId, identifiers, trial, inboundId: row.id });
  const refersTo = (body: Record<string, unknown>) => researchStudyId((body as unknown as ResearchSubject).study?.reference) === row.resourceId;
  batch.restudied.push(...(await releaseStudyWaiters(db, row.site, row.resourceId, refersTo)));
  const trials = [...new Set([trial, previousTrial].filter((t): t is string => !!t))];
  for (const pid of await patientsInTrials(db, row.site, trials)) addTo(batch.changed, row.site, pid);
  batch.states.push({ id: row.id, state: 'mapped' });
}

/** The stored ResearchStudies the batch's ResearchSubjects name by reference, per site. */
async function studiesNamedBy(db: Db, rows: readonly InboundRow[]): Promise<Map<string, Map<string, StoredStudy>>> {
  const ids = new Map<string, string[]>();
  for (const r of rows) {
    const id = researchStudyId((r.body as unknown as ResearchSubject).study?.reference);
    if (id) ids.set(r.site, [...(ids.get(r.site) ?? []), id]);
  }
  const out = new Map<string, Map<string, StoredStudy>>();
  for (const [site, list] of ids) out.set(site, await storedStudies(db, site, list));
  return out;
}

interface SiteStudies {
  readonly namer: TrialNamer;
  readonly studies: ReadonlyMap<string, StoredStudy>;
}

async function handleResearchSubject(db: Db, site: SiteStudies, row: InboundRow, batch: Batch): Promise<void> {
  const e = parseResearchSubject(row.body as unknown as ResearchSubject, { trialOf: site.namer, storedStudy: (id) => site.studies.get(id)?.identifiers });
  if (e.study.kind === 'awaiting') {
    // Parked, like a lab without enrollment: released when its ResearchStudy arrives (handleResearchStudy).
    batch.states.push({ id: row.id, state: 'unmatched', error: 'awaiting-research-study' });
    return;
  }
  if (!e.trial) {
    batch.reviews.push({ inboundId: row.id, trial: null, subject: null, ruleId: null, reason: 'unknown-study', detail: `ResearchSubject.study names no configured trial (${e.studyText})` });
    batch.states.push({ id: row.id, state: 'needs_review', error: 'unknown-study' });
    return;
  }
  const owner = await claimSubject(db, e.trial, e.subject, row.site);
  if (owner !== row.site) {
    // A (trial, subject) belongs to the site that first enrolled it; nothing of that site's subject changes.
    batch.reviews.push({
      inboundId: row.id, trial: e.trial, subject: e.subject, ruleId: null, reason: 'subject-claimed-by-other-site',
      detail: `ResearchSubject.identifier: subject ${e.subject} of ${e.trial} is already enrolled by site ${owner}; refused for site ${row.site}`,
    });
    batch.states.push({ id: row.id, state: 'needs_review', error: 'subject-claimed-by-other-site' });
    return;
  }
  const patientId = e.patientRef ?? (e.individual ? await patientIdByIdentifier(db, row.site, e.individual) : null);
  const { moved } = await upsertEnrollment(db, {
    site: row.site, researchSubjectId: row.resourceId, trial: e.trial, subject: e.subject, patientId, arm: e.arm, status: e.status,
    periodStart: e.periodStart, individual: e.individual, inboundId: row.id, studyRef: e.study.studyId,
  });
  // Values mapped under the old trial or subject number are replaced by mapping the patient's data again.
  if (moved && patientId) batch.restudied.push(...(await remapMovedEnrollment(db, row.site, patientId, moved)));
  const keys = [patientId, e.individual ? identifierKey(e.individual) : null].filter((k): k is string => !!k);
  touch(batch, row.site, keys);
  if (patientId) addTo(batch.changed, row.site, patientId);
  batch.states.push({ id: row.id, state: 'mapped' });
}

/** Resolves `identifier:` patient keys to logical ids through the Patient identifiers seen so far. */
async function resolvePatient(db: Db, site: string, key: string | null, cache: Map<string, string | null>): Promise<string | null> {
  if (!key || !key.startsWith('identifier:')) return key;
  const ck = `${site}\u0000${key}`;
  if (!cache.has(ck)) {
    const [system, ...rest] = key.slice('identifier:'.length).split('|');
    cache.set(ck, await patientIdByIdentifier(db, site, { system, value: rest.join('|') }));
  }
  return cache.get(ck)!;
}

/** Maps Observations and MedicationAdministrations; returns the ids of rows that are the current version. */
async function handleClinical(db: Db, deps: MapDeps, rows: readonly InboundRow[], batch: Batch): Promise<number[]> {
  if (!rows.length) return [];
  const stale = await newerVersionExists(db, rows);
  const cache = new Map<string, string | null>();
  const resolved = new Map<number, string | null>();
  const bySite = new Map<string, Set<string>>();
  for (const r of rows) {
    const pid = await resolvePatient(db, r.site, r.patientId, cache);
    resolved.set(r.id, pid);
    if (pid) bySite.set(r.site, (bySite.get(r.site) ?? new Set()).add(pid));
  }
  const enrollments = new Map<string, Map<string, Enrollment[]>>();
  for (const [site, pids] of bySite) enrollments.set(site, await enrollmentsByPatient(db, site, [...pids]));
  const current: number[] = [];
  for (const r of rows) {
    if (stale.has(r.id)) {
      batch.states.push({ id: r.id, state: 'superseded' });
      continue;
    }
    const pid = resolved.get(r.id);
    if (!r.patientId) {
      batch.reviews.push({ inboundId: r.id, trial: null, subject: null, ruleId: null, reason: 'no-subject', detail: `${r.resourceType}.subject names no Patient` });
      batch.states.push({ id: r.id, state: 'needs_review', error: 'no-subject' });
      continue;
    }
    const ens = pid ? enrollments.get(r.site)?.get(pid) ?? [] : [];
    if (!ens.length) {
      // Parked, not lost: mapped automatically when the ResearchSubject arrives.
      batch.states.push({ id: r.id, state: 'unmatched' });
      // Pre-screened where the site pre-screens (the worker decides; ids only, never values).
      if (pid && r.resourceType === 'Observation') addTo(batch.unenrolled, r.site, pid);
      continue;
    }
    current.push(r.id);
    addTo(batch.changed, r.site, pid!);
    let mapped = 0;
    let reviews = 0;
    const unmapped = unmappedCodings(deps.mappings, r.body as unknown as Resource, r.site);
    if (unmapped) {
      batch.unmapped.push(...unmapped.map((c) => ({ site: r.site, ...c })));
      metrics.unmappedObservations.inc({ site: r.site });
    }
    for (const en of ens) {
      if (!deps.mappings.hasTrial(en.trial)) continue;
      for (const o of mapResource(deps.mappings, en.trial, r.body as unknown as Resource, { fallbackEffective: r.context?.fallbackEffective as string | undefined, site: r.site })) {
        if (o.kind === 'value') {
          mapped++;
          const { kind: _kind, ...value } = o;
          batch.values.push({ ...value, subject: en.subject, site: r.site, sourceType: r.resourceType, sourceId: r.resourceId, sourceVersion: r.version, inboundId: r.id });
        } else {
          reviews++;
          batch.reviews.push({ inboundId: r.id, trial: o.trial, subject: en.subject, ruleId: o.ruleId, reason: o.reason, detail: o.detail });
        }
      }
    }
    batch.states.push({ id: r.id, state: mapped || !reviews ? 'mapped' : 'needs_review' });
    deps.log.debug({ inbound: r.id, ref: `${r.resourceType}/${r.resourceId}`, mapped, reviews }, 'mapped resource');
  }
  return current;
}
