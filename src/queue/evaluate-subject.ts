/**
 * Queue `evaluate-subject`: one job per subject, deduplicated and
 * debounced (BullMQ deduplication in debounce mode), and serialised per subject
 * by an advisory lock in the processor, so two workers never interleave.
 * Job data are keys, never PHI.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger';
import type { MappingSet } from '../mapping';
import { buildSubjectReport } from '../protocol/report/build';
import type { TrialSet } from '../protocol/trials';
import type { Db } from '../store/db';
import { lockSubject, saveFlags, saveReport, subjectKeyHash } from '../store/evaluation';
import { signatureVoidFlags, voidChangedSignatures } from '../store/signatures';
import { loadSubjectData } from '../store/subject-data';
import { reportInput } from '../protocol/report/from-stored';

export const EVALUATE_QUEUE = 'evaluate-subject';
/** Quiet time after a subject's last change before it is evaluated. */
export const EVALUATE_DEBOUNCE_MS = 500;

export interface EvaluateJobData {
  readonly trial: string;
  readonly subject: string;
  readonly site: string;
}

export const EVALUATE_JOB_OPTIONS: JobsOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 10000 },
};

/** Stable, PHI-free id of a subject for job ids and locks (no ':' for BullMQ); the store's, so the lock keys agree. */
export { subjectKeyHash };

export interface EvaluateQueue {
  readonly queue: Queue<EvaluateJobData>;
  enqueue(subjects: readonly EvaluateJobData[]): Promise<void>;
}

export function createEvaluateQueue(connection: Redis, prefix: string): EvaluateQueue {
  const queue = new Queue<EvaluateJobData>(EVALUATE_QUEUE, { connection, prefix, defaultJobOptions: EVALUATE_JOB_OPTIONS });
  queue.on('error', () => undefined);
  return {
    queue,
    async enqueue(subjects) {
      if (!subjects.length) return;
      // Debounced: while a subject's data keeps arriving (a backfill, a Bundle split into many jobs) the
      // pending evaluation is pushed back, so it runs once the stream pauses, not once per job.
      await queue.addBulk(
        subjects.map((s) => ({
          name: EVALUATE_QUEUE,
          data: s,
          opts: { delay: EVALUATE_DEBOUNCE_MS, deduplication: { id: `ev-${subjectKeyHash(s)}`, ttl: EVALUATE_DEBOUNCE_MS, extend: true, replace: true } },
        })),
      );
    },
  };
}

export interface EvaluateDeps {
  readonly db: Db;
  readonly trials: TrialSet;
  readonly mappings: MappingSet;
  readonly timeZoneOf: (site: string) => string;
  readonly log: Logger;
}

/**
 * Evaluates one subject as of today and stores report, visit assignments and
 * flags. Between the two, every valid e-signature of the subject is checked
 * against the values that count now and voided when they changed (21 CFR Part 11
 * §11.70: a signature must not carry over to data nobody signed); a void
 * signature keeps a `signature-void` flag raised until the visit is signed again.
 */
export async function processEvaluateJob(deps: EvaluateDeps, k: EvaluateJobData): Promise<{ raised: number; resolved: number; voided: number } | null> {
  return deps.db.transaction(async (tx) => {
    await lockSubject(tx, k);
    const data = await loadSubjectData(tx, k);
    if (!data) return null;
    const input = reportInput(deps, data, new Date().toISOString());
    if (!input) return null;
    const { report, assignments } = buildSubjectReport(input);
    await saveReport(tx, k, report, assignments);
    const voided = await voidChangedSignatures(tx, k);
    const res = await saveFlags(tx, k, [...report.flags, ...(await signatureVoidFlags(tx, k))]);
    deps.log.debug({ trial: k.trial, subjectKey: subjectKeyHash(k), ...res, voided: voided.length, flags: report.flags.length }, 'subject evaluated');
    return { ...res, voided: voided.length };
  });
}
