/**
 * Shared shapes of the outbound connector: how we talk to a site's
 * FHIR server and how failures are classified, so the poller, the
 * subscription manager, notification resolution and bulk export all react to
 * trouble the same way.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';

/**
 * What went wrong talking to a site's server, by what we should do about it:
 * - `retry-later`: 429 or 503 (Retry-After honoured when given) — back off, try again;
 * - `unavailable`: network error, timeout, other 5xx — back off, try again;
 * - `auth`: still 401/403 after one token refresh — stop and raise a site alert;
 * - `rejected`: another 4xx (our request is wrong for this server) — do not retry the same request;
 * - `bad-response`: the server answered 2xx with something that is not what FHIR promises.
 */
export type SiteErrorKind = 'retry-later' | 'unavailable' | 'auth' | 'rejected' | 'bad-response';

export class SiteRequestError extends Error {
  constructor(
    readonly kind: SiteErrorKind,
    message: string,
    readonly status: number | null = null,
    /** From Retry-After (seconds or HTTP date), when the server sent one. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'SiteRequestError';
  }

  get retriable(): boolean {
    return this.kind === 'retry-later' || this.kind === 'unavailable';
  }
}

/** Supplies the outbound Authorization for a site; null = send none. */
export interface TokenSource {
  /** A valid access token (cached until shortly before expiry). */
  token(): Promise<string | null>;
  /** Forget the cached token (after a 401) so the next token() fetches a new one. */
  invalidate(): void;
}

export interface SiteResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON body, or null when the response had none. */
  readonly body: T | null;
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Default application/fhir+json. */
  readonly accept?: string;
  readonly signal?: AbortSignal;
}

/** A site's FHIR server as the connector uses it. Every method throws SiteRequestError on failure. */
export interface SiteClient {
  readonly siteId: string;
  readonly baseUrl: string;
  /** `pathOrUrl` is relative to baseUrl ("Observation?code=...") or an absolute URL (a `next` link). 2xx and 3xx-free answers only. */
  request<T = unknown>(method: string, pathOrUrl: string, opts?: RequestOptions): Promise<SiteResponse<T>>;
  /** Reads "Type/id" or an absolute URL; 404 and 410 give null. */
  read(reference: string): Promise<Resource | null>;
  /** One searchset page: `GET {base}/{type}?{params}`, or of a `next` link when `pathOrUrl` is absolute. */
  search(typeOrUrl: string, params?: Readonly<Record<string, string>>): Promise<Bundle>;
  /** Streams a body (NDJSON download of a bulk export); the caller consumes or cancels it. */
  download(url: string, opts?: { accept?: string; signal?: AbortSignal }): Promise<NodeJS.ReadableStream>;
  /**
   * FHIR create (`POST {base}/{type}`): the stored resource with the server's id and meta.versionId.
   * `ifNoneExist` (a search query without `?`) makes it a conditional create, so a retried write finds the first one.
   */
  create<T extends Resource>(resource: T, opts?: WriteOptions): Promise<T>;
  /** FHIR update (`PUT {base}/{type}/{id}`); `ifMatch` (a versionId) makes it a version-aware update. */
  update<T extends Resource>(resource: T, opts?: WriteOptions): Promise<T>;
}

export interface WriteOptions {
  /** Conditional create: e.g. "identifier=urn:x|123" (FHIR R4 http.html#ccreate). */
  readonly ifNoneExist?: string;
  /** Version-aware update: the versionId the change is based on (FHIR R4 http.html#concurrency). */
  readonly ifMatch?: string;
  readonly signal?: AbortSignal;
}

export type SiteJobKind = 'sync' | 'resolve' | 'tick' | 'purge';

/** A site-sync job: pointers only (design.md habit 5). */
export interface SiteJobData {
  readonly kind: SiteJobKind;
  readonly site: string;
  readonly notificationId?: number;
  /** Why a sync was asked for (log and metrics only). */
  readonly reason?: string;
}

/** What the connector asks of the site-sync queue (implemented in queue/site-sync.ts). */
export interface SyncRequests {
  requestSync(site: string, reason: string): Promise<void>;
  requestResolve(site: string, notificationId: number): Promise<void>;
}
