import { okOf, bilirubinUmolLToMgDl } from './test-helpers';
import { SOFA_ORGANS_NOT_FROM_LABS, sofaCoagulation, sofaLabPartial, sofaLiver, sofaRenal } from './sofa';

describe('SOFA liver (mimic-code sofa.sql thresholds, clinical-reference §4.5)', () => {
  test.each<[number, number]>([
    [1.19, 0],
    [1.2, 1],
    [1.9, 1],
    [1.99, 1],
    [2.0, 2],
    [5.9, 2],
    [6.0, 3],
    [11.9, 3],
    [12.0, 4],
    [bilirubinUmolLToMgDl(205.2), 4], // 205.2 µmol/L ÷ 17.1 = 12.0 (§3)
    [bilirubinUmolLToMgDl(102.6), 3], // 102.6 µmol/L ÷ 17.1 = 6.0 (§3)
  ])('bilirubin %p mg/dL → %p', (bili, points) => {
    expect(okOf(sofaLiver(bili)).value).toBe(points);
  });
});

describe('SOFA coagulation', () => {
  test.each<[number, number]>([
    [150, 0],
    [149, 1],
    [100, 1],
    [99, 2],
    [50, 2],
    [49, 3],
    [20, 3],
    [19, 4],
  ])('platelets %p × 10^9/L → %p', (plt, points) => {
    expect(okOf(sofaCoagulation(plt)).value).toBe(points);
  });
});

describe('SOFA renal', () => {
  test.each<[number, number | undefined, number]>([
    [1.1, undefined, 0],
    [1.2, undefined, 1],
    [2.0, undefined, 2],
    [3.4, undefined, 2],
    [3.5, undefined, 3],
    [4.9, undefined, 3],
    [5.0, undefined, 4],
    [1.0, 499, 3],
    [1.0, 500, 0],
    [1.0, 199, 4],
    [3.6, 1500, 3],
  ])('creatinine %p mg/dL, urine %p mL/d → %p', (cr, uo, points) => {
    expect(okOf(sofaRenal({ creatinineMgDl: cr, urineOutputMlPerDay: uo })).value).toBe(points);
  });
});

describe('partial SOFA (liver + coagulation + renal only)', () => {
  test('sums the three and is labelled partial, naming the omitted organs', () => {
    const result = okOf(sofaLabPartial({ bilirubinMgDl: 13, platelets10e9L: 45, creatinineMgDl: 2.1 }));
    expect(result.value).toBe(4 + 3 + 2);
    expect(result.scope).toBe('partial');
    expect(result.maxValue).toBe(12);
    expect(result.omittedOrgans).toEqual(SOFA_ORGANS_NOT_FROM_LABS);
    expect(result.omittedOrgans).toEqual(['respiration', 'cardiovascular', 'cns']);
    expect(result.components).toEqual({ liver: 4, coagulation: 3, renal: 2, urineOutputUsed: false });
  });

  test('urine output raises the renal part when given', () => {
    expect(okOf(sofaLabPartial({ bilirubinMgDl: 1, platelets10e9L: 200, creatinineMgDl: 1, urineOutputMlPerDay: 150 })).value).toBe(4);
  });

  test.each<[string, Parameters<typeof sofaLabPartial>[0], string[]]>([
    ['no platelets', { bilirubinMgDl: 13, creatinineMgDl: 2.1 }, ['platelets10e9L']],
    ['nothing', {}, ['bilirubinMgDl', 'platelets10e9L', 'creatinineMgDl']],
    ['urine output alone is not enough', { bilirubinMgDl: 1, platelets10e9L: 200, urineOutputMlPerDay: 150 }, ['creatinineMgDl']],
  ])('%s → unknown %p (never imputed 0 as mimic-code does)', (_why, input, missing) => {
    expect(sofaLabPartial(input)).toEqual({ status: 'unknown', missing });
  });

  test('single sub-scores are unknown without their input', () => {
    expect(sofaLiver(undefined)).toEqual({ status: 'unknown', missing: ['bilirubinMgDl'] });
    expect(sofaCoagulation(null)).toEqual({ status: 'unknown', missing: ['platelets10e9L'] });
    expect(sofaRenal({ urineOutputMlPerDay: 100 })).toEqual({ status: 'unknown', missing: ['creatinineMgDl'] });
  });
});
