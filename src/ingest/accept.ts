/**
 * The one front door (design.md "One front door"): every inbound resource,
 * however it arrives (POST, PUT, Bundle entry, notification, poll page, bulk
 * export file, NDJSON import), goes through {@link Receiver.accept}: supported
 * type, validation, identity and version, conditional create, If-Match, store
 * (one database transaction when atomic), enqueue after commit.
 */
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { ErrorCode } from '../errors';

/** What the sender's request said about one resource (HTTP headers, or a Bundle entry's `request`). */
export interface AcceptRequest {
  /** Only POST (create) and PUT (update) store anything; other methods are refused per entry. */
  readonly method: string;
  /** `Type/id` for a PUT (FHIR R4 http.html#update); the identity of the resource. */
  readonly url?: string;
  /** `If-None-Exist` header or `request.ifNoneExist`: a search, `identifier=[system|]value` only. */
  readonly ifNoneExist?: string;
  /** `If-Match` header or `request.ifMatch`: `W/"<version>"`, compared with our current version of the id. */
  readonly ifMatch?: string;
}

/** One resource to accept. */
export interface AcceptEntry {
  /** As received: checked here to be a JSON object with a resourceType. */
  readonly resource: unknown;
  /** What the sender's Bundle told us beyond the resource (e.g. a DiagnosticReport's effective time). */
  readonly context?: Record<string, unknown> | null;
  /** FHIRPath of the resource in the request, e.g. `Bundle.entry[3].resource`, or the type for a single resource. */
  readonly path: string;
  readonly request?: AcceptRequest;
}

/** Where the resources came from: logged and counted, never changes the rules. */
export type AcceptSource = 'http' | 'bundle' | 'notification' | 'poll' | 'bulk' | 'file';

export interface AcceptOptions {
  /** A transaction: all entries are stored in one database transaction, or none is (store failures included). */
  readonly atomic: boolean;
  readonly traceId: string;
  readonly source: AcceptSource;
}

/**
 * - `created`: a resource id not seen before; `updated`: a new version of a stored id (FHIR 201 vs 200);
 * - `unchanged`: the current content again (a redelivery), nothing stored;
 * - `ignored`: a resource type trialbridge does not use (acknowledged with a warning);
 * - `invalid`: the entry is refused (validation, request URL, a value the database cannot hold);
 * - `conflict`: the entry collides with another of the same transaction;
 * - `precondition-failed`: If-Match or If-None-Exist does not hold (FHIR 412).
 */
export type AcceptOutcome = 'created' | 'updated' | 'unchanged' | 'ignored' | 'invalid' | 'conflict' | 'precondition-failed';

export interface AcceptResult {
  /** Position of the entry in the input. */
  readonly index: number;
  readonly outcome: AcceptOutcome;
  readonly resourceType?: string;
  readonly id?: string;
  /** Our version of the stored (or matched) resource: the ETag and `_history` segment. */
  readonly versionId?: string;
  /** meta.versionId as the sender gave it (provenance); null when it gave none. */
  readonly senderVersionId?: string | null;
  /** When we stored that version (ISO instant). */
  readonly lastUpdated?: string;
  /** The stored resource with our id and meta (versionId, lastUpdated), for `Prefer: return=representation`. */
  readonly stored?: Resource;
  /** The catalogue code of a refused entry (its HTTP status and OperationOutcome issue code). */
  readonly code?: ErrorCode;
  /** Why an entry was refused or ignored, each with the FHIRPath of the element in the request. */
  readonly issues?: OperationOutcomeIssue[];
}

/** The front door of one process; created once (it groups concurrent small requests into shared inserts). */
export interface Receiver {
  /**
   * Accepts the entries of one request for `site`; results are in input
   * order. Throws AppError `transaction-failed` (atomic, any entry refused:
   * nothing stored), `store-unavailable` (nothing stored) or
   * `queue-unavailable` (stored, queued later by the sweeper).
   */
  accept(site: string, entries: readonly AcceptEntry[], options: AcceptOptions): Promise<AcceptResult[]>;
}

/** True for the outcomes that leave the resource stored (new or already there). */
export const isStoredOutcome = (o: AcceptOutcome): o is 'created' | 'updated' | 'unchanged' => o === 'created' || o === 'updated' || o === 'unchanged';
