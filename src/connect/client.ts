/**
 * HTTP client for a site's FHIR R4 server: joins paths to the base
 * URL, adds the outbound Authorization, applies the per-request timeout, and
 * turns every failure into a SiteRequestError whose kind tells the caller
 * what to do (see SiteErrorKind). Bodies and tokens are never logged; paths
 * are logged without their query string (it may hold patient ids).
 */
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Logger } from '../logger';
import { parseRetryAfter } from './retry';
import type { SiteFhirConfig } from '../config/sites';
import { createTokenSource } from './token';
import { SiteRequestError, type RequestOptions, type SiteClient, type SiteResponse, type TokenSource, type WriteOptions } from './types';

export const FHIR_JSON = 'application/fhir+json';
export const FHIR_NDJSON = 'application/fhir+ndjson';
/** Longest server-supplied text (OperationOutcome) copied into an error message. */
const MAX_DETAIL = 500;

export interface SiteClientDeps {
  readonly log: Logger;
  /** Default: createTokenSource(site.fhir.auth). */
  readonly tokens?: TokenSource;
  readonly fetch?: typeof fetch;
}

/** The human-readable text of an OperationOutcome (diagnostics, else details.text, else code), or null. */
export function outcomeText(body: unknown): string | null {
  const oo = body as OperationOutcome | null;
  if (!oo || typeof oo !== 'object' || oo.resourceType !== 'OperationOutcome' || !Array.isArray(oo.issue)) return null;
  const parts = oo.issue.map((i) => i?.diagnostics ?? i?.details?.text ?? i?.code).filter((s): s is string => typeof s === 'string' && !!s);
  const text = parts.join('; ');
  return text ? text.slice(0, MAX_DETAIL) : null;
}

const isAbsolute = (s: string) => /^[a-z][a-z0-9+.-]*:/i.test(s);
/** FHIR R4 resource type names and the id grammar (datatypes.html#id), so a write never builds another path. */
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const RESOURCE_ID = /^[A-Za-z0-9.-]{1,64}$/;

/**
 * A SiteClient for one site. Every method throws SiteRequestError on failure,
 * except that an abort through the caller's own `signal` rethrows the
 * signal's reason (a cancellation is not a fault of the site).
 */
export function createSiteClient(site: { readonly id: string; readonly fhir: SiteFhirConfig }, deps: SiteClientDeps): SiteClient {
  const baseUrl = site.fhir.baseUrl.replace(/\/+$/, '');
  const origin = new URL(baseUrl).origin;
  const timeoutMs = site.fhir.timeoutMs;
  const doFetch = deps.fetch ?? fetch;
  const log = deps.log.child({ site: site.id });
  const tokens = deps.tokens ?? createTokenSource(site.fhir.auth, { log, fetch: doFetch });

  /** Relative → under baseUrl; absolute → only on baseUrl's origin, so the bearer token never goes to another host. */
  function resolve(pathOrUrl: string): URL {
    let url: URL;
    try {
      url = isAbsolute(pathOrUrl) ? new URL(pathOrUrl) : new URL(`${baseUrl}/${pathOrUrl.replace(/^\/+/, '')}`);
    } catch {
      throw new SiteRequestError('rejected', `site ${site.id}: not a URL: ${pathOrUrl.slice(0, 200)}`);
    }
    if (url.origin !== origin) throw new SiteRequestError('rejected', `site ${site.id}: refusing ${url.origin}${url.pathname}, which is not on the server's origin ${origin}`);
    return url;
  }

  /**
   * One exchange: a 2xx Response (body unread) plus a disposer for its timer,
   * or a SiteRequestError. A 401 (or 403 invalid_token, RFC 6750 §3.1) is
   * answered once by dropping the cached token and trying again: the token
   * may have been revoked or expired early on the server's side.
   */
  async function exchange(method: string, url: URL, opts: RequestOptions): Promise<{ res: Response; done: () => void }> {
    const where = `${method} ${url.pathname}`;
    for (let attempt = 1; ; attempt++) {
      const token = await tokens.token();
      const headers = new Headers(opts.headers ?? {});
      headers.set('accept', opts.accept ?? FHIR_JSON);
      let body: string | undefined;
      if (opts.body !== undefined) {
        body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
        if (!headers.has('content-type')) headers.set('content-type', FHIR_JSON);
      }
      if (token) headers.set('authorization', `Bearer ${token}`);
      else headers.delete('authorization');

      // A clearable timer rather than AbortSignal.timeout: it covers the whole
      // JSON exchange, but only up to the headers of a download, whose stream
      // may legitimately take longer (the caller's signal governs it).
      const timer = new AbortController();
      const handle = setTimeout(() => timer.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
      const done = () => clearTimeout(handle);
      const signal = opts.signal ? AbortSignal.any([timer.signal, opts.signal]) : timer.signal;
      const started = Date.now();
      let res: Response;
      try {
        // redirect 'follow': the fetch standard (and undici) drops Authorization on a cross-origin redirect.
        res = await doFetch(url, { method, headers, body, signal });
      } catch (e) {
        done();
        log.debug({ method, path: url.pathname, status: null, ms: Date.now() - started }, 'site request failed');
        throw failure(e, where, opts.signal);
      }
      log.debug({ method, path: url.pathname, status: res.status, ms: Date.now() - started }, 'site request');
      if (res.ok) return { res, done };

      const text = await res.text().catch(() => '');
      done();
      let json: unknown = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        json = null;
      }
      const detail = outcomeText(json);
      const what = `${where} → ${res.status}${detail ? `: ${detail}` : ''}`;
      const challenge = res.headers.get('www-authenticate') ?? '';
      const expired = res.status === 401 || (res.status === 403 && /invalid_token/i.test(challenge));
      if (expired && token && attempt === 1) {
        tokens.invalidate();
        continue;
      }
      if (expired || res.status === 403) throw new SiteRequestError('auth', `${what}${challenge ? ` (${challenge.slice(0, 200)})` : ''}`, res.status);
      if (res.status === 429 || res.status === 503) throw new SiteRequestError('retry-later', what, res.status, parseRetryAfter(res.headers.get('retry-after'), Date.now()));
      if (res.status >= 500) throw new SiteRequestError('unavailable', what, res.status);
      if (res.status >= 400) throw new SiteRequestError('rejected', what, res.status);
      // 1xx/3xx reaching us (redirects are followed): not something FHIR promises.
      throw new SiteRequestError('bad-response', what, res.status);
    }
  }

  /** Network errors, timeouts and stream errors → 'unavailable'; the caller's abort is passed through. */
  function failure(e: unknown, where: string, callerSignal: AbortSignal | undefined): unknown {
    if (e instanceof SiteRequestError) return e;
    if (callerSignal?.aborted) return callerSignal.reason;
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why = err?.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : (err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e));
    return new SiteRequestError('unavailable', `${where}: ${why}`);
  }

  async function request<T = unknown>(method: string, pathOrUrl: string, opts: RequestOptions = {}): Promise<SiteResponse<T>> {
    const url = resolve(pathOrUrl);
    const where = `${method} ${url.pathname}`;
    const { res, done } = await exchange(method, url, opts);
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw failure(e, where, opts.signal);
    } finally {
      done();
    }
    if (!text.trim()) return { status: res.status, headers: res.headers, body: null };
    try {
      return { status: res.status, headers: res.headers, body: JSON.parse(text) as T };
    } catch {
      throw new SiteRequestError('bad-response', `${where} → ${res.status}: the body is not JSON (${res.headers.get('content-type') ?? 'no content-type'})`, res.status);
    }
  }

  /**
   * A create or update. `Prefer: return=representation` asks for the stored
   * resource (FHIR R4 http.html#ops); a server that answers without a body
   * still gives a Location (create) or we know the id (update), so the stored
   * version is read back: the caller always gets the id and versionId the EHR assigned.
   */
  async function write<T extends Resource>(method: 'POST' | 'PUT', resource: T, opts: WriteOptions): Promise<T> {
    const type = resource?.resourceType;
    if (typeof type !== 'string' || !RESOURCE_TYPE.test(type)) throw new SiteRequestError('rejected', `site ${site.id}: not a FHIR resource to write`);
    if (method === 'PUT' && (typeof resource.id !== 'string' || !RESOURCE_ID.test(resource.id))) throw new SiteRequestError('rejected', `site ${site.id}: update of a ${type} without a valid id`);
    const path = method === 'PUT' ? `${type}/${resource.id}` : type;
    const headers: Record<string, string> = { prefer: 'return=representation' };
    if (opts.ifNoneExist) headers['if-none-exist'] = opts.ifNoneExist.replace(/^\?/, '');
    if (opts.ifMatch) headers['if-match'] = `W/"${opts.ifMatch}"`;
    const { status, headers: answer, body } = await request<T>(method, path, { body: resource, headers, signal: opts.signal });
    if (body && typeof body === 'object' && body.resourceType === type && typeof body.id === 'string') return body;
    const location = answer.get('location') ?? answer.get('content-location');
    // Location is "[base]/Type/id/_history/vid" (FHIR R4 http.html#create); request() keeps it on the server's origin.
    const ref = location ?? (method === 'PUT' ? path : null);
    if (!ref) throw new SiteRequestError('bad-response', `${method} ${resolve(path).pathname} → ${status}: neither the stored resource nor a Location`, status);
    const stored = await request<T>('GET', ref, { signal: opts.signal });
    if (!stored.body || stored.body.resourceType !== type) throw new SiteRequestError('bad-response', `GET ${resolve(ref).pathname}: the answer is not the ${type} just written`, stored.status);
    return stored.body;
  }

  return {
    siteId: site.id,
    baseUrl,
    request,

    create: (resource, opts = {}) => write('POST', resource, opts),
    update: (resource, opts = {}) => write('PUT', resource, opts),

    async read(reference) {
      try {
        const { body } = await request<Resource>('GET', reference);
        if (!body || typeof body.resourceType !== 'string') throw new SiteRequestError('bad-response', `GET ${resolve(reference).pathname}: the answer is not a FHIR resource`);
        return body;
      } catch (e) {
        // 404 Not Found and 410 Gone (deleted): the resource is not there to read.
        if (e instanceof SiteRequestError && (e.status === 404 || e.status === 410)) return null;
        throw e;
      }
    },

    async search(typeOrUrl, params = {}) {
      let target: string;
      if (isAbsolute(typeOrUrl)) {
        // A `next` link is opaque (FHIR R4 §3.1.1.5.8 paging): fetch it as given.
        const url = resolve(typeOrUrl);
        for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v);
        target = url.href;
      } else {
        const query = new URLSearchParams(params).toString();
        target = query ? `${typeOrUrl}?${query}` : typeOrUrl;
      }
      const { body } = await request<Bundle>('GET', target);
      if (!body || body.resourceType !== 'Bundle') throw new SiteRequestError('bad-response', `GET ${resolve(target).pathname}: the answer is not a Bundle`);
      return body;
    },

    async download(url, opts = {}) {
      const resolved = resolve(url);
      // Bulk Data Access IG: file downloads carry the access token unless the
      // manifest says requiresAccessToken false; sending it is always safe on our own origin.
      const { res, done } = await exchange('GET', resolved, { accept: opts.accept ?? FHIR_NDJSON, signal: opts.signal });
      done();
      if (!res.body) return Readable.from([]);
      return Readable.fromWeb(res.body as unknown as NodeReadableStream<Uint8Array>);
    },
  };
}
