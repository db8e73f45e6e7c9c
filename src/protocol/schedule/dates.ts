/**
 * Calendar dates in the site's time zone. Study days, windows and intervals are
 * differences of calendar dates where the site is, not 24-hour periods
 * (clinical-reference §6 "Supporting rules"): an infusion at 23:30 local time on day X
 * belongs to day X even when UTC has already moved to X+1.
 */

/** A calendar date, 'YYYY-MM-DD'. */
export type LocalDate = string;

/** When something happened, as far as the source says. */
export interface TimePoint {
  /** The calendar date in the site's time zone. */
  readonly date: LocalDate;
  /** Epoch milliseconds when the source gives a time with an offset; null for date-only values. */
  readonly instant: number | null;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws RangeError for an unknown zone; config.ts validates site zones at boot.
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', calendar: 'gregory', numberingSystem: 'latn' });
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * Intl's formatToParts costs microseconds per call and a re-evaluation asks
 * for the same instants again and again (every lab of a subject's history), so
 * results are memoised per zone and instant; the cache is simply dropped when
 * it reaches its bound (the answers never change).
 */
const MEMO_MAX = 100_000;
function memo<T>(fn: (instant: number, timeZone: string) => T): (instant: number, timeZone: string) => T {
  let cache = new Map<string, T>();
  return (instant, timeZone) => {
    const key = `${timeZone}|${instant}`;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    if (cache.size >= MEMO_MAX) cache = new Map();
    const v = fn(instant, timeZone);
    cache.set(key, v);
    return v;
  };
}

/** The calendar date of an instant in an IANA time zone. */
export const localDateOf = memo((instant: number, timeZone: string): LocalDate => {
  const parts = formatterFor(timeZone).formatToParts(new Date(instant));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year').padStart(4, '0')}-${get('month')}-${get('day')}`;
});

/**
 * A FHIR date/dateTime/instant as a TimePoint in the site's zone. Date-only values are
 * already calendar dates. A time without an offset (not valid FHIR, seen in feeds) is
 * read as site wall-clock time: its date part, no instant. Partial dates (YYYY,
 * YYYY-MM) and anything unparseable give null: they cannot be placed on a study day.
 */
export function toTimePoint(value: string | null | undefined, timeZone: string): TimePoint | null {
  if (!value) return null;
  if (DATE_ONLY.test(value)) return isRealDate(value) ? { date: value, instant: null } : null;
  const m = DATE_TIME.exec(value);
  if (!m || !isRealDate(m[1])) return null;
  if (!m[2]) return { date: m[1], instant: null };
  const instant = Date.parse(value);
  return Number.isNaN(instant) ? null : { date: localDateOf(instant, timeZone), instant };
}

function isRealDate(date: string): boolean {
  const m = DATE_ONLY.exec(date);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/** Days since 1970-01-01 of a calendar date (no time zone involved: it is already local). */
export function dayNumber(date: LocalDate): number {
  const m = DATE_ONLY.exec(date);
  if (!m) throw new Error(`not a calendar date: ${date}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 86_400_000;
}

/** to - from, in calendar days. */
export function daysBetween(from: LocalDate, to: LocalDate): number {
  return dayNumber(to) - dayNumber(from);
}

export function addDays(date: LocalDate, days: number): LocalDate {
  return new Date((dayNumber(date) + days) * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Is `a` at or before `b`? Instants are compared when both are known; otherwise the
 * calendar dates, and a same-day pair counts as "at or before" (see callers for why).
 */
export function atOrBefore(a: TimePoint, b: TimePoint): boolean {
  if (a.instant !== null && b.instant !== null) return a.instant <= b.instant;
  return a.date <= b.date;
}

/** Orders time points: by date, then by instant when both are known. */
export function compareTimePoints(a: TimePoint, b: TimePoint): number {
  if (a.date !== b.date) return a.date < b.date ? -1 : 1;
  if (a.instant !== null && b.instant !== null) return a.instant - b.instant;
  return 0;
}

const wallClocks = new Map<string, Intl.DateTimeFormat>();

function wallClockFor(timeZone: string): Intl.DateTimeFormat {
  let f = wallClocks.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
      hourCycle: 'h23', calendar: 'gregory', numberingSystem: 'latn',
    });
    wallClocks.set(timeZone, f);
  }
  return f;
}

/** `+08:00` / `-05:00` / `+00:00` for an offset in minutes east of UTC. */
function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * An instant as a FHIR dateTime in the site's wall-clock time with its UTC offset
 * (2024-03-03T23:00:00Z in Asia/Shanghai -> 2024-03-04T07:00:00+08:00): the same instant,
 * written as the site's CRF records it. Whole seconds, as CRFs record times.
 */
export const localDateTimeOf = memo((instant: number, timeZone: string): string => {
  const parts = wallClockFor(timeZone).formatToParts(new Date(instant));
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const seconds = Math.floor(instant / 1000) * 1000;
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const date = `${pad(get('year'), 4)}-${pad(get('month'))}-${pad(get('day'))}`;
  return `${date}T${pad(get('hour'))}:${pad(get('minute'))}:${pad(get('second'))}${offsetText(Math.round((wall - seconds) / 60_000))}`;
});

/**
 * Where a FHIR date/dateTime falls at the site: its local calendar date (the day the
 * report places it on, clinical-reference §6) and, when it carries a time with an offset,
 * the same instant in the site's wall-clock time with the site's offset. The instant
 * itself is kept by the caller; this only adds the site-local reading a CRF needs.
 */
export function siteLocalTime(value: string, timeZone: string): { readonly localDate: LocalDate | null; readonly localDateTime: string | null } {
  const at = toTimePoint(value, timeZone);
  if (!at) return { localDate: null, localDateTime: null };
  return { localDate: at.date, localDateTime: at.instant === null ? null : localDateTimeOf(at.instant, timeZone) };
}
