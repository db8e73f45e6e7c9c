/**
 * What a site is asked for: which resource types, which LOINC codes
 * and, where the server supports it, which patients. One plan per resource
 * type serves both the polls (search parameters) and the Subscriptions
 * (criteria), so the two can never disagree.
 */
import type { SiteFhirConfig } from '../config/sites';

/** LOINC's system URI (FHIR R4 terminology: http://loinc.org). */
export const LOINC_SYSTEM = 'http://loinc.org';

/**
 * Resource types watched by default, in the order a sync fetches them:
 * enrollments first (they decide the patient scope), then the patients'
 * identities, then their labs and infusions (clinical-reference §2, study drug).
 */
export const DEFAULT_WATCHED_TYPES = ['ResearchSubject', 'Patient', 'Observation', 'MedicationAdministration'] as const;

/**
 * Polled before the watched types when a site keeps the default types: the
 * ResearchStudy resources that ResearchSubject.study names by reference (the
 * standard R4 shape), so a ResearchSubject fetched in the same sync resolves
 * at once. Unscoped (a hospital has few studies) and not subscribed to
 * (studies change rarely; every sync picks changes up).
 */
export const POLLED_STUDY_TYPE = 'ResearchStudy';

/** How a plan narrows to the enrolled patients: a `patient` reference list, an `_id` list (Patient itself), or not at all. */
export type ScopeParam = 'patient' | '_id' | null;

export interface WatchPlan {
  readonly type: string;
  /** Search parameters besides the scope, _lastUpdated, _sort and _count. */
  readonly params: Readonly<Record<string, string>>;
  readonly scope: ScopeParam;
  /** site_cursors key when it is not the type (a second plan of one type keeps its own cursor, e.g. pre-screening). */
  readonly cursorKey?: string;
}

/** Types the connector knows how to narrow: everything else is fetched unscoped. */
const SCOPE_OF: Record<string, ScopeParam> = { Patient: '_id', Observation: 'patient', MedicationAdministration: 'patient', Condition: 'patient' };

/**
 * Plans for a site. Observations are filtered by the watched LOINC codes (the
 * site's list, else every code the mapping rules map); study infusions carry
 * site-specific drug codes (trial definitions), so MedicationAdministration is
 * narrowed by patient only. A site's local lab codes (its `codeMap`) are
 * asked for beside the LOINC codes, or their results would never be fetched.
 */
export function watchPlans(fhir: SiteFhirConfig, mappedCodes: readonly string[], localCodes: readonly { system: string; code: string }[] = []): WatchPlan[] {
  const types = fhir.resourceTypes ?? DEFAULT_WATCHED_TYPES;
  const codes = fhir.loincCodes ?? mappedCodes;
  const tokens = [...codes.map((c) => `${LOINC_SYSTEM}|${c}`), ...localCodes.map((c) => `${c.system}|${c.code}`)];
  return types.map((type) => {
    const params: Record<string, string> = {};
    if (type === 'Observation' && tokens.length) params.code = tokens.join(',');
    Object.assign(params, fhir.searchParams[type] ?? {});
    // Patients are always fetched by id: a hospital's whole patient list is never wanted.
    const scope = type === 'Patient' ? '_id' : fhir.patientScope ? (SCOPE_OF[type] ?? null) : null;
    return { type, params, scope };
  });
}

/** What a sync fetches: POLLED_STUDY_TYPE first (default types only), then the watched plans. */
export function pollPlans(fhir: SiteFhirConfig, mappedCodes: readonly string[], localCodes: readonly { system: string; code: string }[] = []): WatchPlan[] {
  const plans = watchPlans(fhir, mappedCodes, localCodes);
  if (fhir.resourceTypes) return plans;
  return [{ type: POLLED_STUDY_TYPE, params: { ...(fhir.searchParams[POLLED_STUDY_TYPE] ?? {}) }, scope: null }, ...plans];
}

/** The scope parameter for a chunk of patient ids (comma = OR in FHIR search, R4 §3.1.1.5.4). */
export function scopeParams(plan: WatchPlan, patients: readonly string[] | null): Record<string, string> {
  if (!plan.scope || !patients) return {};
  return { [plan.scope]: plan.scope === 'patient' ? patients.map((p) => `Patient/${p}`).join(',') : patients.join(',') };
}

/** `Type?a=b&c=d` with values left readable (FHIR criteria strings are not form-encoded by servers' examples), sorted for stable comparison. */
export function criteriaString(type: string, params: Readonly<Record<string, string>>): string {
  const q = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return q ? `${type}?${q}` : type;
}

/** Splits the scope into chunks (URL length limits of EHR servers); null = unscoped, one pass. */
export function scopeChunks(plan: WatchPlan, patients: readonly string[] | null, size: number): (readonly string[] | null)[] {
  if (!plan.scope || !patients) return [null];
  const out: string[][] = [];
  for (let i = 0; i < patients.length; i += size) out.push(patients.slice(i, i + size));
  return out;
}
