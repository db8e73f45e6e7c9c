/**
 * Operator alert for jobs that fail permanently: a job whose attempts are used up, or
 * that threw BullMQ's UnrecoverableError, lands in the failed set, where nobody looks.
 * Each one increments trialbridge_jobs_failed_total{queue} and logs one error line with
 * the queue, the job id and the reason (design.md habit 9: no PHI; the reason is
 * stripped of quoted text, key details and dates, which database errors may carry).
 */
import type { Job, Worker } from 'bullmq';
import type { Logger } from '../logger';
import { metrics } from '../metrics';

/** Longest reason logged. */
export const ALERT_REASON_MAX = 200;

/** The first line of an error message without the parts that may quote data. */
export function phiFreeReason(message: string): string {
  return (message.split('\n')[0] ?? '')
    .replace(/"[^"]*"|'[^']*'/g, '"…"')
    .replace(/\([^()]*\)=\([^()]*\)/g, '(…)=(…)')
    .replace(/\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?/g, '…')
    .slice(0, ALERT_REASON_MAX);
}

/** True when BullMQ will not try this job again (called from the worker's 'failed' event). */
export function isPermanentFailure(job: Pick<Job, 'attemptsMade' | 'opts' | 'finishedOn'>, err: Error): boolean {
  if (err.name === 'UnrecoverableError') return true;
  if (typeof job.finishedOn === 'number') return true;
  return job.attemptsMade >= (job.opts.attempts ?? 1);
}

/** Raises the alert for every permanent failure of `worker`'s jobs. */
export function alertOnPermanentFailure(worker: Worker, queue: string, log: Logger): void {
  worker.on('failed', (job, err) => {
    if (!job || !isPermanentFailure(job, err)) return;
    metrics.jobsFailed.inc({ queue });
    log.error({ alert: 'job-failed', queue, job: job.id, attempts: job.attemptsMade, reason: phiFreeReason(err.message ?? String(err)) }, 'job failed permanently');
  });
}
