/**
 * Scores per visit: clinical-reference §4-§5 vectors through the CRF units of the trials
 * (NCT02812121 holds bilirubin in µmol/L, NCT05985863 in mg/dL), from the source value.
 */
import { DEFAULT_MAPPINGS_DIR, itemUnits, loadMappings, roundHalfUp } from '../../mapping';
import { scoresAtVisit, type ScoreContext, type VisitValue } from './scores-at-visits';

const mappings = loadMappings(DEFAULT_MAPPINGS_DIR);
const HBV = itemUnits(mappings, 'NCT02812121');

const ctx = (over: Partial<ScoreContext> = {}): ScoreContext => ({ female: false, dialysis: false, unrecordedDialysis: 'assume-none', ageYears: 50, units: HBV, ...over });

/** A NCT02812121 CRF bilirubin: the source mg/dL stored in µmol/L with one decimal, as the mapping does. */
const tbil = (mgDl: number): VisitValue => ({ item: 'TBIL', value: roundHalfUp(mgDl * 17.1, 1), unit: 'umol/L', source: { value: mgDl, unit: 'mg/dL', code: '1975-2' } });
const v = (item: string, value: number, unit: string): VisitValue => ({ item, value, unit, source: { value, unit } });
const row = (rows: ReturnType<typeof scoresAtVisit>, name: string) => rows.find((r) => r.name === name);

describe('MELD from the source precision, raw to 3 decimals as §4.1 tabulates', () => {
  test.each<[string, number, number, number, number, number]>([
    ['M1', 4.2, 1.2, 1.9, 20.039, 20],
    ['M6', 2.0, 1.5, 1.2, 15.336, 15],
    ['M8', 10.0, 2.0, 1.0, 22.897, 23],
    ['M9', 5.0, 1.5, 0.8, 17.055, 17],
    ['M10', 4.6, 1.5, 1.0, 16.740, 17],
    ['M11', 22, 3.0, 1.0, 30.419, 30],
    ['M12', 23, 3.0, 1.0, 30.587, 31],
    ['M13', 40, 6.0, 5.0, 53.709, 40],
  ])('%s: bili %p mg/dL (CRF umol/L), INR %p, Cr %p -> raw %p, MELD %p', (_id, bili, inr, cr, raw, value) => {
    const rows = scoresAtVisit('SCR', [tbil(bili), v('INR', inr, '{INR}'), v('CREA', cr, 'mg/dL')], ctx());
    expect(row(rows, 'MELD')).toEqual({ name: 'MELD', visit: 'SCR', value, raw, class: null });
  });

  test('M10 without the source: the rounded 78.7 umol/L converted back gives 16.742, not 16.740', () => {
    const { source: _dropped, ...noSource } = tbil(4.6);
    expect(row(scoresAtVisit('SCR', [noSource, v('INR', 1.5, '{INR}'), v('CREA', 1.0, 'mg/dL')], ctx()), 'MELD')?.raw).toBe(16.742);
  });

  test('M5 and M14 in SI units (creatinine in umol/L converted by the one converter)', () => {
    const m5 = scoresAtVisit('SCR', [v('TBIL', 54, 'umol/L'), v('INR', 2.0, '{INR}'), { item: 'CREA', value: 170, unit: 'umol/L' }], ctx());
    expect(row(m5, 'MELD')).toMatchObject({ value: 25, raw: 24.798 });
    const m14 = scoresAtVisit('SCR', [v('TBIL', 171, 'umol/L'), v('INR', 1.8, '{INR}'), { item: 'CREA', value: 97.24, unit: 'umol/L' }], ctx());
    expect(row(m14, 'MELD')).toMatchObject({ value: 23, raw: 22.629 });
  });
});

describe('unrecorded dialysis follows the trial file (defaults.meld.unrecordedDialysis)', () => {
  const labs = [tbil(22), v('INR', 3.0, '{INR}'), v('CREA', 1.0, 'mg/dL')];
  test.each<[ScoreContext['unrecordedDialysis'], boolean | null, number | undefined]>([
    ['assume-none', null, 30],
    ['unknown', null, undefined],
    ['unknown', false, 30],
    ['assume-none', true, 40],
  ])('%s with dialysis %p -> MELD %p', (mode, dialysis, value) => {
    expect(row(scoresAtVisit('SCR', labs, ctx({ unrecordedDialysis: mode, dialysis })), 'MELD')?.value).toBe(value);
  });
});

describe('WBC feeds CLIF-C ACLF (§5): OFs 8, age 50, WBC 10 -> 40.9', () => {
  const organs = (over: Partial<ScoreContext> = {}) => ctx({ units: itemUnits(mappings, 'NCT05985863'), encephalopathy: 'none', circulation: 1, respiration: 1, ...over });
  const labs = [v('TBIL', 13, 'mg/dL'), v('INR', 1.2, '{INR}'), v('CREA', 1.2, 'mg/dL')];

  test('CLIF-C OF 8, no ACLF (single liver failure, Cr < 1.5, no HE), CLIF-C ACLF 40.9', () => {
    const rows = scoresAtVisit('SCR', [...labs, v('WBC', 10, '10*9/L')], organs());
    expect(row(rows, 'CLIF-C OF')).toMatchObject({ value: 8 });
    expect(row(rows, 'EASL-CLIF ACLF grade')).toMatchObject({ value: 0, class: 'no-ACLF' });
    expect(row(rows, 'CLIF-C ACLF')).toEqual({ name: 'CLIF-C ACLF', visit: 'SCR', value: 40.9, raw: 40.906, class: null });
  });

  test.each<[string, VisitValue[], Partial<ScoreContext>]>([
    ['no WBC', labs, {}],
    ['no age', [...labs, v('WBC', 10, '10*9/L')], { ageYears: null }],
    ['no circulation band', [...labs, v('WBC', 10, '10*9/L')], { circulation: undefined }],
    ['no HE grade', [...labs, v('WBC', 10, '10*9/L')], { encephalopathy: undefined }],
  ])('%s: CLIF-C ACLF is not reported (unknown, never a number)', (_name, values, over) => {
    expect(row(scoresAtVisit('SCR', values, organs(over)), 'CLIF-C ACLF')).toBeUndefined();
  });

  test('§5 grading vectors: bili 13 + Cr 1.6 -> ACLF-1; bili 13 + INR 2.6 + Cr 2.2 -> ACLF-3', () => {
    const one = scoresAtVisit('SCR', [v('TBIL', 13, 'mg/dL'), v('INR', 1.2, '{INR}'), v('CREA', 1.6, 'mg/dL')], organs());
    expect(row(one, 'EASL-CLIF ACLF grade')?.class).toBe('ACLF-1');
    const three = scoresAtVisit('SCR', [v('TBIL', 13, 'mg/dL'), v('INR', 2.6, '{INR}'), v('CREA', 2.2, 'mg/dL')], organs());
    expect(row(three, 'EASL-CLIF ACLF grade')?.class).toBe('ACLF-3');
  });

  test('AARC from lactate (§4.6): (12, HE 0, 2.0, 1.0, 0.8) -> 7, grade I', () => {
    const rows = scoresAtVisit('SCR', [v('TBIL', 12, 'mg/dL'), v('INR', 2.0, '{INR}'), v('CREA', 0.8, 'mg/dL'), v('LACT', 1.0, 'mmol/L')], organs());
    expect(row(rows, 'AARC')).toMatchObject({ value: 7, class: 'I' });
  });
});
