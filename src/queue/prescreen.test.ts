/**
 * The pre-filter of pre-screening: the engine is skipped only when no lab of the
 * patient meets any trigger threshold of the trial (each trigger is a necessary
 * inclusion, README "Pre-screening and alerts"). Thresholds from
 * clinical-reference §1.1 (NCT05985863 TBIL >= 5 mg/dL = 85.5 umol/L) and §1.3
 * (NCT02812121 TBIL >= 10 x ULN).
 */
import type { Observation } from '@medplum/fhirtypes';
import { applySiteCodeMaps, DEFAULT_MAPPINGS_DIR, loadMappings } from '../mapping';
import { couldQualify, prescreen } from '../protocol/prescreen';
import { loadTrials } from '../protocol/trials';
import { mayQualify, prescreenJobKey } from './prescreen';

const LAB = 'http://hospital-a.example/lab';
const mappings = applySiteCodeMaps(loadMappings(DEFAULT_MAPPINGS_DIR), [{ id: 'site-a', codeMap: [{ system: LAB, code: 'BILT', target: 'TBIL' }] }]);
const trials = loadTrials();
const t5863 = trials.get('NCT05985863')!;
const t2121 = trials.get('NCT02812121')!;
const t3945 = trials.get('NCT03945487')!;

const obs = (code: string, value: number, unit: string, extra: Partial<Observation> = {}, system = 'http://loinc.org'): { resource: Observation } => ({
  resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system, code }] }, effectiveDateTime: '2026-12-01T08:00:00+08:00', valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit }, ...extra },
});

test('a bilirubin at or above the threshold, in any unit, may qualify; just below does not', () => {
  expect(mayQualify(t5863, mappings, 'site-a', [obs('14631-6', 85.5, 'umol/L')])).toBe(true);
  expect(mayQualify(t5863, mappings, 'site-a', [obs('1975-2', 5, 'mg/dL')])).toBe(true);
  expect(mayQualify(t5863, mappings, 'site-a', [obs('14631-6', 84.9, 'umol/L')])).toBe(false);
  expect(mayQualify(t5863, mappings, 'site-a', [obs('1975-2', 4.96, 'mg/dL')])).toBe(false);
});

test('labs of other analytes alone (INR, platelets) never reach the engine', () => {
  expect(mayQualify(t5863, mappings, 'site-a', [obs('6301-6', 2.5, '{INR}'), obs('777-3', 40, '10*9/L')])).toBe(false);
  expect(mayQualify(t5863, mappings, 'site-a', [])).toBe(false);
});

test("a site's local bilirubin code counts as its LOINC code, at that site only", () => {
  const local = obs('BILT', 120, 'umol/L', {}, LAB);
  expect(mayQualify(t5863, mappings, 'site-a', [local])).toBe(true);
  expect(mayQualify(t5863, mappings, 'site-b', [local])).toBe(false);
});

test("a ULN multiple uses the result's own upper limit when it has one", () => {
  const withUln = (v: number, high: number) => obs('14631-6', v, 'umol/L', { referenceRange: [{ high: { value: high, unit: 'umol/L', system: 'http://unitsofmeasure.org', code: 'umol/L' } }] });
  expect(mayQualify(t2121, mappings, 'site-a', [withUln(200, 20)])).toBe(true);
  expect(mayQualify(t2121, mappings, 'site-a', [withUln(190, 20)])).toBe(false);
});

test('a trial with no trigger goes to the engine, which decides "never" (NCT03945487: nothing auto-passes)', () => {
  expect(mayQualify(t3945, mappings, 'site-a', [])).toBe(true);
  const r = prescreen({ trial: t3945, mappings, site: { id: 'site-a', timeZone: 'Asia/Shanghai' }, patientId: 'p', patient: { birthDate: '1980-01-01', gender: 'male' }, observations: [], now: '2026-12-01T00:00:00Z' });
  expect(r.kind).toBe('none');
});

test('whenever the filter says no, the engine agrees (no potential candidate is lost)', () => {
  const now = '2026-12-01T04:00:00Z';
  for (const tbil of [20, 60, 84.9, 85.4, 85.5, 86, 120]) {
    for (const inr of [1.2, 1.6, 2.4]) {
      const labs = [obs('14631-6', tbil, 'umol/L'), obs('6301-6', inr, '{INR}')].map((o, i) => ({ resource: { ...o.resource, id: `o${i}` } }));
      const r = prescreen({ trial: t5863, mappings, site: { id: 'site-a', timeZone: 'Asia/Shanghai' }, patientId: 'p', patient: { birthDate: '1981-06-01', gender: 'male' }, observations: labs, now });
      if (!mayQualify(t5863, mappings, 'site-a', labs)) expect(r.kind).toBe('none');
      if (tbil >= 85.5 && inr >= 1.5) expect(r.kind).toBe('potential');
    }
  }
});

test('a batch key depends on the site and the set of patients, not their order', () => {
  expect(prescreenJobKey('site-a', ['p2', 'p1', 'p1'])).toBe(prescreenJobKey('site-a', ['p1', 'p2']));
  expect(prescreenJobKey('site-b', ['p1', 'p2'])).not.toBe(prescreenJobKey('site-a', ['p1', 'p2']));
  expect(prescreenJobKey('site-a', ['p1'])).toMatch(/^[0-9a-f]{24}$/);
});

describe('couldQualify: every lab-threshold inclusion needs a result that meets it', () => {
  const site = { id: 'site-a', timeZone: 'Asia/Shanghai' };
  const labs = (tbil: number, inr: number | null, pta: number | null) =>
    [obs('14631-6', tbil, 'umol/L'), ...(inr === null ? [] : [obs('6301-6', inr, '{INR}')]), ...(pta === null ? [] : [obs('5894-1', pta, '%')])].map((o, i) => ({ resource: { ...o.resource, id: `o${i}` } }));

  test('NCT05985863 I2b (INR >= 1.5 or PTA < 40): either part may carry it; neither, or no coagulation result, stops it', () => {
    expect(couldQualify(t5863, mappings, 'site-a', labs(120, 1.6, null))).toBe(true);
    expect(couldQualify(t5863, mappings, 'site-a', labs(120, 1.2, 35))).toBe(true);
    expect(couldQualify(t5863, mappings, 'site-a', labs(120, 1.2, 45))).toBe(false);
    expect(couldQualify(t5863, mappings, 'site-a', labs(120, null, null))).toBe(false);
    expect(couldQualify(t5863, mappings, 'site-a', labs(84.9, 2.0, null))).toBe(false);
  });

  test('never loses a candidate: wherever it says no, the engine says none', () => {
    let potential = 0;
    for (const tbil of [60, 85.4, 85.5, 120]) {
      for (const inr of [null, 1.2, 1.49, 1.5, 2.4]) {
        for (const pta of [null, 30, 39.9, 40, 60]) {
          const l = labs(tbil, inr, pta);
          const r = prescreen({ trial: t5863, mappings, site, patientId: 'p', patient: { birthDate: '1981-06-01', gender: 'male' }, observations: l, now: '2026-12-01T04:00:00Z' });
          if (r.kind === 'potential') potential++;
          if (!couldQualify(t5863, mappings, 'site-a', l)) expect(r.kind).toBe('none');
        }
      }
    }
    expect(potential).toBeGreaterThan(10);
  });
});
