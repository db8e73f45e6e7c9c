/**
 * Queue `evaluate-subject`: one job per subject, deduplicated and
 * debounced (BullMQ deduplication in debounce mode), and serialised per subject
 * by an advisory lock in the processor, so two workers never interleave.
 * Job data are keys, never PHI.
 */
import crypto from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger';
import type { MappingSet } from '../mapping';
import { buildSubjectReport } from '../protocol/report/build';
import type { TrialSet } from '../protocol/trials';
import type { Db } from '../store/db';
import { saveEvaluation } from '../store/evaluation';
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

/** Stable, PHI-free id of a subject for job ids and locks (no ':' for BullMQ). */
export function subjectKeyHash(k: EvaluateJobData): string {
  return crypto.createHash('sha1').update(`${k.trial}\u0000${k.site}\u0000${k.subject}`).digest('hex').slice(0, 24);
}

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

/** Evaluates one subject as of today and stores report, visit assignments and flags. */
export async function processEvaluateJob(deps: EvaluateDeps, k: EvaluateJobData): Promise<{ raised: number; resolved: number } | null> {
  return deps.db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [7_243_003, subjectKeyHash(k)]);
    const data = await loadSubjectData(tx, k);
    if (!data) return null;
    const input = reportInput(deps, data, new Date().toISOString());
    if (!input) return null;
    const { report, assignments } = buildSubjectReport(input);
    const res = await saveEvaluation(tx, k, report, assignments, report.flags);
    deps.log.debug({ trial: k.trial, subjectKey: subjectKeyHash(k), ...res, flags: report.flags.length }, 'subject evaluated');
    return res;
  });
}
