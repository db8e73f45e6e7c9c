/**
 * The per-site reading of offset-less times (README "Configuration",
 * `localTimeWithoutOffset`). A dateTime with a time but no UTC offset is
 * invalid FHIR R4 and is refused at validation; a site configured with
 * `site-zone` has such values read as its wall-clock time instead, before
 * validation, and the inbound row's context records which elements were read
 * so and in which zone (the provenance of every CRF value taken from it).
 */
import type { Resource } from '@medplum/fhirtypes';
import type { SiteConfig } from '../config';
import { readLocalTimes } from './dates';

/** What the context of an inbound row says about times read in the site's zone. */
export interface LocalTimesContext {
  readonly timeZone: string;
  /** FHIRPaths of the elements given the site's offset, e.g. `Observation.effectiveDateTime`. */
  readonly paths: readonly string[];
}

const isResource = (v: unknown): v is Resource => !!v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { resourceType?: unknown }).resourceType === 'string';

/** The entries with offset-less times read in the site's zone when the site opts in; otherwise the entries as they are. */
export function withSiteTimes<E extends { readonly resource: unknown; readonly context?: Record<string, unknown> | null }>(
  site: Pick<SiteConfig, 'timeZone' | 'localTimeWithoutOffset'>,
  entries: readonly E[],
): readonly E[] {
  if (site.localTimeWithoutOffset !== 'site-zone') return entries;
  return entries.map((e) => {
    if (!isResource(e.resource)) return e;
    const read = readLocalTimes(e.resource, site.timeZone);
    if (!read.paths.length) return e;
    const localTimes: LocalTimesContext = { timeZone: site.timeZone, paths: read.paths };
    return { ...e, resource: read.resource, context: { ...(e.context ?? {}), localTimes } };
  });
}
