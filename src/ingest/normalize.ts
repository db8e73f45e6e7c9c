/**
 * Pure helpers that turn an accepted resource into an inbound row: its
 * version key, content hash and the patient it is about.
 */
import crypto from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { patientOf } from '../protocol/references';

export { patientKey, patientOf } from '../protocol/references';
import type { NewInbound } from '../store/inbound';

/** JSON with sorted keys, so the hash does not depend on the sender's key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** SHA-256 of the resource without `meta`: the same content re-sent with a new lastUpdated is the same version. */
export function contentHash(resource: Resource): string {
  const { meta: _meta, ...rest } = resource as Resource & { meta?: unknown };
  return crypto.createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** Builds the inbound row of an accepted resource; an id is derived from the content when the sender gives none. */
export function toInbound(site: string, resource: Resource, context: Record<string, unknown> | null): NewInbound {
  const hash = contentHash(resource);
  const id = resource.id ?? `h${hash.slice(0, 40)}`;
  const body = resource.id ? resource : { ...resource, id };
  const lastUpdated = resource.meta?.lastUpdated && !Number.isNaN(Date.parse(resource.meta.lastUpdated)) ? resource.meta.lastUpdated : null;
  return {
    site,
    resourceType: resource.resourceType,
    resourceId: id,
    version: resource.meta?.versionId ?? `h${hash.slice(0, 16)}`,
    lastUpdated,
    contentHash: hash,
    body,
    context,
    patientId: patientOf(body as Resource),
  };
}
