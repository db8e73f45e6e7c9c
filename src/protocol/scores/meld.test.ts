import { okOf, bilirubinUmolLToMgDl as biliSi, creatinineUmolLToMgDl as creatSi } from './test-helpers';
import { meld, type MeldInput } from './meld';
import { meldNa, type MeldNaInput } from './meld-na';

describe('MELD, clinical-reference §4.1 vectors', () => {
  // [id, bili mg/dL, INR, Cr mg/dL, dialysis, classic raw, decimals of raw in the reference, UNOS integer]
  test.each<[string, number, number, number, boolean, number, number, number]>([
    ['M1', 4.2, 1.2, 1.9, false, 20.0391626, 7, 20],
    ['M2', 0.9, 0.9, 0.9, false, 6.43, 10, 6],
    ['M3', 1.0, 1.0, 4.1, false, 19.6968, 4, 20],
    ['M4', 1.0, 1.0, 1.0, true, 19.6968, 4, 20],
    ['M5 (SI: bili 54 µmol/L, Cr 170 µmol/L)', biliSi(54), 2.0, creatSi(170), false, 24.798, 3, 25],
    ['M6', 2.0, 1.5, 1.2, false, 15.336, 3, 15],
    ['M8', 10.0, 2.0, 1.0, false, 22.897, 3, 23],
    ['M9', 5.0, 1.5, 0.8, false, 17.055, 3, 17],
    ['M10', 4.6, 1.5, 1.0, false, 16.74, 3, 17],
    ['M11', 22, 3.0, 1.0, false, 30.419, 3, 30],
    ['M12', 23, 3.0, 1.0, false, 30.587, 3, 31],
    ['M13 (cap 40)', 40, 6.0, 5.0, false, 53.709, 3, 40],
    ['M14 (SI: bili 171 µmol/L, Cr 97.24 µmol/L)', biliSi(171), 1.8, creatSi(97.24), false, 22.629, 3, 23],
  ])('%s: bili %p, INR %p, Cr %p, dialysis %p → raw %p, UNOS %p', (_id, bili, inr, cr, dialysis, raw, digits, integer) => {
    const result = okOf(meld({ bilirubinMgDl: bili, inr, creatinineMgDl: cr, dialysis }));
    expect(result.raw).toBeCloseTo(raw, digits);
    expect(result.value).toBe(integer);
    expect(result.formula).toBe('unos');
  });

  test('M7: etiology variant (cholestatic/alcoholic) drops the 6.43 term: 13.6091626 = M1 − 6.43', () => {
    const variant = okOf(meld({ bilirubinMgDl: 4.2, inr: 1.2, creatinineMgDl: 1.9, dialysis: false }, { etiology: 'cholestatic-or-alcoholic' }));
    expect(variant.raw).toBeCloseTo(13.6091626, 7);
    expect(variant.formula).toBe('kamath-etiology');
  });

  test('M7: the default (UNOS) form ignores etiology: same as M1', () => {
    const unos = okOf(meld({ bilirubinMgDl: 4.2, inr: 1.2, creatinineMgDl: 1.9, dialysis: false }));
    const explicitOther = okOf(meld({ bilirubinMgDl: 4.2, inr: 1.2, creatinineMgDl: 1.9, dialysis: false }, { etiology: 'other' }));
    expect(unos.raw).toBeCloseTo(20.0391626, 7);
    expect(explicitOther).toEqual(unos);
  });

  test('M3/M4: Cr 4.1 ≡ Cr 4.0 ≡ dialysis', () => {
    const cr41 = okOf(meld({ bilirubinMgDl: 1, inr: 1, creatinineMgDl: 4.1, dialysis: false }));
    const cr4 = okOf(meld({ bilirubinMgDl: 1, inr: 1, creatinineMgDl: 4.0, dialysis: false }));
    const dialysis = okOf(meld({ bilirubinMgDl: 1, inr: 1, creatinineMgDl: 1.0, dialysis: true }));
    expect(cr41.raw).toBe(cr4.raw);
    expect(dialysis.raw).toBe(cr4.raw);
    expect(dialysis.components.creatinineSetByDialysis).toBe(true);
  });

  test('boundary: M10 raw 16.74 < 17 but UNOS integer 17; M11 30.42 → 30; M12 30.59 → 31', () => {
    const m10 = okOf(meld({ bilirubinMgDl: 4.6, inr: 1.5, creatinineMgDl: 1.0, dialysis: false }));
    const m11 = okOf(meld({ bilirubinMgDl: 22, inr: 3.0, creatinineMgDl: 1.0, dialysis: false }));
    const m12 = okOf(meld({ bilirubinMgDl: 23, inr: 3.0, creatinineMgDl: 1.0, dialysis: false }));
    expect(m10.raw).toBeLessThan(17);
    expect(m10.value).toBe(17);
    expect(m11.raw).toBeGreaterThan(30);
    expect(m11.value).toBe(30);
    expect(m12.raw).toBeLessThan(31);
    expect(m12.value).toBe(31);
  });
});

describe('MELD unknown on missing inputs (clinical-reference §0)', () => {
  test.each<[string, MeldInput, string[]]>([
    ['no labs', {}, ['bilirubinMgDl', 'inr', 'creatinineMgDl', 'dialysis']],
    ['no INR', { bilirubinMgDl: 4.2, creatinineMgDl: 1.9, dialysis: false }, ['inr']],
    ['null bilirubin', { bilirubinMgDl: null, inr: 1.2, creatinineMgDl: 1.9, dialysis: false }, ['bilirubinMgDl']],
    ['dialysis unknown below the cap', { bilirubinMgDl: 4.2, inr: 1.2, creatinineMgDl: 1.9 }, ['dialysis']],
  ])('%s → unknown %p', (_why, input, missing) => {
    expect(meld(input)).toEqual({ status: 'unknown', missing });
  });

  test('dialysis may be absent when creatinine is already at the cap (it cannot change the score)', () => {
    expect(okOf(meld({ bilirubinMgDl: 1, inr: 1, creatinineMgDl: 4.1 })).value).toBe(20);
  });

  test.each([Number.NaN, -1, Number.POSITIVE_INFINITY])('unusable INR %p → unknown, listed as invalid', (inr) => {
    const result = meld({ bilirubinMgDl: 4.2, inr, creatinineMgDl: 1.9, dialysis: false });
    expect(result.status).toBe('unknown');
    if (result.status === 'unknown') {
      expect(result.missing).toEqual(['inr']);
      expect(result.invalid).toHaveLength(1);
    }
  });
});

describe('MELD-Na, clinical-reference §4.2 vectors', () => {
  // [id, bili, INR, Cr, Na, UNOS 2016 integer, unrounded]
  test.each<[string, number, number, number, number, number, number]>([
    ['N1', 4.2, 1.2, 1.9, 125, 28, 27.92],
    ['N4', 2.0, 1.5, 1.2, 130, 21, 20.775],
    ['N5', 2.0, 1.5, 1.2, 125, 25, 24.9],
    ['N6 (MELD(i) ≤ 11: Na ignored)', 1.0, 1.0, 1.0, 120, 6, 6],
    ['N7 (UNOS)', 2.0, 1.8, 2.0, 131, 26, 25.564],
    ['N8', 10, 2.0, 1.0, 128, 28, 28.049],
  ])('%s: %p, %p, %p, Na %p → UNOS %p (%p)', (_id, bili, inr, cr, na, integer, raw) => {
    const result = okOf(meldNa({ bilirubinMgDl: bili, inr, creatinineMgDl: cr, sodiumMmolL: na, dialysis: false }));
    expect(result.formula).toBe('unos-2016');
    expect(result.value).toBe(integer);
    expect(result.raw).toBeCloseTo(raw, 9);
  });

  test('N6: MELD(i) ≤ 11 → sodium not applied', () => {
    expect(okOf(meldNa({ bilirubinMgDl: 1, inr: 1, creatinineMgDl: 1, sodiumMmolL: 120, dialysis: false })).components.sodiumApplied).toBe(false);
  });

  const base = { bilirubinMgDl: 4.2, inr: 1.2, creatinineMgDl: 1.9, dialysis: false };
  test.each<[string, number, number]>([
    ['N2 (Na clamped at 125)', 124, 125],
    ['N3 (Na clamped at 137)', 137, 138],
  ])('%s: Na %p ≡ Na %p', (_id, a, b) => {
    expect(meldNa({ ...base, sodiumMmolL: a })).toEqual(meldNa({ ...base, sodiumMmolL: b }));
  });

  test('N7 (Kim 2008 option): 26.257', () => {
    const kim = okOf(meldNa({ bilirubinMgDl: 2.0, inr: 1.8, creatinineMgDl: 2.0, sodiumMmolL: 131, dialysis: false }, { formula: 'kim-2008' }));
    expect(kim.formula).toBe('kim-2008');
    expect(kim.raw).toBeCloseTo(26.257, 3);
    expect(kim.value).toBe(26);
  });

  test('Kim 2008 clamps Na to [125, 140], not 137', () => {
    const at = (sodiumMmolL: number) => okOf(meldNa({ ...base, sodiumMmolL }, { formula: 'kim-2008' })).raw;
    expect(at(141)).toBe(at(140));
    expect(at(124)).toBe(at(125));
    expect(at(139)).not.toBe(at(137));
  });

  test.each<[string, MeldNaInput, string[]]>([
    ['no sodium', base, ['sodiumMmolL']],
    ['no creatinine, no sodium', { bilirubinMgDl: 4.2, inr: 1.2, dialysis: false }, ['creatinineMgDl', 'sodiumMmolL']],
  ])('%s → unknown %p', (_why, input, missing) => {
    expect(meldNa(input)).toEqual({ status: 'unknown', missing });
  });
});
