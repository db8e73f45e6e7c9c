/**
 * Queue `prescreen-patient` (design.md habit 4): the patients of a site that
 * pre-screens whose labs were just parked, in batches: one job per map job and
 * site (at most PRESCREEN_BATCH patients), deduplicated and debounced by the
 * batch's patient set, so a sender repeating one patient's labs in quick
 * single requests is pre-screened once when it pauses. Job data are ids only,
 * `{site, patientIds}`, never values or names (habit 5); the job id is a hash.
 *
 * The processor reads the batch in a handful of statements (store/prescreen.ts),
 * skips the engine for a trial when none of the patient's labs meets any of
 * its trigger thresholds (connect/prescreen-plan.ts: every trigger is a
 * necessary inclusion, so such a patient cannot qualify) or some lab-threshold
 * inclusion has no result meeting it (protocol/prescreen.ts couldQualify),
 * unless a potential candidate must be re-checked, runs the pure engine
 * otherwise, and stores the candidate and its `potential-candidate` flag.
 * Pre-screening must not slow intake (README "Pre-screening and alerts").
 */
import crypto from 'node:crypto';
import type { Observation } from '@medplum/fhirtypes';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PrescreenConfig } from '../config';
import { prescreenPlans, triggeredTrials, type PrescreenPlan } from '../connect/prescreen-plan';
import { LOINC_SYSTEM } from '../connect/watch';
import type { Logger } from '../logger';
import type { MappingSet } from '../mapping';
import { couldQualify, prescreen } from '../protocol/prescreen';
import type { Trial, TrialSet } from '../protocol/trials';
import type { Db } from '../store/db';
import { applyOutcomes, candidateKey, candidatesOf, enrolledTrialsOf, loadPrescreenPatients, lockPrescreenPatients, type Applied, type CandidateRow, type OutcomeItem } from '../store/prescreen';

export const PRESCREEN_QUEUE = 'prescreen-patient';
/** Quiet time after a batch's last labs before it is pre-screened (a panel sent as several single requests). */
export const PRESCREEN_DEBOUNCE_MS = 50;
/** Patients per job: one transaction and a few statements per batch. */
export const PRESCREEN_BATCH = 100;
/** Pre-screening is cheap; it must not compete with intake (README "Pre-screening and alerts", speed). */
export const PRESCREEN_CONCURRENCY = 2;

export interface PrescreenJobData {
  readonly site: string;
  /** Logical Patient ids at the site: pointers, like inbound row ids. */
  readonly patientIds: readonly string[];
  /** A job queued by an earlier release names one patient. */
  readonly patientId?: string;
}

export const PRESCREEN_JOB_OPTIONS: JobsOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 10000 },
};

/** PHI-free job and deduplication id of a batch (no ':' for BullMQ). */
export function prescreenJobKey(site: string, patientIds: readonly string[]): string {
  return crypto.createHash('sha1').update([site, ...[...new Set(patientIds)].sort()].join('\u0000')).digest('hex').slice(0, 24);
}

export interface PrescreenQueue {
  readonly queue: Queue<PrescreenJobData>;
  enqueue(patients: readonly { readonly site: string; readonly patientId: string }[]): Promise<void>;
}

export function createPrescreenQueue(connection: Redis, prefix: string): PrescreenQueue {
  const queue = new Queue<PrescreenJobData>(PRESCREEN_QUEUE, { connection, prefix, defaultJobOptions: PRESCREEN_JOB_OPTIONS });
  queue.on('error', () => undefined);
  return {
    queue,
    async enqueue(patients) {
      const bySite = new Map<string, Set<string>>();
      for (const p of patients) {
        let ids = bySite.get(p.site);
        if (!ids) bySite.set(p.site, (ids = new Set()));
        ids.add(p.patientId);
      }
      const jobs = [...bySite].flatMap(([site, ids]) => {
        const all = [...ids].sort();
        return Array.from({ length: Math.ceil(all.length / PRESCREEN_BATCH) }, (_, i) => all.slice(i * PRESCREEN_BATCH, (i + 1) * PRESCREEN_BATCH)).map((patientIds) => {
          const id = `ps-${prescreenJobKey(site, patientIds)}`;
          return { name: PRESCREEN_QUEUE, data: { site, patientIds }, opts: { delay: PRESCREEN_DEBOUNCE_MS, deduplication: { id, ttl: PRESCREEN_DEBOUNCE_MS, extend: true, replace: true } } };
        });
      });
      if (jobs.length) await queue.addBulk(jobs);
    },
  };
}

export interface PrescreenDeps {
  readonly db: Db;
  readonly trials: TrialSet;
  readonly mappings: MappingSet;
  readonly timeZoneOf: (site: string) => string;
  /** The site's pre-screen configuration; null = it does not pre-screen. */
  readonly prescreenOf: (site: string) => PrescreenConfig | null;
  /**
   * Those of the patients who are in the site's Group / Location / service
   * scope (a connected site's last read of it, store/prescreen.ts
   * patientsInScope). Absent, every patient of the batch is in scope.
   */
  readonly inScope?: (site: string, patientIds: readonly string[]) => Promise<ReadonlySet<string>>;
  readonly log: Logger;
  /** Clock (tests); default Date.now. */
  readonly now?: () => number;
}

/** Per trial: how many patients of the batch ended how (`skipped`: no lab meets a trigger, engine not run). */
export type PrescreenJobResult =
  | { readonly skipped: 'not-prescreening' }
  | { readonly patients: number; readonly outOfScope: number; readonly trials: Record<string, Partial<Record<Applied | 'enrolled' | 'skipped', number>>> };

export async function processPrescreenJob(deps: PrescreenDeps, k: PrescreenJobData): Promise<PrescreenJobResult> {
  const cfg = deps.prescreenOf(k.site);
  if (!cfg) return { skipped: 'not-prescreening' };
  const all = [...new Set(k.patientIds ?? (k.patientId ? [k.patientId] : []))].sort();
  const scoped = cfg.scope.kind === 'all' || !deps.inScope ? null : await deps.inScope(k.site, all);
  const ids = scoped ? all.filter((p) => scoped.has(p)) : all;
  const now = new Date((deps.now ?? Date.now)()).toISOString();
  const trials = cfg.trials.map((key) => deps.trials.get(key)).filter((t): t is Trial => !!t);
  const counts: Record<string, Partial<Record<Applied | 'enrolled' | 'skipped', number>>> = Object.fromEntries(trials.map((t) => [t.key, {}]));
  const count = (trial: string, r: Applied | 'enrolled' | 'skipped') => (counts[trial][r] = (counts[trial][r] ?? 0) + 1);
  if (ids.length && trials.length) {
    await deps.db.transaction(async (tx) => {
      await lockPrescreenPatients(tx, k.site, ids);
      const enrolled = await enrolledTrialsOf(tx, k.site, ids);
      // Quick checks on slim rows first: only the patients who may qualify have their labs read whole.
      const slim = await loadPrescreenPatients(tx, k.site, ids, { slim: true });
      const current = await candidatesOf(tx, k.site, ids, trials.map((t) => t.key));
      const todo: { patientId: string; trial: Trial; row: CandidateRow | null }[] = [];
      for (const patientId of ids) {
        const obs = slim.get(patientId)!.observations;
        for (const trial of trials) {
          if (enrolled.get(patientId)?.has(trial.key)) {
            count(trial.key, 'enrolled');
            continue;
          }
          const row = current.get(candidateKey(trial.key, patientId)) ?? null;
          // Only a potential candidate can change without a trigger (it may have to be withdrawn).
          if (row?.status !== 'potential' && !(mayQualify(trial, deps.mappings, k.site, obs) && couldQualify(trial, deps.mappings, k.site, obs))) {
            count(trial.key, 'skipped');
            continue;
          }
          todo.push({ patientId, trial, row });
        }
      }
      const data = todo.length ? await loadPrescreenPatients(tx, k.site, [...new Set(todo.map((t) => t.patientId))]) : new Map();
      const site = { id: k.site, timeZone: deps.timeZoneOf(k.site) };
      const items: OutcomeItem[] = [];
      for (const { patientId, trial, row } of todo) {
        const d = data.get(patientId)!;
        const r = prescreen({
          trial, mappings: deps.mappings, site, patientId,
          patient: d.patient ? { birthDate: d.patient.birthDate, gender: d.patient.gender } : null, observations: d.observations, now,
        });
        const outcome = r.kind === 'potential'
          ? { kind: 'potential' as const, evidence: r.evidence, refs: [...new Set(r.evidence.flatMap((e) => e.refs.filter((x) => x.startsWith('Observation/'))))].sort(), toCheck: r.toCheck, ageYears: r.ageYears, screeningDate: r.screeningDate }
          : { kind: 'none' as const, reason: r.reason };
        items.push({ key: { trial: trial.key, site: k.site, patientId, retainDays: cfg.retentionDays }, outcome, current: row });
      }
      for (const [i, applied] of (await applyOutcomes(tx, items)).entries()) count(items[i].key.trial, applied);
    });
  }
  // Counts and trial keys only: no patient id, no values (habit 9).
  deps.log.debug({ site: k.site, patients: ids.length, results: counts }, 'patients pre-screened');
  return { patients: ids.length, outOfScope: all.length - ids.length, trials: counts };
}

/** Trigger plans per trial (the trial set is immutable, so they are computed once). */
const plansOf = new WeakMap<Trial, { mappings: MappingSet; plans: PrescreenPlan[] }>();

/**
 * Whether some lab of the patient meets one of the trial's trigger thresholds.
 * Every trigger is a necessary inclusion (a lab threshold on its own or inside
 * an all-of), so when none is met the engine cannot find a potential candidate.
 * A trial without triggers always goes to the engine (it decides "never").
 * A site's local codes count as the LOINC code their code map names.
 */
export function mayQualify(trial: Trial, mappings: MappingSet, site: string, observations: readonly { resource: Observation }[]): boolean {
  let memo = plansOf.get(trial);
  if (!memo || memo.mappings !== mappings) plansOf.set(trial, (memo = { mappings, plans: prescreenPlans([trial], mappings) }));
  if (!memo.plans.length) return true;
  return observations.some(({ resource }) => {
    const o = withSiteCodes(resource, mappings, site);
    return memo!.plans.some((plan) => triggeredTrials(o, plan, mappings).length > 0);
  });
}

function withSiteCodes(o: Observation, mappings: MappingSet, site: string): Observation {
  const extra = (o.code?.coding ?? []).flatMap((c) => {
    const t = c.system && c.code ? mappings.siteCode(site, c.system, c.code) : undefined;
    return t ? [{ system: LOINC_SYSTEM, code: t.loinc }] : [];
  });
  return extra.length ? { ...o, code: { ...o.code, coding: [...(o.code?.coding ?? []), ...extra] } } : o;
}
