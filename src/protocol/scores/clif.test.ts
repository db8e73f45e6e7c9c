import { okOf, bilirubinUmolLToMgDl, creatinineUmolLToMgDl } from './test-helpers';
import { type ClifOfInput, clifCOf } from './clif-c-of';
import { clifCAclfScore, easlClifAclfGrade } from './easl-clif';

/** A patient with no organ dysfunction; vectors override the labs they name. */
const normal: ClifOfInput = {
  bilirubinMgDl: 1.0,
  creatinineMgDl: 1.0,
  renalReplacementTherapy: false,
  heGrade: 0,
  inr: 1.0,
  circulation: { kind: 'mean-arterial-pressure', mmHg: 85 },
  respiration: { kind: 'pao2-fio2', ratio: 400 },
};

describe('EASL-CLIF grading vectors, clinical-reference §5 (circulation and respiration passed as normal)', () => {
  test.each<[string, Partial<ClifOfInput>, string, string[]]>([
    ['§5 vector 1: bili 13, Cr 1.2, no HE', { bilirubinMgDl: 13, creatinineMgDl: 1.2, heGrade: 0 }, 'no-ACLF', ['liver']],
    ['§5 vector 2: bili 13, Cr 1.6', { bilirubinMgDl: 13, creatinineMgDl: 1.6 }, 'ACLF-1', ['liver']],
    ['§5 vector 3: Cr 2.1 alone', { creatinineMgDl: 2.1 }, 'ACLF-1', ['kidney']],
    ['§5 vector 4: bili 13 + INR 2.6', { bilirubinMgDl: 13, inr: 2.6 }, 'ACLF-2', ['liver', 'coagulation']],
    ['§5 vector 5: bili 13 + INR 2.6 + Cr 2.2', { bilirubinMgDl: 13, inr: 2.6, creatinineMgDl: 2.2 }, 'ACLF-3', ['liver', 'kidney', 'coagulation']],
  ])('%s → %p', (_id, labs, grade, failures) => {
    const result = okOf(easlClifAclfGrade({ ...normal, ...labs }));
    expect(result.class).toBe(grade);
    expect(result.components.organFailures).toEqual(failures);
  });
});

describe('EASL-CLIF grade modifiers (§5)', () => {
  test.each<[string, Partial<ClifOfInput>, string]>([
    ['no organ failure', {}, 'no-ACLF'],
    ['single liver failure + HE I–II → ACLF-1', { bilirubinMgDl: 13, heGrade: 2 }, 'ACLF-1'],
    ['single coagulation failure, Cr < 1.5, no HE → no ACLF', { inr: 2.5 }, 'no-ACLF'],
    ['single circulation failure + Cr 1.5 (132.6 µmol/L) → ACLF-1', { circulation: { kind: 'vasopressors' }, creatinineMgDl: creatinineUmolLToMgDl(132.6) }, 'ACLF-1'],
    ['single respiration failure + Cr 1.9 → ACLF-1', { respiration: { kind: 'spo2-fio2', ratio: 214 }, creatinineMgDl: 1.9 }, 'ACLF-1'],
    ['single brain failure, Cr < 1.5 → no ACLF', { heGrade: 3 }, 'no-ACLF'],
    ['single brain failure + Cr 1.5–1.9 → ACLF-1', { heGrade: 4, creatinineMgDl: 1.7 }, 'ACLF-1'],
    ['single kidney failure by RRT → ACLF-1', { renalReplacementTherapy: true }, 'ACLF-1'],
    ['kidney at exactly 2.0 (176.8 µmol/L) fails → ACLF-1', { creatinineMgDl: creatinineUmolLToMgDl(176.8) }, 'ACLF-1'],
    ['brain + kidney → ACLF-2', { heGrade: 3, creatinineMgDl: 2.5 }, 'ACLF-2'],
    ['four failures → ACLF-3', { bilirubinMgDl: 12, inr: 2.5, circulation: { kind: 'vasopressors' }, respiration: { kind: 'mechanical-ventilation-not-for-he' } }, 'ACLF-3'],
  ])('%s', (_why, change, grade) => {
    expect(okOf(easlClifAclfGrade({ ...normal, ...change })).class).toBe(grade);
  });
});

describe('CLIF-C OF subscores (§5; ≥ at exactly 12 / 3.5 / 2.5)', () => {
  const sub = (change: Partial<ClifOfInput>) => okOf(clifCOf({ ...normal, ...change })).components.subscores;
  test.each<[string, Partial<ClifOfInput>, keyof ReturnType<typeof sub>, number]>([
    ['bili 5.9 → 1', { bilirubinMgDl: 5.9 }, 'liver', 1],
    ['bili 6.0 (102.6 µmol/L) → 2', { bilirubinMgDl: bilirubinUmolLToMgDl(102.6) }, 'liver', 2],
    ['bili 11.9 → 2', { bilirubinMgDl: 11.9 }, 'liver', 2],
    ['bili exactly 12 (205.2 µmol/L) → 3', { bilirubinMgDl: bilirubinUmolLToMgDl(205.2) }, 'liver', 3],
    ['Cr 1.9 → 1', { creatinineMgDl: 1.9 }, 'kidney', 1],
    ['Cr 2.0 → 2', { creatinineMgDl: 2.0 }, 'kidney', 2],
    ['Cr 3.49 → 2', { creatinineMgDl: 3.49 }, 'kidney', 2],
    ['Cr exactly 3.5 → 3', { creatinineMgDl: 3.5 }, 'kidney', 3],
    ['RRT → 3', { renalReplacementTherapy: true }, 'kidney', 3],
    ['HE 0 → 1', { heGrade: 0 }, 'brain', 1],
    ['HE 1 → 2', { heGrade: 1 }, 'brain', 2],
    ['HE 2 → 2', { heGrade: 2 }, 'brain', 2],
    ['HE 3 → 3', { heGrade: 3 }, 'brain', 3],
    ['HE 4 → 3', { heGrade: 4 }, 'brain', 3],
    ['INR 1.99 → 1', { inr: 1.99 }, 'coagulation', 1],
    ['INR 2.0 → 2', { inr: 2.0 }, 'coagulation', 2],
    ['INR exactly 2.5 → 3', { inr: 2.5 }, 'coagulation', 3],
    ['MAP 70 → 1', { circulation: { kind: 'mean-arterial-pressure', mmHg: 70 } }, 'circulation', 1],
    ['MAP 69 → 2', { circulation: { kind: 'mean-arterial-pressure', mmHg: 69 } }, 'circulation', 2],
    ['vasopressors → 3', { circulation: { kind: 'vasopressors' } }, 'circulation', 3],
    ['PaO2/FiO2 301 → 1', { respiration: { kind: 'pao2-fio2', ratio: 301 } }, 'respiration', 1],
    ['PaO2/FiO2 300 → 2', { respiration: { kind: 'pao2-fio2', ratio: 300 } }, 'respiration', 2],
    ['PaO2/FiO2 201 → 2', { respiration: { kind: 'pao2-fio2', ratio: 201 } }, 'respiration', 2],
    ['PaO2/FiO2 200 → 3', { respiration: { kind: 'pao2-fio2', ratio: 200 } }, 'respiration', 3],
    ['SpO2/FiO2 358 → 1', { respiration: { kind: 'spo2-fio2', ratio: 358 } }, 'respiration', 1],
    ['SpO2/FiO2 357 → 2', { respiration: { kind: 'spo2-fio2', ratio: 357 } }, 'respiration', 2],
    ['SpO2/FiO2 215 → 2', { respiration: { kind: 'spo2-fio2', ratio: 215 } }, 'respiration', 2],
    ['SpO2/FiO2 214 → 3', { respiration: { kind: 'spo2-fio2', ratio: 214 } }, 'respiration', 3],
    ['ventilation not for HE → 3', { respiration: { kind: 'mechanical-ventilation-not-for-he' } }, 'respiration', 3],
  ])('%s', (_why, change, organ, points) => {
    expect(sub(change)[organ]).toBe(points);
  });

  test('totals range 6–18', () => {
    expect(okOf(clifCOf(normal)).value).toBe(6);
    const worst: ClifOfInput = {
      bilirubinMgDl: 20,
      creatinineMgDl: 4,
      heGrade: 4,
      inr: 3,
      circulation: { kind: 'vasopressors' },
      respiration: { kind: 'pao2-fio2', ratio: 150 },
    };
    expect(okOf(clifCOf(worst)).value).toBe(18);
  });

  test('kidney fails at Cr ≥ 2.0 (subscore 2); other organs only at subscore 3', () => {
    expect(okOf(clifCOf({ ...normal, creatinineMgDl: 2.0 })).components.organFailures).toEqual(['kidney']);
    expect(okOf(clifCOf({ ...normal, bilirubinMgDl: 11.9, inr: 2.4, heGrade: 2 })).components.organFailures).toEqual([]);
  });
});

describe('CLIF-C OF / EASL-CLIF unknown on missing organ inputs (§0: absent is not "no failure")', () => {
  test.each<[string, Partial<ClifOfInput>, string[]]>([
    ['no circulation', { circulation: undefined }, ['circulation']],
    ['no respiration', { respiration: null }, ['respiration']],
    ['MAP kind without a value', { circulation: { kind: 'mean-arterial-pressure', mmHg: null } }, ['circulation.mmHg']],
    ['no HE grade', { heGrade: undefined }, ['heGrade']],
    ['RRT unknown with Cr < 3.5', { renalReplacementTherapy: undefined }, ['renalReplacementTherapy']],
    ['no labs', { bilirubinMgDl: undefined, creatinineMgDl: undefined, inr: undefined }, ['bilirubinMgDl', 'creatinineMgDl', 'inr']],
  ])('%s → unknown %p', (_why, change, missing) => {
    expect(clifCOf({ ...normal, ...change })).toEqual({ status: 'unknown', missing });
    expect(easlClifAclfGrade({ ...normal, ...change })).toEqual({ status: 'unknown', missing });
  });

  test('RRT may be absent when Cr ≥ 3.5 (cannot change the subscore or the failure)', () => {
    expect(okOf(clifCOf({ ...normal, creatinineMgDl: 3.6, renalReplacementTherapy: undefined })).components.subscores.kidney).toBe(3);
  });

  test('even a grade the missing organ could not change stays unknown (kept simple and safe)', () => {
    const threeFailures = { ...normal, bilirubinMgDl: 13, inr: 2.6, creatinineMgDl: 2.2, respiration: undefined };
    expect(easlClifAclfGrade(threeFailures)).toEqual({ status: 'unknown', missing: ['respiration'] });
  });
});

describe('CLIF-C ACLF score (§5)', () => {
  test('§5 example: OFs 8, age 50, WBC 10 → 40.9 (one decimal, half up)', () => {
    const result = okOf(clifCAclfScore({ clifCOf: 8, ageYears: 50, wbc10e9L: 10 }));
    expect(result.raw).toBeCloseTo(40.906, 3);
    expect(result.value).toBe(40.9);
  });

  test('the grade exposes the CLIF-C OF total to feed the score', () => {
    const grade = okOf(easlClifAclfGrade({ ...normal, bilirubinMgDl: 13, inr: 2.6 }));
    expect(grade.components.clifCOf).toBe(10);
  });

  test.each<[string, Parameters<typeof clifCAclfScore>[0], string[]]>([
    ['no WBC', { clifCOf: 8, ageYears: 50 }, ['wbc10e9L']],
    ['nothing', {}, ['clifCOf', 'ageYears', 'wbc10e9L']],
  ])('%s → unknown %p', (_why, input, missing) => {
    expect(clifCAclfScore(input)).toEqual({ status: 'unknown', missing });
  });

  test.each<[string, Parameters<typeof clifCAclfScore>[0], string]>([
    ['WBC 0 (ln undefined)', { clifCOf: 8, ageYears: 50, wbc10e9L: 0 }, 'wbc10e9L'],
    ['CLIF-C OF outside 6–18', { clifCOf: 5, ageYears: 50, wbc10e9L: 10 }, 'clifCOf'],
  ])('%s → unknown, invalid', (_why, input, name) => {
    expect(clifCAclfScore(input)).toMatchObject({ status: 'unknown', missing: [name] });
  });
});
