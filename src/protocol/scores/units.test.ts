import { atLeast, atMost } from './numeric';
import { albuminGLToGDl, BILIRUBIN_UMOL_L_PER_MG_DL, bilirubinUmolLToMgDl, CREATININE_UMOL_L_PER_MG_DL, creatinineUmolLToMgDl } from './units';

describe('conversion factors are the ones pinned by clinical-reference §3', () => {
  test('bilirubin 17.1 (not 17.104), creatinine 88.4', () => {
    expect(BILIRUBIN_UMOL_L_PER_MG_DL).toBe(17.1);
    expect(CREATININE_UMOL_L_PER_MG_DL).toBe(88.4);
  });

  test('§3: 85.5 µmol/L ÷ 17.1 = 5.000 exactly and meets the APASL ≥ 5 mg/dL threshold (17.104 would fail)', () => {
    expect(bilirubinUmolLToMgDl(85.5)).toBe(5);
    expect(atLeast(bilirubinUmolLToMgDl(85.5), 5)).toBe(true);
    expect(atLeast(85.5 / 17.104, 5)).toBe(false);
  });

  test('§0: 51.3 µmol/L → 2.9999999999999996 mg/dL, which the tolerant comparisons treat as 3.0', () => {
    const mgDl = bilirubinUmolLToMgDl(51.3);
    expect(mgDl).toBeCloseTo(3, 12);
    expect(atLeast(mgDl, 3) && atMost(mgDl, 3)).toBe(true);
  });
});

describe('§3 boundary table, µmol/L → mg/dL', () => {
  test.each([
    ['TBIL ULN', bilirubinUmolLToMgDl, 17.1, 1.0],
    ['TBIL CTP cut-off 2.0', bilirubinUmolLToMgDl, 34.2, 2.0],
    ['TBIL CTP cut-off 3.0', bilirubinUmolLToMgDl, 51.3, 3.0],
    ['TBIL APASL 5.0', bilirubinUmolLToMgDl, 85.5, 5.0],
    ['TBIL CLIF liver 6.0', bilirubinUmolLToMgDl, 102.6, 6.0],
    ['TBIL 10×ULN', bilirubinUmolLToMgDl, 171.0, 10.0],
    ['TBIL CLIF liver 12.0', bilirubinUmolLToMgDl, 205.2, 12.0],
    ['Creat EASL-CLIF 1.5', creatinineUmolLToMgDl, 132.6, 1.5],
    ['Creat EASL-CLIF 2.0', creatinineUmolLToMgDl, 176.8, 2.0],
    ['Creat MELD 3.0 cap 3.0', creatinineUmolLToMgDl, 265.2, 3.0],
    ['Creat MELD cap 4.0', creatinineUmolLToMgDl, 353.6, 4.0],
  ])('%s: %p → %p (within 1e-9, so thresholds hold)', (_name, convert, si, mgDl) => {
    const converted = convert(si);
    expect(atLeast(converted, mgDl) && atMost(converted, mgDl)).toBe(true);
  });
});

describe('albumin g/L → g/dL (§3, §4.3: CRF albumin is g/L)', () => {
  test.each([
    [35, 3.5],
    [28, 2.8],
    [30, 3.0],
    [27, 2.7],
  ])('%p g/L → %p g/dL', (gL, gDl) => {
    expect(albuminGLToGDl(gL)).toBe(gDl);
  });
});

describe('absent values pass through as undefined (§0: unknown stays unknown)', () => {
  test.each([null, undefined])('%p', (absent) => {
    expect(bilirubinUmolLToMgDl(absent)).toBeUndefined();
    expect(creatinineUmolLToMgDl(absent)).toBeUndefined();
    expect(albuminGLToGDl(absent)).toBeUndefined();
  });
});
