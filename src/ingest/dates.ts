/**
 * FHIR R4 `date`, `dateTime` and `instant` values checked at the door, in every
 * element of those types (found through the StructureDefinitions @medplum/core
 * indexes), so that no impossible calendar date or offset-less time reaches the
 * store: PostgreSQL refuses day-of-month overflow in timestamptz, and a time
 * without an offset is not an instant at all.
 *
 * Grammar and rules: FHIR R4 datatypes.html#date, #dateTime, #instant ("If
 * hours and minutes are specified, a time zone SHALL be populated"; "dates SHALL
 * be valid dates"). @medplum/core's own patterns accept `2024-02-30`, hour-only
 * times and times without an offset, so they are not relied on here.
 */
import { getDataType, tryGetDataType, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { localDateTimeOf } from '../protocol/schedule';
import { initFhirValidator } from './fhir-definitions';
import { MAX_JSON_DEPTH } from './parse-json';

/** The FHIR R4 primitive types that carry a calendar date. */
export type DateKind = 'date' | 'dateTime' | 'instant';
const DATE_KINDS: ReadonlySet<string> = new Set<DateKind>(['date', 'dateTime', 'instant']);

/** A parsed value; `time` only when the text had one. */
interface Parts {
  readonly year: number;
  readonly month: number | null;
  readonly day: number | null;
  readonly time: { readonly hour: number; readonly minute: number; readonly second: number | null; readonly fraction: string; readonly offset: string | null } | null;
}

const SHAPE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

function parse(value: string): Parts | null {
  const m = SHAPE.exec(value);
  if (!m) return null;
  const n = (s: string | undefined) => (s === undefined ? null : Number(s));
  const time = m[4] === undefined ? null : { hour: Number(m[4]), minute: Number(m[5]), second: n(m[6]), fraction: m[7] ?? '', offset: m[8] ?? null };
  return { year: Number(m[1]), month: n(m[2]), day: n(m[3]), time };
}

/** Days in a month of the proleptic Gregorian calendar (leap years: divisible by 4, centuries only by 400). */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** What is wrong with a time-zone offset text (FHIR R4: -12:00 to +14:00 by the regex, minutes 00-59), or null. */
function offsetProblem(offset: string): string | null {
  if (offset === 'Z') return null;
  const h = Number(offset.slice(1, 3));
  const mi = Number(offset.slice(4, 6));
  if (mi > 59 || h > 14 || (h === 14 && mi !== 0)) return `the UTC offset ${offset} does not exist (FHIR allows -13:59 to +14:00)`;
  return null;
}

/** Calendar and clock checks of a parsed value, or null when it is a real moment. */
function calendarProblem(p: Parts): string | null {
  if (p.year === 0) return 'year 0000 does not exist (FHIR years run from 0001)';
  if (p.month !== null && (p.month < 1 || p.month > 12)) return `month ${p.month} does not exist`;
  if (p.month !== null && p.day !== null) {
    const max = daysInMonth(p.year, p.month);
    if (p.day < 1 || p.day > max) return `day ${p.day} does not exist: ${MONTHS[p.month - 1]} ${p.year} has ${max} days`;
  }
  const t = p.time;
  if (!t) return null;
  if (t.hour > 23) return `hour ${t.hour} does not exist (00-23)`;
  if (t.minute > 59) return `minute ${t.minute} does not exist (00-59)`;
  // 60 is allowed by the FHIR pattern for a leap second.
  if (t.second !== null && t.second > 60) return `second ${t.second} does not exist (00-60)`;
  return t.offset ? offsetProblem(t.offset) : null;
}

const EXPECTED: Record<DateKind, string> = {
  date: 'YYYY, YYYY-MM or YYYY-MM-DD',
  dateTime: 'YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with Z or an offset such as +08:00',
  instant: 'YYYY-MM-DDThh:mm:ss with Z or an offset such as +08:00',
};

/** Why a time without an offset is refused; exported so callers can tell it apart from an impossible date. */
export const NO_OFFSET = 'has a time but no UTC offset (FHIR R4: if hours and minutes are given, a time zone SHALL be populated); add Z or the offset, e.g. +08:00';

/**
 * Checks one value against its FHIR R4 type: the grammar, then that the date
 * exists in the calendar and the clock. Returns why it is invalid, or null.
 */
export function dateProblem(value: unknown, kind: DateKind): string | null {
  if (typeof value !== 'string') return `a ${kind} must be a string`;
  const p = parse(value);
  if (!p) return `not a FHIR ${kind} (expected ${EXPECTED[kind]})`;
  const wrong = calendarProblem(p);
  if (wrong) return wrong;
  if (kind === 'date' && p.time) return `a date has no time (expected ${EXPECTED.date})`;
  if (kind === 'instant' && (p.day === null || !p.time)) return `an instant needs a full date and time (expected ${EXPECTED.instant})`;
  if (p.time && p.time.second === null) return 'a time needs seconds (hh:mm:ss)';
  if (p.time && !p.time.offset) return NO_OFFSET;
  return null;
}

/** One date-typed primitive found in a resource, with a setter for rewriting it. */
export interface DateElement {
  /** FHIRPath with JSON member names and indexes, e.g. `Observation.component[0].valuePeriod.start`. */
  readonly path: string;
  readonly kind: DateKind;
  readonly value: unknown;
  set(value: string): void;
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The FHIR type of member `key` of an element of `schema` (choice elements `value[x]` resolved from the member name). */
function memberType(schema: InternalTypeSchema, key: string): string | null {
  // Every resource walks the same few schemas: the answer per (schema, member) is kept (choice members scan all elements).
  let known = memberTypes.get(schema);
  if (!known) memberTypes.set(schema, (known = new Map()));
  const hit = known.get(key);
  if (hit !== undefined) return hit;
  const t = findMemberType(schema, key);
  // Member names come from the sender: bound the cache so odd names cannot grow it without end.
  if (known.size < 1000) known.set(key, t);
  return t;
}

const memberTypes = new WeakMap<InternalTypeSchema, Map<string, string | null>>();

function findMemberType(schema: InternalTypeSchema, key: string): string | null {
  if (Object.hasOwn(schema.elements, key)) return schema.elements[key].type[0]?.code ?? null;
  for (const [name, el] of Object.entries(schema.elements)) {
    if (!name.endsWith('[x]')) continue;
    const base = name.slice(0, -3);
    if (!key.startsWith(base)) continue;
    const t = el.type.find((x) => capitalise(x.code) === key.slice(base.length));
    if (t) return t.code;
  }
  return null;
}

function schemaOf(type: string, root: InternalTypeSchema): InternalTypeSchema | undefined {
  return root.innerTypes.find((t) => t.name === type) ?? tryGetDataType(type);
}

function walk(node: Record<string, unknown>, schema: InternalTypeSchema, root: InternalTypeSchema, path: string, out: DateElement[], depth = 0): void {
  // Deeper nesting is refused by jsonHazards (validate.ts); stopping here keeps the walk off the stack limit.
  if (depth > MAX_JSON_DEPTH) return;
  for (const [key, v] of Object.entries(node)) {
    // `_x` holds the id and extensions of primitive `x` (FHIR R4 json.html#primitive).
    const type = key.startsWith('_') ? 'Element' : memberType(schema, key);
    if (!type) continue;
    const items: unknown[] = Array.isArray(v) ? v : [v];
    items.forEach((item, i) => {
      const at = Array.isArray(v) ? `${path}.${key}[${i}]` : `${path}.${key}`;
      const set = (x: string) => (Array.isArray(v) ? (v[i] = x) : (node[key] = x));
      if (DATE_KINDS.has(type)) out.push({ path: at, kind: type as DateKind, value: item, set });
      else if (item && typeof item === 'object' && !Array.isArray(item)) visitComplex(item as Record<string, unknown>, type, root, at, out, depth + 1);
    });
  }
}

function visitComplex(item: Record<string, unknown>, type: string, root: InternalTypeSchema, at: string, out: DateElement[], depth: number): void {
  if (type === 'Resource') {
    // contained resources and Bundle.entry.resource: the member's own resourceType decides.
    const rt = item.resourceType;
    const own = typeof rt === 'string' ? tryGetDataType(rt) : undefined;
    if (own) walk(item, own, own, at, out, depth);
    return;
  }
  const s = schemaOf(type, root);
  if (s) walk(item, s, root, at, out, depth);
}

/** Every date, dateTime and instant element of a resource, in document order. */
export function dateElements(resource: Resource): DateElement[] {
  initFhirValidator();
  const out: DateElement[] = [];
  const schema = tryGetDataType(resource.resourceType) ? getDataType(resource.resourceType) : undefined;
  if (schema) walk(resource as unknown as Record<string, unknown>, schema, schema, resource.resourceType, out);
  return out;
}

/** Options for reading dates; see {@link dateIssues}. */
export interface DateOptions {
  /** Offset-less times are site wall-clock times (already rewritten by {@link readLocalTimes}): not an error. */
  readonly localTimesAllowed?: boolean;
}

/** One error issue per invalid date/dateTime/instant element, naming the element and why. */
export function dateIssues(resource: Resource, opts: DateOptions = {}): OperationOutcomeIssue[] {
  return dateElements(resource).flatMap((e) => {
    const why = dateProblem(e.value, e.kind);
    if (!why || (why === NO_OFFSET && opts.localTimesAllowed)) return [];
    return [{ severity: 'error' as const, code: 'value' as const, details: { text: `${e.kind} ${why}` }, expression: [e.path] }];
  });
}

/**
 * The UTC offset a wall-clock time has in an IANA zone, e.g. `+08:00`; null when
 * the time does not exist there (spring-forward gap) or exists twice (fall-back
 * overlap): guessing would move the value by an hour.
 */
export function zoneOffsetAt(wall: string, timeZone: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(wall);
  if (!m) return null;
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]), Math.min(Number(m[6]), 59), 0);
  const guess = d.getTime();
  const offsets = new Set([-86_400_000, 0, 86_400_000].map((dt) => localDateTimeOf(guess + dt, timeZone).slice(19)));
  const fits = [...offsets].filter((o) => {
    const minutes = (o.startsWith('-') ? -1 : 1) * (Number(o.slice(1, 3)) * 60 + Number(o.slice(4, 6)));
    return localDateTimeOf(guess - minutes * 60_000, timeZone).slice(0, 19) === wall.replace(/:60$/, ':59');
  });
  return fits.length === 1 ? fits[0] : null;
}

/** What {@link readLocalTimes} did. */
export interface LocalTimesRead {
  /** A copy with each offset-less time given the site's offset (the input is not changed). */
  readonly resource: Resource;
  /** Paths of the elements rewritten, for the provenance context. */
  readonly paths: readonly string[];
  /** Times that do not exist once, at the site (DST gap or overlap). */
  readonly issues: OperationOutcomeIssue[];
}

/**
 * Reads every offset-less dateTime/instant of a resource as wall-clock time in
 * `timeZone` (a per-site opt-in, README "Configuration"): the value gets the
 * zone's offset at that moment, so the instant is the one the site meant.
 */
export function readLocalTimes(resource: Resource, timeZone: string): LocalTimesRead {
  const copy = structuredClone(resource);
  const paths: string[] = [];
  const issues: OperationOutcomeIssue[] = [];
  for (const e of dateElements(copy)) {
    if (dateProblem(e.value, e.kind) !== NO_OFFSET) continue;
    const text = e.value as string;
    const wall = text.slice(0, 19);
    const offset = zoneOffsetAt(wall, timeZone);
    if (!offset) {
      issues.push({ severity: 'error', code: 'value', details: { text: `${e.kind} has no UTC offset and its wall-clock time is skipped or repeated in ${timeZone} (daylight-saving change): add the offset` }, expression: [e.path] });
      continue;
    }
    e.set(`${text}${offset}`);
    paths.push(e.path);
  }
  return { resource: copy, paths, issues };
}
