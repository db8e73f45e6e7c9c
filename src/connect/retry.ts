/**
 * Retry policy of the outbound connector: how long to wait after a
 * site's server told us to back off, and a small retry loop for in-process
 * retries of one operation. Longer-term rescheduling (the next poll, the next
 * subscription check) belongs to the callers, not here.
 */
import { SiteRequestError } from './types';

/** Default first backoff step; doubled per attempt (before jitter). */
export const RETRY_BASE_MS = 500;
/** Default cap of one backoff wait, and of a Retry-After we are willing to sleep through. */
export const RETRY_MAX_MS = 60_000;

/**
 * Parses an HTTP `Retry-After` value (RFC 9110 §10.2.3): either delay-seconds
 * ("120") or an HTTP-date ("Fri, 31 Dec 1999 23:59:59 GMT"). Returns the wait
 * in milliseconds from `now`, never negative (a date in the past means "now");
 * null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const v = value.trim();
  // delay-seconds = 1*DIGIT (no sign, no fraction).
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // Every HTTP-date form (IMF-fixdate, obsolete RFC 850 and asctime) starts
  // with a day name; refusing anything else keeps Date.parse from reading
  // "-5" or "1.5" as a year.
  if (!/^[A-Za-z]{3}/.test(v)) return null;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

export interface RetryOptions {
  /** Total tries, the first one included (at least 1). */
  readonly attempts: number;
  /** First backoff step (default 500 ms). */
  readonly baseMs?: number;
  /** Cap of one wait (default 60 s). */
  readonly maxMs?: number;
  /** Injected for tests; default setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injected for tests; default Math.random. */
  readonly random?: () => number;
  /** Called before each wait with the error, the delay chosen and the number of the attempt that failed (1-based). */
  readonly onRetry?: (e: SiteRequestError, delayMs: number, attempt: number) => void;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn`, retrying it while it throws a SiteRequestError that is
 * `retriable` ('retry-later', 'unavailable'), up to `attempts` tries in all.
 * Anything else (auth, rejected, bad-response, non-site errors) is rethrown at
 * once; after the last attempt the last error is rethrown.
 *
 * The wait is the server's Retry-After when it sent one (RFC 9110 §10.2.3:
 * the server told us when it can take us again, so neither shorten nor jitter
 * it), otherwise exponential backoff with "full jitter" (a uniform random
 * delay in [0, min(maxMs, baseMs·2^(attempt-1))]), which spreads the retries of
 * many workers hitting the same recovering server.
 *
 * A Retry-After longer than `maxMs` is not slept through: the error is
 * rethrown so that the caller reschedules the work instead of holding a worker
 * for that long.
 */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = Math.max(1, Math.floor(opts.attempts));
  const base = opts.baseMs ?? RETRY_BASE_MS;
  const max = opts.maxMs ?? RETRY_MAX_MS;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof SiteRequestError) || !e.retriable || attempt >= attempts) throw e;
      if (e.retryAfterMs !== null && e.retryAfterMs > max) throw e;
      const delay = e.retryAfterMs ?? Math.floor(random() * Math.min(max, base * 2 ** (attempt - 1)));
      opts.onRetry?.(e, delay, attempt);
      await sleep(delay);
    }
  }
}
