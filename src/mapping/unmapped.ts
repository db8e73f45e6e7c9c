/**
 * Observations whose codes belong to no analyte group of any trial (vital signs, blood
 * count details, social history...). They are not a problem for a data manager, so they
 * raise no review item; the caller counts them per site and code for the IT team, who
 * may map a local code to an analyte (site code map). Pure; what it returns is
 * terminology (system, code, display, unit), never a value or a date.
 */
import type { Resource } from '@medplum/fhirtypes';
import { codingsOf, isProtocolObservation, ruleCodes, type ObservationLike } from './codes';
import type { MappingSet } from './rule-types';

/** Longest display text kept: enough to recognise a test name. */
export const DISPLAY_MAX = 120;

/** One coding of an unmapped Observation. System and code are '' when Observation.code has no coding. */
export interface UnmappedCoding {
  readonly system: string;
  readonly code: string;
  /** coding.display, else Observation.code.text; null when neither is given. */
  readonly display: string | null;
  /** valueQuantity.code, else valueQuantity.unit; null when there is no quantity. */
  readonly unit: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);

/**
 * The codings to count when no rule of any trial can use this Observation; null when the
 * resource is not an Observation, is a clinician answer or finding, or has a mapped code.
 */
export function unmappedCodings(set: MappingSet, resource: Resource, site?: string): UnmappedCoding[] | null {
  const obs = resource as unknown as ObservationLike;
  if (obs?.resourceType !== 'Observation' || isProtocolObservation(obs)) return null;
  if (ruleCodes(set, obs, site).some((c) => set.analyteOfCode(c.loinc))) return null;
  const text = str(obs.code?.text);
  const unit = str(obs.valueQuantity?.code) ?? str(obs.valueQuantity?.unit);
  const clip = (s: string | null) => (s && s.length > DISPLAY_MAX ? s.slice(0, DISPLAY_MAX) : s);
  const out = new Map<string, UnmappedCoding>();
  for (const c of codingsOf(obs)) {
    const system = str(c.system) ?? '';
    const code = str(c.code) ?? '';
    if (!code) continue;
    const key = `${system}|${code}`;
    if (!out.has(key)) out.set(key, { system, code, display: clip(str(c.display) ?? text), unit: clip(unit) });
  }
  if (!out.size) return [{ system: '', code: '', display: clip(text), unit: clip(unit) }];
  return [...out.values()];
}
