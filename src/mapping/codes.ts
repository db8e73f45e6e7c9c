/**
 * Which codes of an Observation the rules can use: its LOINC codings, and its local
 * codings that the sending site's code map translates to a LOINC code of an analyte group.
 * Codings in trialbridge's own code systems are clinician answers and findings, read by
 * the protocol engine (README "Clinical engine"), never by a CRF rule.
 */
import { LOINC_SYSTEM, type MappingSet } from './rule-types';

/** Prefix of trialbridge's own code systems (`urn:trialbridge:eligibility`, `urn:trialbridge:finding`, ...). */
export const PROTOCOL_SYSTEM_PREFIX = 'urn:trialbridge:';

/** One coding as the mapping sees it: the LOINC code it counts as, and the site's coding it came through. */
export interface RuleCode {
  readonly loinc: string;
  /** `system|code` of the local coding translated by the site code map; null for a LOINC coding. */
  readonly localCode: string | null;
}

export interface CodingLike {
  readonly system?: unknown;
  readonly code?: unknown;
  readonly display?: unknown;
}

export interface ObservationLike {
  readonly resourceType: string;
  readonly status?: unknown;
  readonly code?: { readonly coding?: unknown; readonly text?: unknown };
  readonly dataAbsentReason?: unknown;
  readonly valueQuantity?: { readonly unit?: unknown; readonly code?: unknown };
}

/** The codings of Observation.code that are objects. */
export function codingsOf(obs: ObservationLike): CodingLike[] {
  const list = Array.isArray(obs.code?.coding) ? (obs.code.coding as unknown[]) : [];
  return list.filter((c): c is CodingLike => !!c && typeof c === 'object');
}

/** True when the Observation carries a coding of trialbridge's own systems (clinician answer, finding). */
export function isProtocolObservation(obs: ObservationLike): boolean {
  return codingsOf(obs).some((c) => typeof c.system === 'string' && c.system.startsWith(PROTOCOL_SYSTEM_PREFIX));
}

/** LOINC codings first (in order), then site-mapped local codings; each LOINC code once. */
export function ruleCodes(set: MappingSet, obs: ObservationLike, site: string | undefined): RuleCode[] {
  const out: RuleCode[] = [];
  const seen = new Set<string>();
  const add = (loinc: string, localCode: string | null) => {
    if (seen.has(loinc)) return;
    seen.add(loinc);
    out.push({ loinc, localCode });
  };
  const codings = codingsOf(obs).filter((c) => typeof c.system === 'string' && typeof c.code === 'string');
  for (const c of codings) if (c.system === LOINC_SYSTEM) add((c.code as string).trim(), null);
  if (site === undefined) return out;
  for (const c of codings) {
    if (c.system === LOINC_SYSTEM) continue;
    const t = set.siteCode(site, c.system as string, (c.code as string).trim());
    if (t) add(t.loinc, `${c.system}|${(c.code as string).trim()}`);
  }
  return out;
}
