import { okOf, albuminGLToGDl, bilirubinUmolLToMgDl } from './test-helpers';
import { type ChildPughInput, childPugh, childPughClass } from './child-pugh';

describe('Child-Pugh, clinical-reference §4.4 vectors', () => {
  // [id, input, component points (bili, alb, INR, ascites, HE), total, class]
  test.each<[string, ChildPughInput, [number, number, number, number, number], number, 'A' | 'B' | 'C']>([
    ['C1', { bilirubinMgDl: 3.2, albuminGDl: 2.6, inr: 2.0, ascites: 'mild', encephalopathy: 'grade-1-2' }, [3, 3, 2, 2, 2], 12, 'C'],
    ['C2', { bilirubinMgDl: 2.5, albuminGDl: 2.5, inr: 1.8, ascites: 'none', encephalopathy: 'grade-1-2' }, [2, 3, 2, 1, 2], 10, 'C'],
    ['C2 (SI: 42.75 µmol/L, 25 g/L)', { bilirubinMgDl: bilirubinUmolLToMgDl(42.75), albuminGDl: albuminGLToGDl(25), inr: 1.8, ascites: 'none', encephalopathy: 'grade-1-2' }, [2, 3, 2, 1, 2], 10, 'C'],
    ['C3', { bilirubinMgDl: 1.5, albuminGDl: 4.0, inr: 1.5, ascites: 'none', encephalopathy: 'none' }, [1, 1, 1, 1, 1], 5, 'A'],
    ['C4 (minimum)', { bilirubinMgDl: 1.2, albuminGDl: 4.0, inr: 1.2, ascites: 'none', encephalopathy: 'none' }, [1, 1, 1, 1, 1], 5, 'A'],
    ['C4 (maximum)', { bilirubinMgDl: 4.2, albuminGDl: 2.6, inr: 2.5, ascites: 'moderate-severe', encephalopathy: 'grade-3-4' }, [3, 3, 3, 3, 3], 15, 'C'],
    ['C5 (lower middle-band end points)', { bilirubinMgDl: 2.0, albuminGDl: 3.5, inr: 1.7, ascites: 'none', encephalopathy: 'none' }, [2, 2, 2, 1, 1], 8, 'B'],
    ['C6 (upper middle-band end points)', { bilirubinMgDl: 3.0, albuminGDl: 2.8, inr: 2.3, ascites: 'mild', encephalopathy: 'none' }, [2, 2, 2, 2, 1], 9, 'B'],
    ['C7 (just past the end points)', { bilirubinMgDl: 3.01, albuminGDl: 2.79, inr: 2.31, ascites: 'none', encephalopathy: 'none' }, [3, 3, 3, 1, 1], 11, 'C'],
    ['C8 (SI: 40 µmol/L, 30 g/L)', { bilirubinMgDl: bilirubinUmolLToMgDl(40), albuminGDl: albuminGLToGDl(30), inr: 1.5, ascites: 'none', encephalopathy: 'none' }, [2, 2, 1, 1, 1], 7, 'B'],
    ['C9 (SI: 60 µmol/L, 27 g/L)', { bilirubinMgDl: bilirubinUmolLToMgDl(60), albuminGDl: albuminGLToGDl(27), inr: 2.4, ascites: 'mild', encephalopathy: 'grade-1-2' }, [3, 3, 3, 2, 2], 13, 'C'],
  ])('%s → %p = %p, class %p', (_id, input, points, total, cls) => {
    const result = okOf(childPugh(input));
    const c = result.components;
    expect([c.bilirubin, c.albumin, c.coagulation, c.ascites, c.encephalopathy]).toEqual(points);
    expect(result.value).toBe(total);
    expect(result.class).toBe(cls);
  });
});

describe('Child-Pugh boundaries', () => {
  test.each<[string, number, 'A' | 'B' | 'C']>([
    ['A lower end', 5, 'A'],
    ['A upper end', 6, 'A'],
    ['B lower end', 7, 'B'],
    ['B upper end (C6; NCT05985863 E2 "CTP > 9" not met)', 9, 'B'],
    ['C lower end (C2; E2 met; not 12 as a wrong page says)', 10, 'C'],
    ['C at 11 (a page claiming B = 7–11 is wrong)', 11, 'C'],
    ['C upper end', 15, 'C'],
  ])('%s: %p points → class %p', (_why, points, cls) => {
    expect(childPughClass(points)).toBe(cls);
  });

  const rest = { albuminGDl: 4.0, inr: 1.0, ascites: 'none', encephalopathy: 'none' } as const;
  test.each<[string, number, number]>([
    ['33.9 µmol/L < 34.2 → 1', 33.9, 1],
    ['34.2 µmol/L = 2.0 mg/dL → 2', 34.2, 2],
    ['51.3 µmol/L ÷ 17.1 = 3.0 → 2 (§0)', 51.3, 2],
    ['51.4 µmol/L > 3.0 mg/dL → 3', 51.4, 3],
  ])('bilirubin %s', (_why, umolL, points) => {
    expect(okOf(childPugh({ ...rest, bilirubinMgDl: bilirubinUmolLToMgDl(umolL) })).components.bilirubin).toBe(points);
  });

  test.each<[number, number]>([
    [35.1, 1],
    [35, 2],
    [28, 2],
    [27.9, 3],
  ])('albumin %p g/L → %p points', (gL, points) => {
    expect(okOf(childPugh({ bilirubinMgDl: 1, inr: 1, ascites: 'none', encephalopathy: 'none', albuminGDl: albuminGLToGDl(gL) })).components.albumin).toBe(points);
  });
});

describe('Child-Pugh PT-prolongation alternative (§4.4 [K])', () => {
  const rest = { bilirubinMgDl: 1.0, albuminGDl: 4.0, ascites: 'none', encephalopathy: 'none' } as const;
  test.each<[number, number]>([
    [3.9, 1],
    [4, 2],
    [6, 2],
    [6.1, 3],
  ])('PT +%p s (no INR) → %p points', (seconds, points) => {
    const result = okOf(childPugh({ ...rest, ptProlongationSeconds: seconds }));
    expect(result.components.coagulation).toBe(points);
    expect(result.components.coagulationSource).toBe('pt-prolongation');
  });

  test('INR wins when both are given', () => {
    const result = okOf(childPugh({ ...rest, inr: 1.2, ptProlongationSeconds: 7 }));
    expect(result.components.coagulationSource).toBe('inr');
    expect(result.components.coagulation).toBe(1);
  });
});

describe('Child-Pugh unknown on missing inputs (§0, §4.4: ascites and HE are clinician inputs)', () => {
  const c3: ChildPughInput = { bilirubinMgDl: 1.5, albuminGDl: 4.0, inr: 1.5, ascites: 'none', encephalopathy: 'none' };
  test.each<[string, Partial<ChildPughInput>, string[]]>([
    ['no ascites assessment (not assumed none)', { ascites: undefined }, ['ascites']],
    ['no HE assessment (not assumed none)', { encephalopathy: null }, ['encephalopathy']],
    ['neither clinician input', { ascites: undefined, encephalopathy: undefined }, ['ascites', 'encephalopathy']],
    ['no INR and no PT', { inr: undefined }, ['inr']],
    ['no labs', { bilirubinMgDl: undefined, albuminGDl: undefined }, ['bilirubinMgDl', 'albuminGDl']],
  ])('%s → unknown %p', (_why, change, missing) => {
    expect(childPugh({ ...c3, ...change })).toEqual({ status: 'unknown', missing });
  });

  test('albumin in g/L fed as g/dL → unknown (invalid), never scored 1 point', () => {
    const result = childPugh({ ...c3, albuminGDl: 30 });
    expect(result).toMatchObject({ status: 'unknown', missing: ['albuminGDl'] });
  });

  test('an unknown category string → unknown (invalid)', () => {
    const result = childPugh({ ...c3, ascites: 'tense' as never });
    expect(result).toMatchObject({ status: 'unknown', missing: ['ascites'] });
  });
});
