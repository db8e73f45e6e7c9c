/**
 * What the sender gets back for each accepted resource, as FHIR R4 clients
 * expect (http.html#create, #update, #ops, #transaction-response):
 *
 * - 201 for a create, 200 for an update or an unchanged redelivery;
 * - `Location: {base}/fhir/{type}/{id}/_history/{vid}` (absolute), `ETag: W/"{vid}"`,
 *   `Last-Modified` as an HTTP-date;
 * - the body per `Prefer: return=` (http.html#ops): `representation` (the
 *   default here: the stored resource with our id and meta), `minimal` (no
 *   body) or `OperationOutcome`;
 * - Bundle entries carry the same in `response` (status, location, etag,
 *   lastModified) and, per Prefer, `resource` or `response.outcome`.
 *
 * Refused entries of a single request are thrown as AppError, so the one
 * error middleware renders them; in a Bundle they become entry responses.
 */
import type { Request, Response } from 'express';
import type { BundleEntry, BundleEntryResponse, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { AppError, ERROR_CATALOGUE, okOutcome, outcomeFor } from '../errors';
import { FHIR_JSON } from '../http';
import type { AcceptResult } from './accept';

/** `Prefer: return=` values (FHIR R4 http.html#ops). */
export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

/** The body returned when the sender states no preference. */
export const DEFAULT_RETURN: ReturnPreference = 'representation';

/**
 * The `return` preference of a Prefer header (RFC 7240; several preferences
 * may share the header). Unknown or absent values give the default: a
 * preference the server does not understand is ignored (RFC 7240 §2).
 */
export function preferReturn(header: string | string[] | undefined): ReturnPreference {
  const text = Array.isArray(header) ? header.join(',') : header ?? '';
  for (const part of text.split(/[,;]/)) {
    const m = /^\s*return\s*=\s*"?([A-Za-z]+)"?\s*$/.exec(part);
    if (m && (m[1] === 'minimal' || m[1] === 'representation' || m[1] === 'OperationOutcome')) return m[1];
  }
  return DEFAULT_RETURN;
}

/** What responses need to know about the request. */
export interface RespondContext {
  /** Public base of the server without a trailing slash, e.g. `https://tb.hospital.example`. */
  readonly base: string;
  readonly prefer: ReturnPreference;
}

/**
 * The public base URL for absolute `Location`s: the configured one when set
 * (a reverse proxy in front), else the request's own scheme and host (express
 * honours X-Forwarded-* only when `trust proxy` is configured).
 */
export function publicBase(req: Request, configured: string | null): string {
  if (configured) return configured.replace(/\/+$/, '');
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/** Reads the response context of a request. */
export function respondContext(req: Request, configuredBase: string | null): RespondContext {
  return { base: publicBase(req, configuredBase), prefer: preferReturn(req.headers.prefer) };
}

type Stored = AcceptResult & { readonly outcome: 'created' | 'updated' | 'unchanged'; readonly resourceType: string; readonly id: string; readonly versionId: string };

const isStored = (r: AcceptResult): r is Stored =>
  (r.outcome === 'created' || r.outcome === 'updated' || r.outcome === 'unchanged') && !!r.resourceType && !!r.id && !!r.versionId;

/** `{base}/fhir/{type}/{id}/_history/{vid}` (FHIR R4 http.html#create: Location with the version). */
export const versionUrl = (base: string, r: { resourceType: string; id: string; versionId: string }): string =>
  `${base}/fhir/${r.resourceType}/${encodeURIComponent(r.id)}/_history/${encodeURIComponent(r.versionId)}`;

/** A weak ETag of a version id (FHIR R4 http.html#versioning: `W/"3"`). */
export const etagOf = (versionId: string): string => `W/"${versionId.replace(/["\\]/g, '')}"`;

/** An ISO instant as an HTTP-date (RFC 9110 §5.6.7), or null when it is not a date. */
export function httpDate(instant: string | undefined): string | null {
  const t = instant ? Date.parse(instant) : NaN;
  return Number.isNaN(t) ? null : new Date(t).toUTCString();
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 400: 'Bad Request', 409: 'Conflict', 412: 'Precondition Failed', 422: 'Unprocessable Entity' };

function statusOf(r: AcceptResult): number {
  if (r.outcome === 'created') return 201;
  if (r.outcome === 'updated' || r.outcome === 'unchanged' || r.outcome === 'ignored') return 200;
  if (r.code) return ERROR_CATALOGUE[r.code].status;
  return r.outcome === 'precondition-failed' ? 412 : r.outcome === 'conflict' ? 409 : 400;
}

function successText(r: Stored): string {
  const where = `${r.resourceType}/${r.id}/_history/${r.versionId}`;
  if (r.outcome === 'created') return `stored ${where}`;
  if (r.outcome === 'updated') return `stored ${where}, a new version`;
  return `already stored ${where}; nothing changed`;
}

/** The OperationOutcome describing one result (success, warning or the refusal). */
export function outcomeOf(r: AcceptResult): OperationOutcome {
  if (isStored(r)) return okOutcome(successText(r));
  if (r.outcome === 'ignored') return { resourceType: 'OperationOutcome', issue: r.issues?.length ? r.issues : okOutcome(`${r.resourceType ?? 'resource'} is not used by trialbridge; not stored`, 'warning').issue };
  return outcomeFor(r.code ?? 'validation-failed', undefined, undefined, r.issues ?? []);
}

/** An HTTP response to send: status, headers and body (null: no body). */
export interface Rendered {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Resource | null;
}

function versionHeaders(r: Stored, base: string): Record<string, string> {
  const h: Record<string, string> = { Location: versionUrl(base, r), ETag: etagOf(r.versionId) };
  const lm = httpDate(r.lastUpdated);
  if (lm) h['Last-Modified'] = lm;
  return h;
}

/**
 * The response to a single create or update. Throws AppError for a refused
 * result (the error middleware renders it, with every issue).
 */
export function renderSingle(r: AcceptResult, ctx: RespondContext): Rendered {
  if (!isStored(r)) {
    if (r.outcome === 'ignored') return { status: 200, headers: {}, body: outcomeOf(r) };
    throw new AppError(r.code ?? 'validation-failed', `${r.issues?.length ?? 0} problem(s)`, undefined, r.issues ?? []);
  }
  const headers = versionHeaders(r, ctx.base);
  switch (ctx.prefer) {
    case 'minimal':
      return { status: statusOf(r), headers, body: null };
    case 'OperationOutcome':
      return { status: statusOf(r), headers, body: outcomeOf(r) };
    case 'representation':
      return { status: statusOf(r), headers, body: r.stored ?? outcomeOf(r) };
  }
}

/** Sends a rendered response (FHIR JSON, or no body with `Prefer: return=minimal`). */
export function sendRendered(res: Response, out: Rendered): void {
  res.status(out.status).set(out.headers);
  if (out.body === null) {
    res.end();
    return;
  }
  res.type(FHIR_JSON).send(JSON.stringify(out.body));
}

/**
 * A batch-response / transaction-response entry (FHIR R4 bundle.html
 * Bundle.entry.response): status with its reason phrase, and for stored
 * resources location, etag and lastModified; `resource` or `response.outcome`
 * per the Prefer header. Refusals always carry their OperationOutcome.
 */
export function entryResponse(r: AcceptResult, ctx: RespondContext): BundleEntry {
  const status = statusOf(r);
  const response: BundleEntryResponse = { status: `${status} ${STATUS_TEXT[status] ?? ''}`.trim() };
  if (!isStored(r)) return { response: { ...response, outcome: outcomeOf(r) } };
  const entry: BundleEntry = {
    response: {
      ...response,
      location: versionUrl(ctx.base, r),
      etag: etagOf(r.versionId),
      ...(r.lastUpdated && httpDate(r.lastUpdated) ? { lastModified: new Date(r.lastUpdated).toISOString() } : {}),
    },
  };
  if (ctx.prefer === 'OperationOutcome') return { response: { ...entry.response!, outcome: outcomeOf(r) } };
  if (ctx.prefer === 'representation' && r.stored) return { fullUrl: `${ctx.base}/fhir/${r.resourceType}/${encodeURIComponent(r.id)}`, resource: r.stored, ...entry };
  return entry;
}
