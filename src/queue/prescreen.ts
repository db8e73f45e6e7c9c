/**
 * Queue `prescreen-patient` (design.md habit 4): one job per patient of a site
 * that pre-screens, deduplicated and debounced like evaluate-subject, so a
 * burst of labs for one patient is evaluated once when it pauses. Job data
 * are ids only, `{site, patientId}`, never values or names (habit 5); the job
 * id is a hash of them.
 *
 * The processor loads the patient's stored Patient and latest lab
 * Observations, runs the pure engine (protocol/prescreen.ts) for each of the
 * site's pre-screen trials the patient is not enrolled in, and stores the
 * candidate and its `potential-candidate` flag (store/prescreen.ts).
 */
import crypto from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PrescreenConfig } from '../config';
import type { Logger } from '../logger';
import type { MappingSet } from '../mapping';
import { prescreen } from '../protocol/prescreen';
import type { TrialSet } from '../protocol/trials';
import type { Db } from '../store/db';
import { applyOutcome, enrolledTrials, loadPrescreenPatient, lockPrescreenPatient, type Applied } from '../store/prescreen';

export const PRESCREEN_QUEUE = 'prescreen-patient';
/** Quiet time after a patient's last lab before it is pre-screened (a panel arrives as several Observations). */
export const PRESCREEN_DEBOUNCE_MS = 500;
/** Pre-screening is cheap; it must not compete with intake (README "Pre-screening and alerts", speed). */
export const PRESCREEN_CONCURRENCY = 8;

export interface PrescreenJobData {
  readonly site: string;
  /** Logical Patient id at the site: a pointer, like an inbound row id. */
  readonly patientId: string;
}

export const PRESCREEN_JOB_OPTIONS: JobsOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 10000 },
};

/** PHI-free job and deduplication id (no ':' for BullMQ). */
export function prescreenJobKey(k: PrescreenJobData): string {
  return crypto.createHash('sha1').update(`${k.site}\u0000${k.patientId}`).digest('hex').slice(0, 24);
}

export interface PrescreenQueue {
  readonly queue: Queue<PrescreenJobData>;
  enqueue(patients: readonly PrescreenJobData[]): Promise<void>;
}

export function createPrescreenQueue(connection: Redis, prefix: string): PrescreenQueue {
  const queue = new Queue<PrescreenJobData>(PRESCREEN_QUEUE, { connection, prefix, defaultJobOptions: PRESCREEN_JOB_OPTIONS });
  queue.on('error', () => undefined);
  return {
    queue,
    async enqueue(patients) {
      if (!patients.length) return;
      await queue.addBulk(
        patients.map((p) => ({
          name: PRESCREEN_QUEUE,
          data: { site: p.site, patientId: p.patientId },
          opts: { delay: PRESCREEN_DEBOUNCE_MS, deduplication: { id: `ps-${prescreenJobKey(p)}`, ttl: PRESCREEN_DEBOUNCE_MS, extend: true, replace: true } },
        })),
      );
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
   * Whether the patient is in a Group / Location / service scope. Absent, the
   * scope is the connected site's watch plan's to apply (only scoped patients'
   * labs are fetched), and every parked patient of the site is pre-screened.
   */
  readonly inScope?: (site: string, patientId: string) => Promise<boolean>;
  readonly log: Logger;
  /** Clock (tests); default Date.now. */
  readonly now?: () => number;
}

export type PrescreenJobResult = { readonly skipped: 'not-prescreening' | 'out-of-scope' } | { readonly trials: Record<string, Applied | 'enrolled'> };

export async function processPrescreenJob(deps: PrescreenDeps, k: PrescreenJobData): Promise<PrescreenJobResult> {
  const cfg = deps.prescreenOf(k.site);
  if (!cfg) return { skipped: 'not-prescreening' };
  if (cfg.scope.kind !== 'all' && deps.inScope && !(await deps.inScope(k.site, k.patientId))) return { skipped: 'out-of-scope' };
  const now = new Date((deps.now ?? Date.now)()).toISOString();
  const out = await deps.db.transaction(async (tx) => {
    await lockPrescreenPatient(tx, k.site, k.patientId);
    const enrolled = await enrolledTrials(tx, k.site, k.patientId);
    const data = await loadPrescreenPatient(tx, k.site, k.patientId);
    const trials: Record<string, Applied | 'enrolled'> = {};
    for (const key of cfg.trials) {
      const trial = deps.trials.get(key);
      if (!trial) continue;
      if (enrolled.has(key)) {
        trials[key] = 'enrolled';
        continue;
      }
      const r = prescreen({
        trial, mappings: deps.mappings, site: { id: k.site, timeZone: deps.timeZoneOf(k.site) }, patientId: k.patientId,
        patient: data.patient ? { birthDate: data.patient.birthDate, gender: data.patient.gender } : null, observations: data.observations, now,
      });
      const outcome = r.kind === 'potential'
        ? { kind: 'potential' as const, evidence: r.evidence, refs: [...new Set(r.evidence.flatMap((e) => e.refs.filter((x) => x.startsWith('Observation/'))))].sort(), toCheck: r.toCheck, ageYears: r.ageYears, screeningDate: r.screeningDate }
        : { kind: 'none' as const, reason: r.reason };
      trials[key] = await applyOutcome(tx, { trial: key, site: k.site, patientId: k.patientId, retainDays: cfg.retentionDays }, outcome);
    }
    return trials;
  });
  // Counts and trial keys only: no patient id, no values (habit 9).
  deps.log.debug({ site: k.site, results: out }, 'patient pre-screened');
  return { trials: out };
}
