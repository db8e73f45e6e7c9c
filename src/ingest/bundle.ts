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
import { checkEntry, type AcceptEntry } from './accept';
import { copyJsonObject } from './parse-json';
import { FHIR_ID } from './validate';
import { parsePutUrl } from './identity';

export { SUPPORTED_TYPES, isSupportedType, type SupportedType } from './supported';

export const ACCEPTED_BUNDLE_TYPES = ['batch', 'transaction', 'collection', 'history'] as const;
export type AcceptedBundleType = (typeof ACCEPTED_BUNDLE_TYPES)[number];

/** An entry as the offline tools (`trialbridge evaluate`) see it: checked by the front door's rules, nothing stored. */
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

/** Replaces every `reference` string found in `map` throughout a resource (deep); members are copied as data properties, never through setters. */
function rewriteReferences(v: unknown, map: Map<string, string>): unknown {
  if (Array.isArray(v)) return v.map((x) => rewriteReferences(x, map));
  if (v && typeof v === 'object') {
    return copyJsonObject(Object.entries(v).map(([k, x]) => [k, k === 'reference' && typeof x === 'string' && map.has(x) ? map.get(x) : rewriteReferences(x, map)] as const));
  }
  return v;
}

function reportEffective(r: DiagnosticReport): string | undefined {
  return r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued;
}

/** The id an entry's resource is known by: its own, its PUT URL's (the identity), or its urn:uuid fullUrl's (a server assigns ids so; http.html#trules). */
function entryId(entry: BundleEntry): string | undefined {
  const r = entry.resource;
  if (entry.request?.method === 'PUT' && entry.request.url) {
    const u = parsePutUrl(entry.request.url);
    if (u && u.type === r?.resourceType && FHIR_ID.test(u.id)) return u.id;
  }
  if (r?.id !== undefined) return r.id;
  return entry.fullUrl?.startsWith('urn:uuid:') ? entry.fullUrl.slice(9) : undefined;
}

/**
 * The Bundle shell and its entries as front-door entries: nested collections
 * flattened, `urn:uuid:` references resolved, DiagnosticReport times passed to
 * Observations lacking one, each entry's request kept. Nothing is validated
 * here (accept does that). Throws AppError('invalid-bundle') for a Bundle we cannot take at all.
 */
export function bundleEntries(bundle: Bundle, opts: { anyType?: boolean } = {}): { type: AcceptedBundleType; entries: AcceptEntry[] } {
  const type = bundle.type as AcceptedBundleType;
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
    const id = entryId(f.entry);
    if (id && FHIR_ID.test(id)) refMap.set(url, `${r.resourceType}/${id}`);
  }
  const fromReport = reportTimes(flat, refMap);
  const entries = flat.map((f): AcceptEntry => {
    const raw = f.entry.resource as unknown;
    const req = f.entry.request;
    const request = req && typeof req === 'object'
      ? { method: String(req.method ?? ''), url: req.url, ifNoneExist: req.ifNoneExist, ifMatch: req.ifMatch, at: `${f.path}.request` }
      : undefined;
    const path = `${f.path}.resource`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw) || typeof (raw as Resource).resourceType !== 'string') return { resource: raw, path, request };
    const r = raw as Resource;
    const id = entryId(f.entry);
    // A POST's urn:uuid becomes the id (references to it resolve); a PUT's id comes from its URL in accept.
    const withId = r.id === undefined && id !== undefined && req?.method !== 'PUT' ? { ...r, id } : r;
    const resource = rewriteReferences(withId, refMap) as Resource;
    const eff = id ? fromReport.get(`${r.resourceType}/${id}`) : undefined;
    return { resource, path, request, context: eff ? { fallbackEffective: eff } : null };
  });
  return { type, entries };
}

/** Observation reference → effective time of the DiagnosticReport listing it (directly or through a panel's hasMember). */
function reportTimes(flat: readonly Flat[], refMap: Map<string, string>): Map<string, string> {
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
  return fromReport;
}

/** {@link bundleEntries}, each entry checked by the front door's rules ({@link checkEntry}) without storing: for offline tools. */
export function planBundle(bundle: Bundle, opts: { anyType?: boolean } = {}): { type: AcceptedBundleType; plans: EntryPlan[] } {
  const { type, entries } = bundleEntries(bundle, opts);
  const plans = entries.map((e, index): EntryPlan => {
    const c = checkEntry('', e);
    if (c.kind === 'ignored') return { kind: 'ignored', index, resourceType: c.resourceType };
    if (c.kind === 'refused') return { kind: 'invalid', index, issues: c.problem.issues };
    return { kind: 'store', index, resource: c.item.n.body, context: c.item.context };
  });
  return { type, plans };
}
