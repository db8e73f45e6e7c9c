/**
 * Pure Bundle handling: flatten, resolve `urn:uuid:` references the way a FHIR
 * server does for a transaction, find DiagnosticReport effective times for
 * Observations that have none, and validate each entry.
 *
 * Real data (shared/fhir-samples/README.md): Synthea transaction Bundles
 * reference the Patient as `urn:uuid:...`; the HL7 spec panels are collection
 * Bundles of Bundles whose Observations lack effective[x], only the
 * DiagnosticReport has it.
 */
import type { Bundle, BundleEntry, DiagnosticReport, Observation, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { AppError } from '../errors';
import { FHIR_ID, validateFhir } from './validate';

/**
 * Resource types trialbridge stores; everything else in a Bundle is acknowledged and ignored.
 * Condition carries history and clinicians' answers for eligibility (chronic HBV, issue #4).
 * ResearchStudy is what ResearchSubject.study names by reference in the standard R4 shape.
 */
export const SUPPORTED_TYPES = ['Observation', 'MedicationAdministration', 'Patient', 'ResearchSubject', 'Condition', 'ResearchStudy'] as const;
export type SupportedType = (typeof SUPPORTED_TYPES)[number];
export const isSupportedType = (t: unknown): t is SupportedType => SUPPORTED_TYPES.includes(t as SupportedType);

export const ACCEPTED_BUNDLE_TYPES = ['batch', 'transaction', 'collection'] as const;

export type EntryPlan =
  | { kind: 'store'; index: number; resource: Resource; context: Record<string, unknown> | null }
  | { kind: 'ignored'; index: number; resourceType: string }
  | { kind: 'invalid'; index: number; issues: OperationOutcomeIssue[] };

interface Flat {
  readonly index: number;
  readonly path: string;
  readonly entry: BundleEntry;
}

/** Entries of nested collection Bundles are taken as entries of the outer one (HL7 spec examples). */
function flatten(bundle: Bundle, path = 'Bundle', out: Flat[] = []): Flat[] {
  (bundle.entry ?? []).forEach((entry, i) => {
    const p = `${path}.entry[${i}]`;
    if (entry.resource?.resourceType === 'Bundle' && (entry.resource as Bundle).type === 'collection') flatten(entry.resource as Bundle, `${p}.resource`, out);
    else out.push({ index: out.length, path: p, entry });
  });
  return out;
}

/** Replaces every `reference` string found in `map` throughout a resource (deep). */
function rewriteReferences(v: unknown, map: Map<string, string>): unknown {
  if (Array.isArray(v)) return v.map((x) => rewriteReferences(x, map));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = k === 'reference' && typeof x === 'string' && map.has(x) ? map.get(x) : rewriteReferences(x, map);
    return o;
  }
  return v;
}

function reportEffective(r: DiagnosticReport): string | undefined {
  return r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued;
}

/** Validates the Bundle shell and plans each entry. Throws AppError('invalid-bundle') for a Bundle we cannot take at all. */
export function planBundle(bundle: Bundle, opts: { anyType?: boolean } = {}): { type: (typeof ACCEPTED_BUNDLE_TYPES)[number]; plans: EntryPlan[] } {
  const type = bundle.type as (typeof ACCEPTED_BUNDLE_TYPES)[number];
  if (!opts.anyType && !ACCEPTED_BUNDLE_TYPES.includes(type)) {
    throw new AppError('invalid-bundle', `Bundle.type "${bundle.type ?? ''}" is not accepted here; expected ${ACCEPTED_BUNDLE_TYPES.join(', ')}`, ['Bundle.type']);
  }
  if (bundle.entry !== undefined && !Array.isArray(bundle.entry)) throw new AppError('invalid-bundle', 'Bundle.entry must be an array', ['Bundle.entry']);
  const flat = flatten(bundle);
  // fullUrl → Type/id, as a server assigns ids to urn:uuid entries (FHIR R4 http.html#trules).
  const refMap = new Map<string, string>();
  for (const f of flat) {
    const r = f.entry.resource;
    const url = f.entry.fullUrl;
    if (!r || !url || !r.resourceType) continue;
    const id = r.id ?? (url.startsWith('urn:uuid:') ? url.slice(9) : undefined);
    if (id && FHIR_ID.test(id)) refMap.set(url, `${r.resourceType}/${id}`);
  }
  // Observation reference → effective time of the DiagnosticReport listing it.
  const fromReport = new Map<string, string>();
  for (const f of flat) {
    const r = f.entry.resource;
    if (r?.resourceType !== 'DiagnosticReport') continue;
    const eff = reportEffective(r as DiagnosticReport);
    if (!eff) continue;
    for (const res of (r as DiagnosticReport).result ?? []) if (res.reference) fromReport.set(refMap.get(res.reference) ?? res.reference, eff);
  }
  // A panel Observation listed by the report passes the time on to its members (hasMember), as in the HL7 GHP example.
  for (let changed = true; changed; ) {
    changed = false;
    for (const f of flat) {
      const r = f.entry.resource as Observation | undefined;
      if (r?.resourceType !== 'Observation' || !r.hasMember?.length) continue;
      const self = f.entry.fullUrl ? refMap.get(f.entry.fullUrl) ?? f.entry.fullUrl : r.id ? `Observation/${r.id}` : undefined;
      const eff = r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued ?? (self ? fromReport.get(self) : undefined);
      if (!eff) continue;
      for (const m of r.hasMember) {
        const key = m.reference ? refMap.get(m.reference) ?? m.reference : undefined;
        if (key && !fromReport.has(key)) {
          fromReport.set(key, eff);
          changed = true;
        }
      }
    }
  }
  const plans = flat.map((f): EntryPlan => {
    const raw = f.entry.resource;
    const method = f.entry.request?.method;
    if (method && method !== 'POST' && method !== 'PUT') {
      return { kind: 'invalid', index: f.index, issues: [{ severity: 'error', code: 'not-supported', diagnostics: `request.method ${method} is not supported`, expression: [`${f.path}.request.method`] }] };
    }
    if (!raw || typeof raw !== 'object' || typeof raw.resourceType !== 'string') {
      return { kind: 'invalid', index: f.index, issues: [{ severity: 'error', code: 'required', diagnostics: 'entry has no resource with a resourceType', expression: [`${f.path}.resource`] }] };
    }
    if (!isSupportedType(raw.resourceType)) return { kind: 'ignored', index: f.index, resourceType: raw.resourceType };
    const withId = raw.id === undefined && f.entry.fullUrl?.startsWith('urn:uuid:') ? { ...raw, id: f.entry.fullUrl.slice(9) } : raw;
    const resource = rewriteReferences(withId, refMap) as Resource;
    const issues = validateFhir(resource, `${f.path}.resource`);
    if (issues.length) return { kind: 'invalid', index: f.index, issues };
    const eff = resource.id ? fromReport.get(`${resource.resourceType}/${resource.id}`) : undefined;
    return { kind: 'store', index: f.index, resource, context: eff ? { fallbackEffective: eff } : null };
  });
  return { type, plans };
}
