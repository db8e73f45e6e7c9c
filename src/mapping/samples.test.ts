/**
 * Every Observation in /work/shared/fhir-samples (Bundles, nested Bundles, contained in
 * DiagnosticReports) through mapResource for every trial: no exception, and each outcome
 * is a value or a review with a reason. DiagnosticReport effective times are passed as
 * fallbackEffective, as src/ingest does for Observations that lack their own (this walker
 * also follows a panel Observation's hasMember, which the GHP bundle needs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { DEFAULT_MAPPINGS_DIR, loadMappings, mapResource, unmappedCodings, type MapOutcome, type ReviewReason } from './index';

const SAMPLES = path.resolve(__dirname, '../../../shared/fhir-samples');
const REASONS: readonly ReviewReason[] = ['no-rule', 'ambiguous-code', 'missing-value', 'missing-unit', 'invalid-unit', 'unit-not-convertible', 'missing-effective-time', 'unusable-status', 'unexpected-value-type'];

type Json = Record<string, any>;

function* jsonFiles(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* jsonFiles(p);
    else if (e.name.endsWith('.json')) yield p;
  }
}

const reportTime = (dr: Json): string | undefined => dr.effectiveDateTime ?? dr.effectivePeriod?.start ?? dr.issued;

/** Observations with the effective time of the DiagnosticReport that lists them, if any. */
function* observations(resource: Json | undefined): Generator<{ obs: Json; fallback?: string }> {
  if (!resource || typeof resource !== 'object') return;
  if (resource.resourceType === 'Observation') yield { obs: resource };
  if (resource.resourceType === 'DiagnosticReport') {
    for (const c of resource.contained ?? []) if (c.resourceType === 'Observation') yield { obs: c, fallback: reportTime(resource) };
  }
  if (resource.resourceType !== 'Bundle') return;
  const entries: Json[] = resource.entry ?? [];
  const fallbackByRef = new Map<string, string>();
  for (const e of entries) {
    const dr = e.resource;
    if (dr?.resourceType !== 'DiagnosticReport' || !reportTime(dr)) continue;
    for (const r of dr.result ?? []) if (r.reference) fallbackByRef.set(r.reference, reportTime(dr)!);
  }
  // GHP bundle: DiagnosticReport.result lists panel Observations whose hasMember lists the
  // analytes; members inherit the panel's (or its report's) time.
  for (const e of entries) {
    const panel = e.resource;
    if (panel?.resourceType !== 'Observation' || !panel.hasMember) continue;
    const time = panel.effectiveDateTime ?? panel.effectivePeriod?.start ?? panel.issued ?? fallbackByRef.get(`Observation/${panel.id}`);
    if (time) for (const m of panel.hasMember) if (m.reference && !fallbackByRef.has(m.reference)) fallbackByRef.set(m.reference, time);
  }
  for (const e of entries) {
    const r = e.resource;
    if (r?.resourceType === 'Observation') {
      yield { obs: r, fallback: fallbackByRef.get(`Observation/${r.id}`) ?? fallbackByRef.get(e.fullUrl) };
    } else {
      yield* observations(r);
    }
  }
}

const describeIfSamples = fs.existsSync(SAMPLES) ? describe : describe.skip;
if (!fs.existsSync(SAMPLES)) {
  console.warn(`samples.test.ts skipped: ${SAMPLES} not found (shared fhir-samples folder absent)`);
}

describeIfSamples('every Observation of fhir-samples, every trial', () => {
  const set = loadMappings(DEFAULT_MAPPINGS_DIR);
  const files = fs.existsSync(SAMPLES) ? [...jsonFiles(SAMPLES)].filter((f) => !f.endsWith('README.md')) : [];
  const outcomes: MapOutcome[] = [];
  let count = 0;

  beforeAll(() => {
    for (const file of files) {
      for (const { obs, fallback } of observations(JSON.parse(fs.readFileSync(file, 'utf8')))) {
        count++;
        for (const trial of set.trials) {
          const out = mapResource(set, trial, obs as Resource, fallback ? { fallbackEffective: fallback } : {});
          // Either something for the CRF (a value or a review), or a code no trial maps (counted, not reviewed).
          expect(out.length > 0 || unmappedCodings(set, obs as Resource) !== null).toBe(true);
          outcomes.push(...out);
        }
      }
    }
  });

  test('thousands of Observations mapped without exception', () => {
    expect(count).toBeGreaterThan(3000);
  });

  test('each outcome is a value or a review with a known reason and a detail', () => {
    const wellFormed = (o: MapOutcome): boolean =>
      o.kind === 'value'
        ? (typeof o.value === 'number' ? Number.isFinite(o.value) : o.value.length > 0) && /^\d{4}/.test(o.effective)
        : REASONS.includes(o.reason) && o.detail.length > 0;
    expect(outcomes.filter((o) => !wellFormed(o))).toEqual([]);
  });

  test('the liver panel maps for every trial, and the known odd shapes reach review', () => {
    const items = (trial: string) => new Set(outcomes.filter((o) => o.kind === 'value' && o.trial === trial).map((o) => (o.kind === 'value' ? o.item : '')));
    for (const trial of set.trials) {
      expect([...items(trial)]).toEqual(expect.arrayContaining(['TBIL', 'ALB', 'ALT', 'AST', 'ALP', 'CREA', 'NA', 'BUN', 'PLT', 'WEIGHT']));
    }
    const reviews = outcomes.filter((o) => o.kind === 'review');
    expect(reviews).toContainEqual(expect.objectContaining({ reason: 'unit-not-convertible', detail: expect.stringContaining('K/uL') }));
    // Vital signs and other codes no trial maps are not review items (README "Mapping rules").
    expect(reviews.filter((o) => o.reason === 'no-rule')).toEqual([]);
    // Every spec panel Observation without effective[x] got its report's time.
    expect(reviews.filter((o) => o.reason === 'missing-effective-time')).toEqual([]);
  });
});
