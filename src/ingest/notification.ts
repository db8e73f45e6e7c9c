/**
 * Pure parser for topic-based subscription notifications (README "Connect a site"): what a
 * site's FHIR server POSTs to our rest-hook endpoint, and what its `$status`
 * operation answers.
 *
 * Forms (FHIR R4 Subscriptions R5 Backport IG STU 1.1,
 * https://hl7.org/fhir/uv/subscriptions-backport/STU1.1/, and R5/R4B):
 * - R4 backport: Bundle `type: history`, profile backport-subscription-notification-r4,
 *   whose FIRST entry is a `Parameters` (profile backport-subscription-status-r4)
 *   with parameters subscription, topic, status, type, events-since-subscription-start
 *   (a valueString holding an integer), notification-event (parts event-number —
 *   also a string —, timestamp, focus, additional-context) and error.
 * - R5 (and R4B): Bundle `type: subscription-notification` (R4B: history) whose first
 *   entry is a `SubscriptionStatus`; its integer64 counters are JSON strings too.
 * - The remaining entries carry the payload: full resources (full-resource), fullUrl +
 *   request without a resource (id-only), or nothing (empty) — IG "Payload Types".
 * The IG requires request/response on the status entry; we do not need them, so the
 * Inferno "non-conformant" example (which drops them) still parses.
 * Real samples: shared/fhir-samples/README.md §5.
 */
import type { CodeableConcept, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

/** Backport IG value set `backport-notification-type` (R5 `subscription-notification-type`). */
export const NOTIFICATION_TYPES = ['handshake', 'heartbeat', 'event-notification', 'query-status', 'query-event'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];
/** Backport IG `backport-content-value-set`, inferred from the entries (see {@link ParsedNotification.content}). */
export type PayloadContent = 'empty' | 'id-only' | 'full-resource';
/** R4 `subscription-status` codes plus R5's `entered-in-error`. */
const STATUS_CODES = ['requested', 'active', 'error', 'off', 'entered-in-error'];

/** One `notification-event` parameter (R5: `SubscriptionStatus.notificationEvent`). */
export interface NotificationEvent {
  /** event-number as an integer (the IG sends it as a string, e.g. "1"); null when absent. */
  readonly eventNumber: number | null;
  readonly timestamp: string | null;
  /** The focus reference as sent (absolute URL or Type/id). */
  readonly focus: string | null;
  /** The Bundle entry resource for the focus, when the payload carries it (full-resource). */
  readonly resource: Resource | null;
  /** additional-context references as sent (always set by the parser; optional for hand-built values). */
  readonly additionalContext?: readonly string[];
}

/** A notification reduced to what the connector acts on. */
export interface ParsedNotification {
  /** The subscription reference as sent, e.g. "https://fhirserver.org/fhir/Subscription/123". */
  readonly subscription: string;
  /** Logical id taken from `subscription` ("123"), null when it has no `Subscription/<id>` form. */
  readonly subscriptionId: string | null;
  readonly topic: string | null;
  readonly status: string | null;
  readonly type: NotificationType;
  readonly eventsSinceSubscriptionStart: number | null;
  readonly events: readonly NotificationEvent[];
  /** Inferred: any resource entries → full-resource; else any focus or fullUrl entries → id-only; else empty. */
  readonly content: PayloadContent;
  /** Every resource entry after the status, in order. */
  readonly resources: readonly Resource[];
  /** What to read for id-only: event focus refs, else entry fullUrls/request urls; de-duplicated, minus those present in `resources`. */
  readonly references: readonly string[];
  /** The status's `error` CodeableConcepts (always set by the parser; optional for hand-built values). */
  readonly errors?: readonly CodeableConcept[];
}

export type ParseResult = { ok: true; notification: ParsedNotification } | { ok: false; issues: OperationOutcomeIssue[] };

type Obj = Record<string, unknown>;
type Issues = OperationOutcomeIssue[];
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const issue = (code: 'required' | 'value' | 'structure' | 'invalid', at: string, diagnostics: string): OperationOutcomeIssue => ({
  severity: 'error',
  code,
  expression: [at],
  diagnostics,
});
const NOTIFICATION_BUNDLE_TYPES = ['history', 'subscription-notification'];

interface RawEvent {
  eventNumber: number | null;
  timestamp: string | null;
  focus: string | null;
  additionalContext: string[];
}
interface RawStatus {
  subscription: string | null;
  topic: string | null;
  status: string | null;
  type: NotificationType | null;
  eventsSince: number | null;
  events: RawEvent[];
  errors: CodeableConcept[];
}
interface PayloadEntry {
  readonly fullUrl: string | null;
  readonly requestUrl: string | null;
  readonly resource: Resource | null;
}

/** "Type/id" of a reference or URL (query, fragment and `_history/x` dropped), or null. */
export function typeAndId(ref: string): string | null {
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?\/?$/.exec(ref.split(/[?#]/)[0]);
  return m ? `${m[1]}/${m[2]}` : null;
}

/** Logical id of a Subscription reference ("https://x/fhir/Subscription/123" → "123"), or null. */
export function subscriptionIdOf(ref: string): string | null {
  const t = typeAndId(ref);
  return t?.startsWith('Subscription/') ? t.slice('Subscription/'.length) : null;
}

/** A non-negative safe integer from a number or a string of digits (IG STU 1.1 counters are valueString; R5 integer64 is a JSON string). */
function count(v: unknown, at: string, what: string, issues: Issues): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (Number.isSafeInteger(n) && n >= 0) return n;
  issues.push(issue('value', at, `${what} must be a non-negative integer (as a number or a string of digits), got ${JSON.stringify(v)}`));
  return null;
}

function str(v: unknown, at: string, what: string, issues: Issues): string | null {
  if (v === undefined) return null;
  if (typeof v === 'string' && v !== '') return v;
  issues.push(issue('value', at, `${what} must be a non-empty string, got ${JSON.stringify(v)}`));
  return null;
}

function code<T extends string>(v: unknown, at: string, what: string, allowed: readonly T[], issues: Issues): T | null {
  const s = str(v, at, what, issues);
  if (s === null) return null;
  if ((allowed as readonly string[]).includes(s)) return s as T;
  issues.push(issue('value', at, `${what} "${s}" is not one of ${allowed.join(', ')}`));
  return null;
}

/** `reference` of a Reference; an issue when it is missing (a logical or display-only reference cannot be followed). */
function ref(v: unknown, at: string, what: string, issues: Issues): string | null {
  if (!isObj(v)) {
    issues.push(issue('structure', at, `${what} must be a Reference object`));
    return null;
  }
  if (v.reference === undefined) {
    issues.push(issue('required', `${at}.reference`, `${what} has no literal reference`));
    return null;
  }
  return str(v.reference, `${at}.reference`, `${what} reference`, issues);
}

/** The value[x] of a parameter or part, of one of the allowed choice types. */
function pick(p: Obj, at: string, what: string, allowed: readonly string[], issues: Issues): { at: string; value: unknown } | null {
  const key = allowed.find((k) => p[k] !== undefined);
  if (key) return { at: `${at}.${key}`, value: p[key] };
  const other = Object.keys(p).find((k) => k.startsWith('value'));
  if (other) issues.push(issue('structure', `${at}.${other}`, `${what} must be ${allowed.join(' or ')}, not ${other}`));
  else issues.push(issue('required', at, `${what} has no ${allowed.join(' or ')}`));
  return null;
}

const COUNT_TYPES = ['valueString', 'valueInteger', 'valueInteger64', 'valueUnsignedInt'];

/** Backport IG STU 1.1 notification-event: parts event-number, timestamp, focus, additional-context. */
function eventFromParts(p: Obj, at: string, issues: Issues): RawEvent {
  const ev: RawEvent = { eventNumber: null, timestamp: null, focus: null, additionalContext: [] };
  if (p.part === undefined) return ev;
  if (!Array.isArray(p.part)) {
    issues.push(issue('structure', `${at}.part`, 'notification-event part must be an array'));
    return ev;
  }
  const seen = new Set<string>();
  p.part.forEach((q: unknown, j) => {
    const qa = `${at}.part[${j}]`;
    if (!isObj(q) || typeof q.name !== 'string') return void issues.push(issue('structure', qa, 'part must be an object with a name'));
    if (q.name !== 'additional-context' && seen.has(q.name)) return void issues.push(issue('structure', qa, `part "${q.name}" appears more than once in one notification-event`));
    seen.add(q.name);
    const v =
      q.name === 'event-number' ? pick(q, qa, 'event-number', COUNT_TYPES, issues)
      : q.name === 'timestamp' ? pick(q, qa, 'timestamp', ['valueInstant', 'valueDateTime'], issues)
      : q.name === 'focus' || q.name === 'additional-context' ? pick(q, qa, q.name, ['valueReference'], issues)
      : null; // unknown parts are ignored (forward compatibility)
    if (!v) return;
    if (q.name === 'event-number') ev.eventNumber = count(v.value, v.at, 'event-number', issues);
    else if (q.name === 'timestamp') ev.timestamp = str(v.value, v.at, 'timestamp', issues);
    else if (q.name === 'focus') ev.focus = ref(v.value, v.at, 'focus', issues);
    else {
      const r = ref(v.value, v.at, 'additional-context', issues);
      if (r) ev.additionalContext.push(r);
    }
  });
  return ev;
}

/** Backport IG STU 1.1 profile backport-subscription-status-r4 (a Parameters resource). */
function fromParameters(res: Obj, at: string, typeRequired: boolean, issues: Issues): RawStatus {
  const out: RawStatus = { subscription: null, topic: null, status: null, type: null, eventsSince: null, events: [], errors: [] };
  if (!Array.isArray(res.parameter)) {
    issues.push(issue('required', `${at}.parameter`, 'the subscription status Parameters has no parameter array'));
    return out;
  }
  const seen = new Set<string>();
  res.parameter.forEach((p: unknown, i) => {
    const pa = `${at}.parameter[${i}]`;
    if (!isObj(p) || typeof p.name !== 'string') return void issues.push(issue('structure', pa, 'parameter must be an object with a name'));
    const single = !['notification-event', 'error'].includes(p.name);
    if (single && seen.has(p.name)) return void issues.push(issue('structure', pa, `parameter "${p.name}" appears more than once (max 1)`));
    seen.add(p.name);
    let v: { at: string; value: unknown } | null;
    switch (p.name) {
      case 'subscription':
        if ((v = pick(p, pa, 'subscription', ['valueReference'], issues))) out.subscription = ref(v.value, v.at, 'subscription', issues);
        break;
      case 'topic':
        if ((v = pick(p, pa, 'topic', ['valueCanonical', 'valueUri'], issues))) out.topic = str(v.value, v.at, 'topic', issues);
        break;
      case 'status':
        if ((v = pick(p, pa, 'status', ['valueCode'], issues))) out.status = code(v.value, v.at, 'status', STATUS_CODES, issues);
        break;
      case 'type':
        if ((v = pick(p, pa, 'type', ['valueCode'], issues))) out.type = code(v.value, v.at, 'type', NOTIFICATION_TYPES, issues);
        break;
      case 'events-since-subscription-start':
        if ((v = pick(p, pa, p.name, COUNT_TYPES, issues))) out.eventsSince = count(v.value, v.at, p.name, issues);
        break;
      case 'notification-event':
        out.events.push(eventFromParts(p, pa, issues));
        break;
      case 'error':
        if ((v = pick(p, pa, 'error', ['valueCodeableConcept'], issues))) out.errors.push(v.value as CodeableConcept);
        break;
      default: // other parameters are ignored
    }
  });
  const missing = (name: string): void => void issues.push(issue('required', `${at}.parameter.where(name='${name}')`, `parameter "${name}" is required (backport-subscription-status-r4)`));
  if (!seen.has('subscription')) missing('subscription');
  if (typeRequired && !seen.has('type')) missing('type');
  return out;
}

/** R5 (and R4B) SubscriptionStatus resource. */
function fromSubscriptionStatus(res: Obj, at: string, typeRequired: boolean, issues: Issues): RawStatus {
  const out: RawStatus = { subscription: null, topic: null, status: null, type: null, eventsSince: null, events: [], errors: [] };
  if (res.subscription === undefined) issues.push(issue('required', `${at}.subscription`, 'SubscriptionStatus.subscription is required'));
  else out.subscription = ref(res.subscription, `${at}.subscription`, 'subscription', issues);
  out.topic = str(res.topic, `${at}.topic`, 'topic', issues);
  if (res.status !== undefined) out.status = code(res.status, `${at}.status`, 'status', STATUS_CODES, issues);
  if (res.type !== undefined) out.type = code(res.type, `${at}.type`, 'type', NOTIFICATION_TYPES, issues);
  else if (typeRequired) issues.push(issue('required', `${at}.type`, 'SubscriptionStatus.type is required'));
  if (res.eventsSinceSubscriptionStart !== undefined) out.eventsSince = count(res.eventsSinceSubscriptionStart, `${at}.eventsSinceSubscriptionStart`, 'eventsSinceSubscriptionStart', issues);
  const list = (v: unknown, path: string): unknown[] => {
    if (v === undefined) return [];
    if (Array.isArray(v)) return v;
    issues.push(issue('structure', path, `${path.slice(path.lastIndexOf('.') + 1)} must be an array`));
    return [];
  };
  list(res.notificationEvent, `${at}.notificationEvent`).forEach((e, i) => {
    const ea = `${at}.notificationEvent[${i}]`;
    if (!isObj(e)) return void issues.push(issue('structure', ea, 'notificationEvent must be an object'));
    const additionalContext = list(e.additionalContext, `${ea}.additionalContext`)
      .map((r, j) => ref(r, `${ea}.additionalContext[${j}]`, 'additionalContext', issues))
      .filter((r): r is string => r !== null);
    out.events.push({
      eventNumber: e.eventNumber === undefined ? null : count(e.eventNumber, `${ea}.eventNumber`, 'eventNumber', issues),
      timestamp: str(e.timestamp, `${ea}.timestamp`, 'timestamp', issues),
      focus: e.focus === undefined ? null : ref(e.focus, `${ea}.focus`, 'focus', issues),
      additionalContext,
    });
  });
  out.errors = list(res.error, `${at}.error`) as CodeableConcept[];
  return out;
}

/** Parses the status resource at `entries[index]`; null (with an issue) when it is not one. */
function statusAt(entries: unknown[], index: number, typeRequired: boolean, issues: Issues): RawStatus | null {
  const entry = entries[index];
  const at = `Bundle.entry[${index}].resource`;
  const res = isObj(entry) ? entry.resource : undefined;
  if (!isObj(res)) {
    issues.push(issue('required', at, `entry ${index} must carry the subscription status (Parameters or SubscriptionStatus) as its resource`));
    return null;
  }
  if (res.resourceType === 'Parameters') return fromParameters(res, at, typeRequired, issues);
  if (res.resourceType === 'SubscriptionStatus') return fromSubscriptionStatus(res, at, typeRequired, issues);
  issues.push(issue('structure', `${at}.resourceType`, `entry ${index} must be the subscription status (Parameters with profile backport-subscription-status-r4, or SubscriptionStatus), found ${JSON.stringify(res.resourceType)}`));
  return null;
}

/** The Bundle's entries, or null with an issue when it is not a Bundle of one of `types` with entries. */
function bundleEntries(body: unknown, types: readonly string[], issues: Issues): unknown[] | null {
  if (!isObj(body) || body.resourceType !== 'Bundle') {
    issues.push(issue('invalid', 'Bundle', `expected a FHIR Bundle, got ${isObj(body) ? `resourceType ${JSON.stringify(body.resourceType)}` : typeof body}`));
    return null;
  }
  if (typeof body.type !== 'string' || !types.includes(body.type)) {
    const hint = body.type === 'searchset' ? ' (a $status response: use parseStatusBundle)' : '';
    issues.push(issue('value', 'Bundle.type', `Bundle.type must be ${types.join(' or ')}, got ${JSON.stringify(body.type)}${hint}`));
    return null;
  }
  if (!Array.isArray(body.entry) || body.entry.length === 0) {
    issues.push(issue('required', 'Bundle.entry', 'the Bundle must have at least one entry: the subscription status'));
    return null;
  }
  return body.entry;
}

function assemble(raw: RawStatus, type: NotificationType, payload: readonly PayloadEntry[]): ParsedNotification {
  const subscription = raw.subscription as string;
  const resources = payload.flatMap((e) => (e.resource ? [e.resource] : []));
  const findResource = (r: string): Resource | null => {
    const t = typeAndId(r);
    return payload.find((e) => e.resource && (e.fullUrl === r || (t !== null && `${e.resource.resourceType}/${e.resource.id ?? ''}` === t)))?.resource ?? null;
  };
  const events = raw.events.map((e) => ({ ...e, resource: e.focus ? findResource(e.focus) : null }));
  const focusRefs = events.flatMap((e) => (e.focus ? [e.focus] : []));
  // Can be read from the server: not urn:uuid / contained (#) references.
  const readable = (r: string | null): r is string => !!r && !r.startsWith('urn:') && !r.startsWith('#');
  const fromEntries = payload
    .filter((e) => !e.resource)
    .map((e) => (readable(e.fullUrl) ? e.fullUrl : e.requestUrl && typeAndId(e.requestUrl) ? e.requestUrl : null));
  const candidates = focusRefs.length > 0 ? focusRefs : fromEntries;
  const references = [...new Set(candidates.filter(readable))].filter((r) => !findResource(r));
  const content: PayloadContent =
    resources.length > 0 ? 'full-resource' : focusRefs.length > 0 || payload.some((e) => e.fullUrl || e.requestUrl) ? 'id-only' : 'empty';
  return {
    subscription,
    subscriptionId: subscriptionIdOf(subscription),
    topic: raw.topic,
    status: raw.status,
    type,
    eventsSinceSubscriptionStart: raw.eventsSince,
    events,
    content,
    resources,
    references,
    errors: raw.errors,
  };
}

/**
 * Cheap recognition, no validation: a Bundle of type history (R4 backport, R4B) or
 * subscription-notification (R5) whose first entry resource is a SubscriptionStatus,
 * or a Parameters with a `subscription` or `type` parameter.
 */
export function isNotificationBundle(body: unknown): boolean {
  if (!isObj(body) || body.resourceType !== 'Bundle' || !NOTIFICATION_BUNDLE_TYPES.includes(body.type as string)) return false;
  const first = Array.isArray(body.entry) && isObj(body.entry[0]) ? body.entry[0].resource : undefined;
  if (!isObj(first)) return false;
  if (first.resourceType === 'SubscriptionStatus') return true;
  return first.resourceType === 'Parameters' && Array.isArray(first.parameter) && first.parameter.some((p) => isObj(p) && (p.name === 'subscription' || p.name === 'type'));
}

/**
 * Parses a notification Bundle (handshake, heartbeat, event-notification, …) in R4
 * backport or R5 form. Never throws: malformed input gives `ok: false` with every
 * OperationOutcome issue found (severity error, FHIRPath-like `expression`).
 */
export function parseNotification(bundle: unknown): ParseResult {
  const issues: Issues = [];
  const entries = bundleEntries(bundle, NOTIFICATION_BUNDLE_TYPES, issues);
  if (!entries) return { ok: false, issues };
  const raw = statusAt(entries, 0, true, issues);
  const payload: PayloadEntry[] = [];
  entries.slice(1).forEach((e, k) => {
    const at = `Bundle.entry[${k + 1}]`;
    if (!isObj(e)) return void issues.push(issue('structure', at, 'entry must be an object'));
    const fullUrl = str(e.fullUrl, `${at}.fullUrl`, 'fullUrl', issues);
    const requestUrl = isObj(e.request) ? str(e.request.url, `${at}.request.url`, 'request.url', issues) : null;
    let resource: Resource | null = null;
    if (e.resource !== undefined) {
      if (isObj(e.resource) && typeof e.resource.resourceType === 'string') resource = e.resource as unknown as Resource;
      else issues.push(issue('structure', `${at}.resource`, 'entry resource must be a resource object with a resourceType'));
    }
    payload.push({ fullUrl, requestUrl, resource });
  });
  if (!raw || issues.length > 0) return { ok: false, issues };
  return { ok: true, notification: assemble(raw, raw.type as NotificationType, payload) };
}

/**
 * Parses a `$status` response (Backport IG operation `$status`: a searchset Bundle of
 * subscription statuses) into the same shape, with type `query-status` whatever
 * type the status declares. Non-status entries (e.g. an OperationOutcome) are skipped.
 * When the Bundle holds several statuses, `subscription` (reference or logical id)
 * selects one; without it that is an issue.
 */
export function parseStatusBundle(bundle: unknown, subscription?: string): ParseResult {
  const issues: Issues = [];
  const entries = bundleEntries(bundle, ['searchset'], issues);
  if (!entries) return { ok: false, issues };
  const statusIndexes = entries.flatMap((e, i) =>
    isObj(e) && isObj(e.resource) && (e.resource.resourceType === 'Parameters' || e.resource.resourceType === 'SubscriptionStatus') ? [i] : [],
  );
  const parsed = statusIndexes.map((i) => {
    const own: Issues = [];
    return { i, raw: statusAt(entries, i, false, own), issues: own };
  });
  const chosen = subscription === undefined ? parsed : parsed.filter((p) => p.raw?.subscription && (p.raw.subscription === subscription || subscriptionIdOf(p.raw.subscription) === subscription));
  if (chosen.length !== 1) {
    const why =
      statusIndexes.length === 0 ? 'the Bundle holds no subscription status (Parameters or SubscriptionStatus)'
      : chosen.length === 0 ? `no status in the Bundle is for subscription ${JSON.stringify(subscription)}`
      : `the Bundle holds ${chosen.length} subscription statuses; pass the subscription to select one`;
    return { ok: false, issues: [issue(chosen.length === 0 ? 'required' : 'structure', 'Bundle.entry', why)] };
  }
  const { raw, issues: own } = chosen[0];
  if (!raw || own.length > 0) return { ok: false, issues: own };
  return { ok: true, notification: assemble(raw, 'query-status', []) };
}
