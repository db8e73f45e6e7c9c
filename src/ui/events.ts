/**
 * GET /ui/events — live updates as Server-Sent Events (WHATWG HTML §9.2).
 *
 * One shared poller for every open connection: about once a second a single
 * statement (store/views.ts changesSince) reads what changed since the last
 * look, and each connection receives the events its reader may read
 * (http/scope.ts `can`). Events carry keys and codes only, never values,
 * names or dates of care:
 *   {type:'subject', trial, site, subject}
 *   {type:'flag', id, trial, site, subject, code, severity}
 * A comment line every 15 s keeps proxies from closing an idle stream; the
 * stream closes when the browser session ends (logout, idle or absolute expiry).
 */
import type { Request, Response } from 'express';
import type { Logger } from '../logger';
import { can, type Principal } from '../http/scope';
import type { Db } from '../store/db';
import { sessionById } from '../store/sessions';
import { changesSince, dbNow, type ChangeEvent } from '../store/views';

/** Poll period of the shared poller. */
export const LIVE_POLL_MS = 1000;
/** Comment heartbeat period (and how often a session's liveness is checked). */
export const LIVE_HEARTBEAT_MS = 15_000;
/**
 * Each look re-reads this far behind the newest change seen: rows are stamped
 * with their transaction's start (now()), so one committed a little later than
 * a newer one would otherwise be missed. Repeats are dropped by key.
 */
export const LIVE_OVERLAP_MS = 10_000;

interface Listener {
  readonly principal: Principal;
  readonly res: Response;
  readonly heartbeat: NodeJS.Timeout;
}

export class LiveHub {
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | null = null;
  private watermark: string | null = null;
  /** Keys of events already sent within the overlap, with their instant (ms). */
  private readonly sent = new Map<string, number>();
  private polling = false;

  constructor(private readonly db: Db, private readonly log: Logger, private readonly pollMs = LIVE_POLL_MS, private readonly heartbeatMs = LIVE_HEARTBEAT_MS) {}

  /** Number of open streams (for tests and metrics). */
  get size(): number {
    return this.listeners.size;
  }

  /** Opens a stream for `req`'s principal on `res`. */
  async open(req: Request, res: Response): Promise<void> {
    res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    res.write(`retry: 3000\n: connected\n\n`);
    if (this.watermark === null) this.watermark = await dbNow(this.db);
    const principal = req.principal!;
    const listener: Listener = {
      principal,
      res,
      heartbeat: setInterval(() => void this.beat(listener), this.heartbeatMs),
    };
    listener.heartbeat.unref();
    this.listeners.add(listener);
    // The response's close, not the request's: an IncomingMessage closes once its (empty) body is read.
    res.on('close', () => this.drop(listener));
    this.start();
  }

  /** Ends every stream and the poller (server shutdown). */
  close(): void {
    for (const l of [...this.listeners]) {
      l.res.end();
      this.drop(l);
    }
  }

  private drop(l: Listener): void {
    clearInterval(l.heartbeat);
    this.listeners.delete(l);
    if (!this.listeners.size && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  private async beat(l: Listener): Promise<void> {
    if (l.principal.via === 'session' && l.principal.sessionId) {
      const s = await sessionById(this.db, l.principal.sessionId).catch(() => undefined);
      // A session that ended (logout) or expired closes its streams; a database hiccup does not.
      if (s === null || (s && (s.endedAt || s.expired))) {
        l.res.write(`event: session-ended\ndata: {}\n\n`);
        l.res.end();
        this.drop(l);
        return;
      }
    }
    l.res.write(`: heartbeat\n\n`);
  }

  /** One look for all streams; exposed for tests. */
  async poll(): Promise<void> {
    if (this.polling || this.watermark === null) return;
    this.polling = true;
    try {
      const since = new Date(Date.parse(this.watermark) - LIVE_OVERLAP_MS).toISOString();
      const events = await changesSince(this.db, since);
      const fresh: ChangeEvent[] = [];
      const subjectsThisLook = new Set<string>();
      for (const e of events) {
        const at = Date.parse(e.at);
        if (at > Date.parse(this.watermark)) this.watermark = e.at;
        const key = e.type === 'flag' ? `f|${e.id}|${e.at}` : `s|${e.trial}|${e.site}|${e.subject}|${e.at}`;
        if (this.sent.has(key)) continue;
        this.sent.set(key, at);
        // Several changes of one subject in one look are one event.
        const sk = `${e.trial}|${e.site}|${e.subject}`;
        if (e.type === 'subject') {
          if (subjectsThisLook.has(sk)) continue;
          subjectsThisLook.add(sk);
        }
        fresh.push(e);
      }
      const cutoff = Date.parse(this.watermark) - LIVE_OVERLAP_MS;
      for (const [k, at] of this.sent) if (at < cutoff) this.sent.delete(k);
      for (const e of fresh) {
        const data = e.type === 'flag'
          ? { type: 'flag', id: e.id, trial: e.trial, site: e.site, subject: e.subject, code: e.code, severity: e.severity }
          : { type: 'subject', trial: e.trial, site: e.site, subject: e.subject };
        const line = `data: ${JSON.stringify(data)}\n\n`;
        for (const l of this.listeners) if (can(l.principal, 'read', e.trial, e.site)) l.res.write(line);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'live updates: poll failed');
    } finally {
      this.polling = false;
    }
  }
}
