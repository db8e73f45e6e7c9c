/**
 * Lab thresholds and the ULN rule on the shipped trial files, with the boundary vectors of
 * clinical-reference §1.1 (I2a, I2b), §1.3 (I1a), §3 and §7.3.
 */
import type { LabFact } from './types';
import { criterion, facts, lab } from './test-support';

const ACLF = 'NCT05985863';
const HBV = 'NCT02812121';

describe('APASL jaundice, TBIL >= 5 mg/dL (NCT05985863 I2a, §1.1, §3)', () => {
  test.each([
    [85.5, 'umol/L', 'met'],
    [85.0, 'umol/L', 'not-met'],
    [85.5, 'µmol/L', 'met'],
    [5.0, 'mg/dL', 'met'],
    [4.97, 'mg/dL', 'not-met'],
    [4.9999999999, 'mg/dL', 'met'], // within the 1e-9 tolerance (§0)
  ])('TBIL %p %s -> %s', (value, unit, verdict) => {
    expect(criterion(ACLF, facts({ labs: [lab('TBIL', value, unit)] }), 'I2a').verdict).toBe(verdict);
  });

  test('the reason shows the recorded value, the conversion and the section', () => {
    const c = criterion(ACLF, facts({ labs: [lab('TBIL', 85.0, 'umol/L', '2024-05-30T08:00:00+08:00', { ref: 'Observation/abc' })] }), 'I2a');
    expect(c.reason).toBe('TBIL 85.0 umol/L on 2024-05-30 = 4.97 mg/dL < 5.0 mg/dL (clinical-reference §1.1 I2a)');
    expect(c.evidence).toEqual(['Observation/abc']);
  });

  test.each([
    ['no result', [] as LabFact[]],
    ['a non-numeric result', [lab('TBIL', 'high', 'mg/dL')]],
    ['a result without unit', [lab('TBIL', 6, null)]],
    ['a unit that cannot be converted (catalytic activity, not a concentration)', [lab('TBIL', 6, 'U/L')]],
  ])('%s -> unknown, never met (§0)', (_name, labs) => {
    expect(criterion(ACLF, facts({ labs }), 'I2a').verdict).toBe('unknown');
  });
});

describe('coagulopathy, INR >= 1.5 OR PTA < 40 % (NCT05985863 I2b, NCT02812121 I1b, §7.3)', () => {
  test.each([
    [1.49, 39, 'met'],
    [1.49, 40, 'not-met'], // strict < on PTA
    [1.5, 40, 'met'], // >= on INR
    [1.49, null, 'unknown'],
    [null, 39, 'met'],
    [null, 40, 'unknown'],
    [null, null, 'unknown'],
  ])('INR %p, PTA %p -> %s', (inr, pta, verdict) => {
    const labs = [...(inr === null ? [] : [lab('INR', inr, '{INR}')]), ...(pta === null ? [] : [lab('PTA', pta, '%')])];
    expect(criterion(ACLF, facts({ labs }), 'I2b').verdict).toBe(verdict);
    expect(criterion(HBV, facts({ labs }), 'I1b').verdict).toBe(verdict);
  });

  test('the reason names both sides when neither holds', () => {
    const c = criterion(ACLF, facts({ labs: [lab('INR', 1.49, '{INR}'), lab('PTA', 40, '%')] }), 'I2b');
    expect(c.reason).toBe('none holds: INR 1.49 on 2024-05-30 < 1.5; PTA 40.0 % on 2024-05-30 >= 40.0 % (clinical-reference §1.1 I2b)');
    expect(c.evidence).toHaveLength(2);
  });
});

describe('jaundice, TBIL >= 10 x ULN (NCT02812121 I1a, §1.3, §5)', () => {
  test.each([
    [171, 'umol/L', null, 'met'], // default ULN 17.1 -> 171
    [170.9, 'umol/L', null, 'not-met'],
    [10.0, 'mg/dL', null, 'met'], // 10 mg/dL = 171 umol/L
    [210, 'umol/L', { value: 21, unit: 'umol/L' }, 'met'], // referenceRange.high 21 -> 210
    [209.9, 'umol/L', { value: 21, unit: 'umol/L' }, 'not-met'],
    [171, 'umol/L', { value: 21, unit: 'umol/L' }, 'not-met'], // the lab's own ULN wins over the default
    [205.2, 'umol/L', { value: 1.2, unit: 'mg/dL' }, 'met'], // 1.2 mg/dL = 20.52 umol/L
    [300, 'umol/L', { value: 21, unit: 'U/L' }, 'unknown'], // unusable ULN: not silently the default
  ])('TBIL %p %s, referenceRange.high %j -> %s', (value, unit, high, verdict) => {
    expect(criterion(HBV, facts({ labs: [lab('TBIL', value, unit, undefined, { referenceHigh: high })] }), 'I1a').verdict).toBe(verdict);
  });

  test('the reason shows the ULN used', () => {
    expect(criterion(HBV, facts({ labs: [lab('TBIL', 209.9, 'umol/L', undefined, { referenceHigh: { value: 21, unit: 'umol/L' } })] }), 'I1a').reason).toBe(
      'TBIL 209.9 umol/L on 2024-05-30 < 10 x ULN = 210.00 umol/L (ULN = referenceRange.high 21.0 umol/L) (clinical-reference §1.3 I1a)',
    );
    expect(criterion(HBV, facts({ labs: [lab('TBIL', 171, 'umol/L')] }), 'I1a').reason).toContain('(default ULN 17.1 umol/L)');
  });
});

describe('which result counts at screening (latest within Day -7..screening day, §0 Baseline lab [A])', () => {
  test.each([
    ['2024-05-25T08:00:00+08:00', undefined, 'met'], // 7 days before
    ['2024-05-24T08:00:00+08:00', undefined, 'unknown'], // 8 days before
    ['2024-05-24T08:00:00+08:00', 8, 'met'], // lookback is a parameter
    ['2024-06-01T23:30:00+08:00', undefined, 'met'], // the whole screening day counts
    ['2024-06-01T15:30:00Z', undefined, 'met'], // 23:30 local
    ['2024-06-01T16:30:00Z', undefined, 'unknown'], // 00:30 local the next day
    ['2024-06-01', undefined, 'met'],
    ['2024-06', undefined, 'unknown'], // partial date cannot be placed
  ])('TBIL 6 mg/dL at %s, lookback %p -> %s', (effective, lookback, verdict) => {
    const c = criterion(ACLF, facts({ labs: [lab('TBIL', 6, 'mg/dL', effective)] }), 'I2a', { screeningLookbackDays: lookback });
    expect(c.verdict).toBe(verdict);
  });

  test('the latest result wins', () => {
    const older = lab('TBIL', 6, 'mg/dL', '2024-05-26T08:00:00+08:00');
    const newer = lab('TBIL', 4, 'mg/dL', '2024-05-31T08:00:00+08:00');
    const c = criterion(ACLF, facts({ labs: [newer, older] }), 'I2a');
    expect(c.verdict).toBe('not-met');
    expect(c.evidence).toEqual([newer.ref]);
  });

  test('different values at the same latest time are a conflict -> unknown', () => {
    const labs = [lab('TBIL', 6, 'mg/dL'), lab('TBIL', 4, 'mg/dL')];
    const c = criterion(ACLF, facts({ labs }), 'I2a');
    expect(c.verdict).toBe('unknown');
    expect(c.reason).toContain('conflicting TBIL');
  });

  test('an invalid screening date is a caller bug', () => {
    expect(() => criterion(ACLF, facts({ screeningDate: '2024-06' }), 'I1')).toThrow(/screeningDate/);
  });
});
