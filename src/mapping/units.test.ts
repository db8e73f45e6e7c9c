/**
 * Conversion factors and rounding, numbers from clinical-reference §0 and §3
 * (boundary table: 17.1 bilirubin, 88.4 creatinine, 0.357 BUN, albumin x10).
 */
import { commensurable, convert, molecularWeightFor, normaliseUnitText, roundHalfUp, ucumProblem } from './units';

const BILI = molecularWeightFor({ massUnit: 'mg/dL', molarUnit: 'umol/L', molarPerMass: 17.1 }) as number;
const CREA = molecularWeightFor({ massUnit: 'mg/dL', molarUnit: 'umol/L', molarPerMass: 88.4 }) as number;
const BUN = molecularWeightFor({ massUnit: 'mg/dL', molarUnit: 'mmol/L', molarPerMass: 0.357 }) as number;
const HGB = molecularWeightFor({ massUnit: 'g/dL', molarUnit: 'mmol/L', massPerMolar: 1.61 }) as number;

function converted(value: number, from: string, to: string, mw: number | undefined, decimals: number): number {
  const res = convert(value, from, to, mw);
  if (!res.ok) throw new Error(`conversion failed: ${res.reason}`);
  return roundHalfUp(res.value, decimals);
}

describe('molecular weights reproduce the pinned factors', () => {
  test.each([
    ['bilirubin 17.1', BILI, 'mg/dL', 'umol/L', 17.1],
    ['creatinine 88.4', CREA, 'mg/dL', 'umol/L', 88.4],
    ['BUN 0.357', BUN, 'mg/dL', 'mmol/L', 0.357],
  ])('%s', (_name, mw, from, to, factor) => {
    const res = convert(1, from, to, mw);
    expect(res.ok && Math.abs(res.value - factor)).toBeLessThan(1e-9);
  });

  test('bilirubin uses 17.1, not the chemical 17.104 (clinical-reference §3)', () => {
    expect(BILI).toBeCloseTo(10000 / 17.1, 9);
    expect(converted(85.5, 'umol/L', 'mg/dL', BILI, 4)).toBe(5);
  });

  test('a factor in the wrong direction of units is reported', () => {
    expect(typeof molecularWeightFor({ massUnit: 'umol/L', molarUnit: 'mg/dL', molarPerMass: 17.1 })).toBe('number');
    expect(typeof molecularWeightFor({ massUnit: 'mg/dL', molarUnit: 's', molarPerMass: 1 })).toBe('string');
    expect(typeof molecularWeightFor({ massUnit: 'mg/dL', molarUnit: 'umol/L' })).toBe('string');
  });
});

describe('bilirubin boundary table (clinical-reference §3)', () => {
  test.each([
    [17.1, 1.0], [34.2, 2.0], [51.3, 3.0], [85.5, 5.0], [102.6, 6.0], [171, 10.0], [205.2, 12.0], [85.0, 4.97],
  ])('%p umol/L -> %p mg/dL', (umol, mgdl) => {
    expect(converted(umol, 'umol/L', 'mg/dL', BILI, 2)).toBe(mgdl);
  });
  test.each([
    [1.0, 17.1], [2.0, 34.2], [3.0, 51.3], [5.0, 85.5], [6.0, 102.6], [10.0, 171.0], [12.0, 205.2],
  ])('%p mg/dL -> %p umol/L', (mgdl, umol) => {
    expect(converted(mgdl, 'mg/dL', 'umol/L', BILI, 1)).toBe(umol);
  });
});

describe('creatinine boundary table (88.4)', () => {
  test.each([[1.5, 132.6], [2.0, 176.8], [3.0, 265.2], [4.0, 353.6], [1.0, 88.4]])('%p mg/dL <-> %p umol/L', (mgdl, umol) => {
    expect(converted(mgdl, 'mg/dL', 'umol/L', CREA, 1)).toBe(umol);
    expect(converted(umol, 'umol/L', 'mg/dL', CREA, 2)).toBe(mgdl);
  });
  test('mmol/L (HL7 spec panels) goes through the same weight', () => {
    expect(converted(0.0884, 'mmol/L', 'mg/dL', CREA, 2)).toBe(1);
  });
});

describe('BUN (0.357) and the other plain conversions', () => {
  test.each([
    [28, 'mg/dL', 'mmol/L', BUN, 1, 10.0],
    [14, 'mg/dL', 'mmol/L', BUN, 1, 5.0],
    [10, 'mmol/L', 'mg/dL', BUN, 1, 28.0],
    [3.5, 'g/dL', 'g/L', undefined, 1, 35.0],
    [2.8, 'g/dL', 'g/L', undefined, 1, 28.0],
    [8, 'mmol/L', 'g/dL', HGB, 2, 12.88],
    [200, '10*3/uL', '10*9/L', undefined, 0, 200],
    [150000, '/uL', '10*9/L', undefined, 0, 150],
    [185, '[lb_av]', 'kg', undefined, 1, 83.9],
    [0.5, 'ukat/L', 'U/L', undefined, 0, 30],
  ])('%p %s -> %s', (value, from, to, mw, decimals, expected) => {
    expect(converted(value, from, to, mw, decimals)).toBe(expected);
  });
});

describe('unit pitfalls', () => {
  test('K/uL is valid UCUM (kelvin per microlitre) but never a platelet count', () => {
    expect(ucumProblem('K/uL')).toBeNull();
    expect(convert(250, 'K/uL', '10*9/L')).toEqual({ ok: false, reason: 'unit-not-convertible' });
  });
  test.each(['IU/L', 'INR', 'lbs', 'x10*9/L', 'sec', '', 'MG/DL'])('%p is not strict UCUM', (unit) => {
    expect(ucumProblem(unit)).not.toBeNull();
    expect(convert(1, unit, 'U/L')).toEqual({ ok: false, reason: 'invalid-unit' });
  });
  test('[IU]/L and U/L are not commensurable in UCUM (hence the enzyme alias)', () => {
    expect(commensurable('[IU]/L', 'U/L')).toBe(false);
  });
  test('arbitrary units only map to the identical unit', () => {
    expect(convert(1234, '[IU]/mL', '[IU]/mL')).toEqual({ ok: true, value: 1234 });
    expect(convert(1234, '{copies}/mL', '[IU]/mL').ok).toBe(false);
  });
  test.each([
    ['µmol/L', 'umol/L'], ['μmol/L', 'umol/L'], ['x10*9/L', '10*9/L'], ['×10^9/L', '10*9/L'], ['10^3/uL', '10*3/uL'], [' mg/dL ', 'mg/dL'], ['K/uL', 'K/uL'],
  ])('normalises %p to %p', (raw, expected) => {
    expect(normaliseUnitText(raw)).toBe(expected);
  });
});

describe('roundHalfUp is robust to IEEE noise (clinical-reference §0)', () => {
  test.each([
    [51.3 / 17.1, 2, 3], [0.145, 2, 0.15], [1.005, 2, 1.01], [2.5, 0, 3], [9.996, 1, 10], [4.995, 2, 5], [4.994999, 2, 4.99],
    [-2.5, 0, -3], [0.0001, 2, 0], [1e21, 0, 1e21], [1e-7, 2, 0], [199.99999999999997, 0, 200],
  ])('roundHalfUp(%p, %p) = %p', (value, decimals, expected) => {
    expect(roundHalfUp(value, decimals)).toBe(expected);
  });
});
