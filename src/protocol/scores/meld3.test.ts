import { okOf, albuminGLToGDl } from './test-helpers';
import { meld3, type Meld3Input } from './meld3';

describe('MELD 3.0, clinical-reference §4.3 vectors', () => {
  // [id, female, bili, INR, Cr, Na, albumin g/dL, MELD 3.0, unrounded (Table 4 rows) or null]
  test.each<[string, boolean, number, number, number, number, number, number, number | null]>([
    ['T1', false, 2.5, 1.0, 1.2, 131, 3.8, 16, 15.81],
    ['T2', true, 2.5, 1.0, 1.2, 131, 3.8, 17, 17.14],
    ['T3', false, 6, 1.5, 1.5, 131, 3.5, 25, 24.71],
    ['T4', false, 6, 1.5, 1.5, 131, 2.2, 26, 26.15],
    ['T5', true, 6, 1.5, 1.5, 131, 2.2, 27, 27.48],
    ['T6', false, 12, 2.2, 1.8, 128, 2.0, 34, 34.22],
    ['T7', false, 12, 2.2, 2.8, 128, 2.0, 38, 37.93],
    ['T8', true, 12, 2.2, 2.8, 128, 2.0, 39, 39.26],
    ['T9', true, 4.2, 1.2, 1.9, 140, 3.5, 23, null],
    ['T10', false, 4.2, 1.2, 1.9, 140, 3.5, 21, null],
    ['T11', true, 4.2, 1.2, 1.9, 140, 1.5, 24, null],
  ])('%s: female %p, bili %p, INR %p, Cr %p, Na %p, Alb %p g/dL → %p', (_id, female, bili, inr, cr, na, alb, expected, raw) => {
    const result = okOf(meld3({ female, bilirubinMgDl: bili, inr, creatinineMgDl: cr, sodiumMmolL: na, albuminGDl: alb, dialysis: false }));
    expect(result.value).toBe(expected);
    if (raw !== null) expect(result.raw).toBeCloseTo(raw, 2);
  });
});

describe('MELD 3.0 bounds (§4.3)', () => {
  const t7 = { female: false, bilirubinMgDl: 12, inr: 2.2, sodiumMmolL: 128, albuminGDl: 2.0 };

  test('Cr max 3.0: Cr 3.5 ≡ Cr 3.0', () => {
    expect(okOf(meld3({ ...t7, creatinineMgDl: 3.5, dialysis: false })).raw).toBe(okOf(meld3({ ...t7, creatinineMgDl: 3.0, dialysis: false })).raw);
  });

  test('dialysis sets Cr to 3.0 (not MELD’s 4.0)', () => {
    const dialysis = okOf(meld3({ ...t7, creatinineMgDl: 1.2, dialysis: true }));
    expect(dialysis.components.creatinineMgDl).toBe(3.0);
    expect(dialysis.raw).toBe(okOf(meld3({ ...t7, creatinineMgDl: 3.0, dialysis: false })).raw);
  });

  test('albumin clamped to [1.5, 3.5] g/dL; Na to [125, 137]; labs floored at 1.0', () => {
    const base: Meld3Input = { female: true, bilirubinMgDl: 4.2, inr: 1.2, creatinineMgDl: 1.9, dialysis: false };
    const at = (extra: Partial<Meld3Input>) => okOf(meld3({ ...base, sodiumMmolL: 137, albuminGDl: 3.5, ...extra })).raw;
    expect(at({ albuminGDl: 1.0 })).toBe(at({ albuminGDl: 1.5 }));
    expect(at({ albuminGDl: 4.2 })).toBe(at({ albuminGDl: 3.5 }));
    expect(at({ sodiumMmolL: 120 })).toBe(at({ sodiumMmolL: 125 }));
    expect(at({ sodiumMmolL: 145 })).toBe(at({ sodiumMmolL: 137 }));
    expect(at({ bilirubinMgDl: 0.5, inr: 0.9, creatinineMgDl: 0.6 })).toBe(at({ bilirubinMgDl: 1, inr: 1, creatinineMgDl: 1 }));
  });

  test('result capped at 40', () => {
    expect(okOf(meld3({ female: true, bilirubinMgDl: 40, inr: 6, creatinineMgDl: 3, sodiumMmolL: 120, albuminGDl: 1.5, dialysis: false })).value).toBe(40);
  });

  test('CRF albumin in g/L converted with albuminGLToGDl gives T4 (22 g/L → 2.2 g/dL)', () => {
    expect(okOf(meld3({ female: false, bilirubinMgDl: 6, inr: 1.5, creatinineMgDl: 1.5, sodiumMmolL: 131, albuminGDl: albuminGLToGDl(22), dialysis: false })).value).toBe(26);
  });
});

describe('MELD 3.0 unknown on missing or mis-unit inputs (§0, §4.3 pitfall)', () => {
  const t1: Meld3Input = { female: false, bilirubinMgDl: 2.5, inr: 1.0, creatinineMgDl: 1.2, sodiumMmolL: 131, albuminGDl: 3.8, dialysis: false };

  test.each<[string, Partial<Meld3Input>, string[]]>([
    ['sex unknown (never assumed male)', { female: undefined }, ['female']],
    ['no albumin', { albuminGDl: null }, ['albuminGDl']],
    ['no sodium, no INR', { sodiumMmolL: undefined, inr: undefined }, ['inr', 'sodiumMmolL']],
    ['dialysis unknown, Cr below 3.0', { dialysis: undefined }, ['dialysis']],
  ])('%s → unknown %p', (_why, change, missing) => {
    expect(meld3({ ...t1, ...change })).toEqual({ status: 'unknown', missing });
  });

  test.each([
    ['35 g/L fed as g/dL (would silently clamp to 3.5)', 35],
    ['28 g/L fed as g/dL (would hide hypoalbuminaemia)', 28],
  ])('%s → unknown, albumin invalid', (_why, albuminGDl) => {
    const result = meld3({ ...t1, albuminGDl });
    expect(result.status).toBe('unknown');
    if (result.status === 'unknown') {
      expect(result.missing).toEqual(['albuminGDl']);
      expect(result.invalid?.[0]).toMatch(/g\/dL/);
    }
  });
});
