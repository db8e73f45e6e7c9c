/**
 * Queue `notify`: one job per delivery (email, webhook, FHIR write-back),
 * retried with exponential backoff, plus the daily `digest` job (a BullMQ job
 * scheduler). Beside it runs the outbox poller: every second it fans out new
 * flag events into deliveries (notify/fanout.ts) and queues the pending ones.
 * Job data are delivery ids, never PHI (design.md habit 5); a job id holds the
 * delivery id and its round, so a redelivered job is a no-op and a resend is a new job.
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SiteConfig } from '../config';
import type { SiteClient } from '../connect/types';
import type { Logger } from '../logger';
import { createMailer, deliver, fanOut, PermanentDeliveryError, sendDigests, type Mailer, type NotifySettings } from '../notify';
import type { Db } from '../store/db';
import { requeue, staleQueued, takePending, type TakenDelivery } from '../store/notify';

export const NOTIFY_QUEUE = 'notify';
/** How often the outbox is polled (the alert latency budget is seconds, README "Pre-screening and alerts"). */
export const OUTBOX_POLL_MS = 1000;
/** Deliveries queued per tick. */
export const QUEUE_BATCH = 500;
/** Deliveries sent at once (they wait mostly on SMTP relays, webhook receivers and EHRs). */
export const NOTIFY_CONCURRENCY = 8;

/** `also`: immediate emails to the same recipient sent with `deliveryId` in one message (ids only). */
export type NotifyJobData = { readonly kind: 'deliver'; readonly deliveryId: number; readonly also?: readonly number[] } | { readonly kind: 'digest' };

/** Alerts one email may list. */
export const EMAIL_GROUP_MAX = 50;

export interface NotifyDeps {
  readonly db: Db;
  readonly log: Logger;
  readonly connection: Redis;
  readonly prefix: string;
  readonly settings: NotifySettings;
  readonly clientOf: (site: SiteConfig) => SiteClient;
  /** Run the worker and poller in this process (TRIALBRIDGE_WORKER_QUEUES). */
  readonly autorun: boolean;
}

export interface Notifier {
  readonly queue: Queue<NotifyJobData>;
  /** One poll now: fan out the outbox, queue pending deliveries (tests and operators). */
  tick(): Promise<{ events: number; queued: number }>;
  /** The digest as of `now` (the scheduled job calls it with the current time). */
  digest(now: Date): Promise<{ users: number; flags: number }>;
  close(): Promise<void>;
}

/** A queued delivery unchanged this long has lost its job (every attempt touches it); it is queued again. */
export const STALE_QUEUED_MS = 15 * 60_000;

export const deliveryJobId = (id: number, round: number): string => `d${id}r${round}`;

export function startNotifier(deps: NotifyDeps): Notifier {
  const cfg = deps.settings.notify;
  const mailer: Mailer | null = cfg.smtp && cfg.mailFrom ? createMailer(cfg.smtp, cfg.mailFrom) : null;
  const queue = new Queue<NotifyJobData>(NOTIFY_QUEUE, {
    connection: deps.connection,
    prefix: deps.prefix,
    defaultJobOptions: { attempts: cfg.attempts, backoff: { type: 'exponential', delay: cfg.retryBaseMs }, removeOnComplete: { count: 1000 }, removeOnFail: { count: 10000 } },
  });
  queue.on('error', () => undefined);
  const digest = (now: Date) => sendDigests({ db: deps.db, log: deps.log, settings: deps.settings, mailer }, now);
  const worker = new Worker<NotifyJobData>(
    NOTIFY_QUEUE,
    async (job: Job<NotifyJobData>) => {
      if (job.data.kind === 'digest') return digest(new Date());
      const log = deps.log.child({ job: job.id });
      try {
        return await deliver({ db: deps.db, log, settings: deps.settings, mailer, clientOf: deps.clientOf }, job.data.deliveryId, job.attemptsMade + 1 >= (job.opts.attempts ?? 1), job.data.also ?? []);
      } catch (e) {
        if (e instanceof PermanentDeliveryError) throw new UnrecoverableError(e.message);
        throw e;
      }
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: NOTIFY_CONCURRENCY, autorun: deps.autorun },
  );
  worker.on('error', (err) => deps.log.error({ err: err.message }, 'notify worker error'));

  const tick = async (): Promise<{ events: number; queued: number }> => {
    let events = 0;
    for (;;) {
      const r = await fanOut(deps.db, deps.settings);
      events += r.events;
      if (!r.events) break;
    }
    const taken = await takePending(deps.db, QUEUE_BATCH);
    const pending = [...taken, ...(await staleQueued(deps.db, STALE_QUEUED_MS, QUEUE_BATCH))];
    if (pending.length) {
      try {
        const jobs = [...groupEmails(taken), ...pending.slice(taken.length).map((p) => ({ lead: p, also: [] }))];
        await queue.addBulk(jobs.map(({ lead, also }) => ({ name: 'deliver', data: { kind: 'deliver' as const, deliveryId: lead.id, ...(also.length ? { also } : {}) }, opts: { jobId: deliveryJobId(lead.id, lead.round) } })));
      } catch (e) {
        // Redis unreachable: the deliveries stay in the store and are queued by a later tick.
        await requeue(deps.db, pending.map((p) => p.id));
        throw e;
      }
    }
    return { events, queued: pending.length };
  };
  let running: Promise<unknown> | null = null;
  const timer = deps.autorun
    ? setInterval(() => {
        if (running) return;
        running = tick()
          .catch((e) => deps.log.warn({ err: (e as Error).message }, 'notify poll failed'))
          .finally(() => (running = null));
      }, OUTBOX_POLL_MS)
    : null;
  timer?.unref();
  if (deps.autorun && mailer) {
    queue
      .upsertJobScheduler('digest', { pattern: cfg.digestCron, tz: cfg.digestTimeZone }, { name: 'digest', data: { kind: 'digest' }, opts: { attempts: 3 } })
      .catch((e) => deps.log.warn({ err: (e as Error).message }, 'could not set the digest schedule'));
  }
  return {
    queue,
    tick,
    digest,
    async close() {
      if (timer) clearInterval(timer);
      await running;
      await worker.close();
      await queue.close();
      mailer?.close();
    },
  };
}

/**
 * One job per delivery, except immediate emails: those taken in one poll for
 * the same recipient become one job (the first as lead, at most EMAIL_GROUP_MAX),
 * sent as one message. A delivery queued again later (stale, resend) has its own job.
 */
export function groupEmails(taken: readonly TakenDelivery[]): { lead: TakenDelivery; also: number[] }[] {
  const out: { lead: TakenDelivery; also: number[] }[] = [];
  const open = new Map<string, { lead: TakenDelivery; also: number[] }>();
  for (const d of taken) {
    const group = d.channel === 'email' && d.mode === 'immediate' ? open.get(d.target) : undefined;
    if (group && group.also.length + 1 < EMAIL_GROUP_MAX) {
      group.also.push(d.id);
      continue;
    }
    const g = { lead: d, also: [] as number[] };
    out.push(g);
    if (d.channel === 'email' && d.mode === 'immediate') open.set(d.target, g);
  }
  return out;
}
