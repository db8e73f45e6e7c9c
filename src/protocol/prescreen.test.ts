/**
 * The pure pre-screen engine against the shipped trial packages: thresholds of
 * clinical-reference §1.1 (TBIL >= 5 mg/dL = 85.5 umol/L, §3 factor 17.1; INR >= 1.5
 * or PTA < 40 %; age 18-70), §1.4 (NCT03945487: nothing auto-passes).
 */
import type { Observation } from '@medplum/fhirtypes';
import { DEFAULT_MAPPINGS_DIR } from '../mapping';
import { loadTrialPackages } from './package';
import { labComputable, neverPotential, prescreen, splitCriteria, type PrescreenObservation } from './prescreen';
import { DEFAULT_TRIALS_DIR } from './trials';

const { trials, mappings } = loadTrialPackages({ trialsDir: DEFAULT_TRIALS_DIR, mappingsDir: DEFAULT_MAPPINGS_DIR });
const site = { id: 'site-a', timeZone: 'Asia/Shanghai' };
const NOW = '2024-03-01T04:00:00Z'; // 12:00 in Shanghai
const BORN_45 = '1978-06-15'; // 45 completed years on 2024-03-01

let n = 0;
function lab(loinc: string, value: number, unit: string, effective = '2024-03-01T08:00:00+08:00'): PrescreenObservation {
  n += 1;
  const resource: Observation = {
    resourceType: 'Observation', id: `o${n}`, status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: loinc }] }, subject: { reference: 'Patient/p1' },
    effectiveDateTime: effective, valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  };
  return { resource, inboundId: 100 + n };
}
const tbil = (v: number, eff?: string) => lab('14631-6', v, 'umol/L', eff);
const inr = (v: number, eff?: string) => lab('6301-6', v, '{INR}', eff);

function run(trialKey: string, observations: PrescreenObservation[], birthDate: string | null = BORN_45) {
  return prescreen({ trial: trials.get(trialKey)!, mappings, site, patientId: 'p1', patient: { birthDate: birthDate ?? undefined, gender: 'male' }, observations, now: NOW });
}

describe('prescreen NCT05985863 (clinical-reference §1.1)', () => {
  test('TBIL 85.5 umol/L and INR 1.6 at 45 years: potential, with the values, dates and inbound ids as evidence', () => {
    const r = run('NCT05985863', [tbil(85.5), inr(1.6)]);
    expect(r.kind).toBe('potential');
    expect(r.ageYears).toBe(45);
    expect(r.screeningDate).toBe('2024-03-01');
    const i2a = r.evidence.find((e) => e.criterion === 'I2a')!;
    expect(i2a.verdict).toBe('met');
    expect(i2a.values).toEqual([expect.objectContaining({ item: 'TBIL', value: 5, unit: 'mg/dL', localDate: '2024-03-01', ref: expect.stringMatching(/^Observation\//), inbound: expect.any(Number) })]);
    const i2b = r.evidence.find((e) => e.criterion === 'I2b')!;
    expect(i2b.values.map((v) => [v.item, v.value])).toEqual([['INR', 1.6]]);
    expect(r.evidence.find((e) => e.criterion === 'I1')!.refs).toEqual(['Patient/p1']);
    // Judgement and pre-onset criteria are the investigator's to check.
    expect(r.toCheck.map((c) => c.id)).toEqual(['I2c', 'I3', 'E1', 'E2', 'E3', 'E4', 'E5', 'E6', 'E7', 'E8', 'E9', 'E10', 'E11', 'E12', 'E13', 'E14']);
    expect(r.toCheck[0].text).toMatch(/Ascites/);
  });

  test.each([
    ['TBIL 84.9 umol/L (4.96 mg/dL) fails I2a', [84.9, 1.6], 'I2a', 'not-met'],
    ['INR 1.49 fails I2b (no PTA)', [90, 1.49], 'I2b', 'unknown'],
  ])('%s: none', (_name, [t, i], criterion, verdict) => {
    const r = run('NCT05985863', [tbil(t), inr(i)]);
    expect(r.kind).toBe('none');
    if (r.kind !== 'none') return;
    expect(r.blocking.map((b) => [b.criterion, b.verdict])).toEqual([[criterion, verdict]]);
    expect(r.reason).toMatch(new RegExp(`^${criterion} `));
  });

  test('PTA 39 % decides I2b when INR is low: potential', () => {
    expect(run('NCT05985863', [tbil(100), inr(1.3), lab('5894-1', 39, '%')]).kind).toBe('potential');
  });

  test.each([
    ['no INR at all', [tbil(100)], 'I2b', 'unknown', BORN_45],
    ['no birth date', [tbil(100), inr(1.6)], 'I1', 'unknown', null],
    ['age 71', [tbil(100), inr(1.6)], 'I1', 'not-met', '1952-06-15'],
    ['a bilirubin older than the 7-day screening lookback', [tbil(100, '2024-02-20T08:00:00+08:00'), inr(1.6)], 'I2a', 'unknown', BORN_45],
  ])('missing or failing data (%s): none, never potential', (_name, obs, criterion, verdict, birth: string | null) => {
    const r = run('NCT05985863', obs as PrescreenObservation[], birth);
    expect(r.kind).toBe('none');
    expect(r.kind === 'none' && r.blocking.map((b) => [b.criterion, b.verdict])).toEqual([[criterion, verdict]]);
  });
});

describe('trials that never pre-screen to potential', () => {
  test('NCT03945487: nothing auto-passes, even with a full liver panel (§1.4)', () => {
    const r = run('NCT03945487', [tbil(200), inr(2.5), lab('777-3', 40, '10*9/L'), lab('1751-7', 2.8, 'g/dL')]);
    expect(r.kind).toBe('none');
    expect(r.kind === 'none' && r.reason).toMatch(/nothing auto-passes/);
    expect(r.toCheck.map((c) => c.id)).toEqual(['I1', 'E1']);
    expect(neverPotential(trials.get('NCT03945487')!)).toMatch(/unknowns: eligibility/);
  });

  test('ESLD-UCMSC-DOSE: only age is computable, so labs select nobody', () => {
    const r = run('ESLD-UCMSC-DOSE', [tbil(200)]);
    expect(r.kind).toBe('none');
    expect(r.kind === 'none' && r.reason).toMatch(/no inclusion criterion is decided by labs/);
  });

  test('NCT05985863 and NCT02812121 can', () => {
    expect(neverPotential(trials.get('NCT05985863')!)).toBeNull();
    expect(neverPotential(trials.get('NCT02812121')!)).toBeNull();
  });
});

describe('labComputable', () => {
  test('judgement and pre-onset are not; any-of of lab thresholds is', () => {
    const t = trials.get('NCT05985863')!;
    const byId = new Map(t.eligibility.map((c) => [c.id, c.rule]));
    expect(labComputable(byId.get('I2b')!)).toBe(true);
    expect(labComputable(byId.get('E2')!)).toBe(false);
    expect(labComputable(byId.get('I3')!)).toBe(false);
    expect(splitCriteria(t).computable.map((c) => c.id)).toEqual(['I1', 'I2a', 'I2b']);
  });
});
