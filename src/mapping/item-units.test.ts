/**
 * The one converter (design.md): clinical-reference §3 factors and boundary table through
 * the shipped analyte groups, unit-text synonyms, and the source precision the scores use.
 */
import { DEFAULT_MAPPINGS_DIR } from './paths';
import { itemUnits } from './item-units';
import { loadMappings } from './load';

const set = loadMappings(DEFAULT_MAPPINGS_DIR);
const hbv = itemUnits(set, 'NCT02812121');
const aclf = itemUnits(set, 'NCT05985863');

describe('§3 boundary table, µmol/L -> mg/dL: exact, so thresholds hold without tolerance tricks', () => {
  test.each([
    ['TBIL', 17.1, 1.0],
    ['TBIL', 34.2, 2.0],
    ['TBIL', 51.3, 3.0],
    ['TBIL', 85.5, 5.0],
    ['TBIL', 102.6, 6.0],
    ['TBIL', 171.0, 10.0],
    ['TBIL', 205.2, 12.0],
    ['CREA', 132.6, 1.5],
    ['CREA', 176.8, 2.0],
    ['CREA', 265.2, 3.0],
    ['CREA', 353.6, 4.0],
  ])('%s %p umol/L = %p mg/dL, and back', (item, si, mgDl) => {
    expect(hbv.convert(item, si, 'umol/L', 'mg/dL')).toBe(mgDl);
    expect(hbv.convert(item, mgDl, 'mg/dL', 'umol/L')).toBe(si);
  });

  test('§3 pins 17.1, not 17.104: 85.5 umol/L is 5.000 mg/dL (the APASL threshold)', () => {
    expect(hbv.convert('TBIL', 85.5, 'umol/L', 'mg/dL')).toBe(5);
    expect(85.5 / 17.104).toBeLessThan(5);
  });
});

describe('other §3 conversions and feed spellings', () => {
  test.each([
    ['ALB', 35, 'g/L', 'g/dL', 3.5],
    ['ALB', 28, 'g/l', 'g/dL', 2.8],
    ['BUN', 28, 'mg/dL', 'mmol/L', 9.996],
    ['HGB', 1, 'mmol/L', 'g/dL', 1.61],
    ['PLT', 150, '10*3/uL', '10*9/L', 150],
    ['WBC', 10, '10^3/µL', '10*9/L', 10],
    ['WBC', 12.5, 'x10*9/L', '10*9/L', 12.5],
    ['TBIL', 85.5, 'µmol/L', 'mg/dL', 5],
    ['TBIL', 85.5, 'μmol/L', 'mg/dL', 5],
    ['NA', 137, 'mEq/L', 'mmol/L', 137],
    ['ALT', 40, 'IU/L', 'U/L', 40],
    ['INR', 1.5, '{INR}', '{INR}', 1.5],
  ])('%s %p %s -> %p %s', (item, value, from, to, expected) => {
    expect(hbv.convert(item, value, from, to)).toBe(expected);
  });

  test.each([
    ['TBIL', 'U/L', 'mg/dL'],
    ['LACT', 'mg/dL', 'mmol/L'], // §3 publishes no lactate factor: never guessed
    ['TBIL', 'K/uL', 'mg/dL'],
  ])('%s %s -> %s is not convertible (null, so a rule becomes unknown)', (item, from, to) => {
    expect(hbv.convert(item, 1, from, to)).toBeNull();
  });

  test('canonical spelling through the analyte aliases', () => {
    expect(hbv.canonical('TBIL', ' µmol/L ')).toBe('umol/L');
    expect(hbv.canonical('ALT', 'IU/L')).toBe('U/L');
    expect(hbv.canonical('INR', 'ratio')).toBe('{INR}');
  });
});

describe('valueIn: the source value at full precision unless a person changed the CRF value', () => {
  const m10 = { item: 'TBIL', value: 78.7, unit: 'umol/L', source: { value: 4.6, unit: 'mg/dL', code: '1975-2' } };

  test('§4.1 M10: 4.6 mg/dL stored as 78.7 umol/L is 4.6 mg/dL, not 78.7 / 17.1 = 4.6023', () => {
    expect(hbv.valueIn(m10, 'mg/dL')).toBe(4.6);
    expect(hbv.valueIn({ ...m10, source: null }, 'mg/dL')).toBeCloseTo(4.60234, 5);
  });

  test('in the CRF unit the source gives the unrounded 78.66', () => {
    expect(hbv.valueIn(m10, 'umol/L')).toBe(78.66);
  });

  test('a corrected CRF value (no longer the source rounded) is used as stored', () => {
    expect(hbv.valueIn({ ...m10, value: 80 }, 'mg/dL')).toBeCloseTo(80 / 17.1, 10);
  });

  test('a unit assumed from a [Moles/volume] code (onMissingUnit assume) is the source unit', () => {
    expect(hbv.valueIn({ item: 'TBIL', value: 85.5, unit: 'umol/L', source: { value: 85.5, unit: null, code: '14631-6' } }, 'mg/dL')).toBe(5);
  });

  test('the same source feeds a trial whose CRF holds mg/dL', () => {
    expect(aclf.valueIn({ item: 'TBIL', value: 4.6, unit: 'mg/dL', source: { value: 78.66, unit: 'umol/L' } }, 'mg/dL')).toBe(4.6);
  });

  test('no number, no unit: null', () => {
    expect(hbv.valueIn({ item: 'HBSAG', value: 'POS', unit: null }, 'mg/dL')).toBeNull();
    expect(hbv.valueIn({ item: 'TBIL', value: 5, unit: null }, 'mg/dL')).toBeNull();
  });
});
