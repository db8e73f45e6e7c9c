/**
 * Pure helpers that turn an accepted resource into what the store keeps: its
 * id (derived from the content when the sender gives none), content hash,
 * the sender's version and lastUpdated, and the patient it is about.
 */
import crypto from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { patientOf } from '../protocol/references';
import { dateProblem } from './dates';

export { patientKey, patientOf } from '../protocol/references';

/** JSON with sorted keys, so the hash does not depend on the sender's key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** SHA-256 of the resource without `meta`: the same content re-sent with a new lastUpdated or versionId is the same content. */
export function contentHash(resource: Resource): string {
  const { meta: _meta, ...rest } = resource as Resource & { meta?: unknown };
  return crypto.createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** The id given to a resource without one: `h` + 40 hex digits of its content hash (store migration 007 relies on this form). */
export const contentId = (hash: string): string => `h${hash.slice(0, 40)}`;

/**
 * meta.lastUpdated as an ISO instant, or null when absent or not a real
 * instant. Validation refuses such a value before; this is the last check
 * before a timestamptz column, because Date alone rolls 2024-02-30 over to
 * March 1 where PostgreSQL refuses it.
 */
export function storableInstant(v: unknown): string | null {
  if (typeof v !== 'string' || dateProblem(v, 'instant') !== null) return null;
  return new Date(Date.parse(v)).toISOString();
}

/** A resource reduced to what identity, version and storage need. */
export interface Normalized {
  readonly resourceType: string;
  readonly resourceId: string;
  /** The id was derived from the content (no id from the sender, its URL or fullUrl). */
  readonly idFromContent: boolean;
  readonly senderVersion: string | null;
  readonly lastUpdated: string | null;
  readonly contentHash: string;
  /** The resource as stored: as sent, with the id set. */
  readonly body: Resource;
  readonly patientId: string | null;
}

/** Normalizes an accepted (validated) resource; see the module comment. */
export function normalize(resource: Resource): Normalized {
  const hash = contentHash(resource);
  const idFromContent = resource.id === undefined;
  const id = resource.id ?? contentId(hash);
  const body = idFromContent ? { ...resource, id } : resource;
  const sv = resource.meta?.versionId;
  return {
    resourceType: resource.resourceType,
    resourceId: id,
    idFromContent,
    senderVersion: typeof sv === 'string' && sv !== '' ? sv : null,
    lastUpdated: storableInstant(resource.meta?.lastUpdated),
    contentHash: hash,
    body,
    patientId: patientOf(body as Resource),
  };
}
