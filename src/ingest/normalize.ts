/**
 * Pure helpers that turn an accepted resource into an inbound row: its
 * version key, content hash and the patient it is about.
 */
import crypto from 'node:crypto';
import type { Reference, Resource } from '@medplum/fhirtypes';
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

/**
 * The id of the logical Patient a reference points to: `Patient/123`,
 * `https://ehr/fhir/Patient/123` or `Patient/123/_history/2` → `123`. A
 * reference by identifier only becomes `identifier:<system>|<value>`, resolved
 * by the worker through the Patient's identifiers.
 */
export function patientKey(ref: Reference | undefined): string | null {
  if (!ref) return null;
  if (typeof ref.reference === 'string') {
    const m = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref.reference);
    if (m) return m[1];
  }
  if (ref.identifier?.value) return `identifier:${ref.identifier.system ?? ''}|${ref.identifier.value}`;
  return null;
}

/** The Patient a resource is about (or is). */
export function patientOf(resource: Resource): string | null {
  switch (resource.resourceType) {
    case 'Patient':
      return resource.id ?? null;
    case 'Observation':
    case 'MedicationAdministration':
      return patientKey(resource.subject);
    case 'ResearchSubject':
      return patientKey(resource.individual);
    default:
      return null;
  }
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
