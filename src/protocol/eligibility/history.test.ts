/**
 * Age (clinical-reference §0 Age, §7.7), HBsAg > 6 months (§1.3 I2, §7.6) and judgement
 * criteria answered by clinicians, on the shipped trial files.
 */
import { addDays } from '../schedule';
import type { CodedFact, LabFact } from './types';
import { answer, condition, criterion, facts, lab } from './test-support';

const ACLF = 'NCT05985863';
const HBV = 'NCT02812121';
const ESLD = 'ESLD-UCMSC-DOSE';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';

describe('age in completed years on the screening date (2024-06-01), inclusive', () => {
  test.each([
    [ACLF, 'I1', '1953-06-02', 'met'], // 70 y 364 d
    [ACLF, 'I1', '1953-06-01', 'not-met'], // 71 y 0 d
    [ACLF, 'I1', '2006-06-01', 'met'], // 18 y 0 d
    [ACLF, 'I1', '2006-06-02', 'not-met'], // 17 y 364 d
    [ESLD, 'I1', '1943-06-02', 'met'], // 80 y 364 d
    [ESLD, 'I1', '1943-06-01', 'not-met'], // 81 y
    [HBV, 'I3b', '1958-06-02', 'met'], // 65 y 364 d
    [HBV, 'I3b', '1958-06-01', 'not-met'], // 66 y
    [ACLF, 'I1', '1980', 'met'], // partial: 43 or 44
    [ACLF, 'I1', '1953', 'unknown'], // partial: 70 or 71
    [ACLF, 'I1', '1953-07', 'met'], // July 1953: 70
    [ACLF, 'I1', '1953-05', 'not-met'], // May 1953: 71
    [ACLF, 'I1', '1980-02-30', 'unknown'],
    [ACLF, 'I1', '2025-01-01', 'unknown'],
    [ACLF, 'I1', null, 'unknown'],
  ])('%s %s born %p -> %s', (key, id, birthDate, verdict) => {
    expect(criterion(key, facts({ patient: { birthDate, ref: 'Patient/p1' } }), id).verdict).toBe(verdict);
  });

  test.each([
    ['2022-02-28', 'not-met'],
    ['2022-03-01', 'met'],
    ['2024-02-29', 'met'],
  ])('born 29 Feb 2004, screened %s -> %s (18 on 1 March in common years)', (screeningDate, verdict) => {
    expect(criterion(ACLF, facts({ screeningDate, patient: { birthDate: '2004-02-29' } }), 'I1').verdict).toBe(verdict);
  });

  test('the reason gives the age, not the birth date', () => {
    const c = criterion(ACLF, facts({ patient: { birthDate: '1953-06-02', ref: 'Patient/p1' } }), 'I1');
    expect(c.reason).toBe('age 70 completed years on 2024-06-01: within 18-70 years (clinical-reference §1.1 I1)');
    expect(c.evidence).toEqual(['Patient/p1']);
  });
});

describe('HBsAg positive > 6 months (NCT02812121 I2)', () => {
  const D0 = '2023-06-01';
  const hbsag = (value: string, date: string): LabFact => lab('HBSAG', value, null, date);
  const i2 = (labs: LabFact[], answers: CodedFact[] = []) => criterion(HBV, facts({ labs, answers }), 'I2');

  test.each([
    ['two positives 183 days apart', [hbsag('POS', D0), hbsag('POS', addDays(D0, 183))], 'met'],
    ['two positives 182 days apart', [hbsag('POS', D0), hbsag('POS', addDays(D0, 182))], 'unknown'],
    ['a single positive', [hbsag('POS', D0)], 'unknown'],
    ['no result', [], 'unknown'],
    ['a negative between the positives', [hbsag('POS', '2022-01-01'), hbsag('NEG', '2023-01-01'), hbsag('POS', '2024-05-01')], 'unknown'],
    ['positives after an old negative', [hbsag('NEG', '2021-01-01'), hbsag('POS', '2022-01-01'), hbsag('POS', '2024-05-01')], 'met'],
    ['latest negative 31 days before screening', [hbsag('POS', '2022-01-01'), hbsag('POS', '2023-01-01'), hbsag('NEG', '2024-05-01')], 'not-met'],
    ['only a negative 2 years ago', [hbsag('NEG', '2022-06-01')], 'unknown'],
    ['a positive after the screening date', [hbsag('POS', D0), hbsag('POS', '2024-06-10')], 'unknown'],
    ['lower-case pos (CRF codes are POS/NEG)', [hbsag('pos', D0), hbsag('pos', '2024-05-01')], 'met'],
  ])('%s -> %s', (_name, labs, verdict) => {
    expect(i2(labs).verdict).toBe(verdict);
  });

  test.each([
    ['B18.1 onset 213 days before', condition(ICD10, 'B18.1', '2023-11-01'), 'met'],
    ['B18.0 onset 183 days before', condition(ICD10, 'B18.0', addDays('2024-06-01', -183)), 'met'],
    ['B18.1 onset 182 days before', condition(ICD10, 'B18.1', addDays('2024-06-01', -182)), 'unknown'],
    ['B18.1 without onset', condition(ICD10, 'B18.1', null), 'unknown'],
    ['SNOMED 61977001 [K]', condition('http://snomed.info/sct', '61977001', '2020-01-01'), 'met'],
    ['B18.1 refuted', condition(ICD10, 'B18.1', '2020-01-01', { verificationStatus: 'refuted' }), 'unknown'],
    ['B18.1 provisional', condition(ICD10, 'B18.1', '2020-01-01', { verificationStatus: 'provisional' }), 'unknown'],
    ['acute hepatitis B (B16.9) is not chronic', condition(ICD10, 'B16.9', '2020-01-01'), 'unknown'],
  ])('%s -> %s', (_name, c, verdict) => {
    expect(i2([], [c]).verdict).toBe(verdict);
  });

  test('a chronic HBV Condition with a single positive result -> met', () => {
    expect(i2([hbsag('POS', '2024-05-30')], [condition(ICD10, 'B18.1', '2020-01-01')]).verdict).toBe('met');
  });

  test('a chronic HBV Condition contradicted by a recent negative -> unknown, for review', () => {
    const c = i2([hbsag('NEG', '2024-05-01')], [condition(ICD10, 'B18.1', '2020-01-01')]);
    expect(c.verdict).toBe('unknown');
    expect(c.reason).toContain('conflicts with a negative HBsAg on 2024-05-01');
  });

  test('reasons and evidence', () => {
    const first = hbsag('POS', D0);
    const second = hbsag('POS', addDays(D0, 183));
    const c = i2([first, second]);
    expect(c.reason).toBe('positive HBsAg 2023-06-01 and 2023-12-01, 183 days apart (>= 183 days) (clinical-reference §1.3 I2)');
    expect(c.evidence).toEqual([first.ref, second.ref]);
    expect(i2([hbsag('POS', D0)]).reason).toContain('a single positive HBsAg (2023-06-01)');
  });
});

describe('judgement criteria: decided only by an answer the trial file names', () => {
  const LOINC = 'http://loinc.org';
  const coded = (code: string) => ({ kind: 'coding' as const, codings: [{ system: LOINC, code }] });

  test.each([
    ['no answer', [], 'unknown'],
    ['yes', [answer('NCT05985863/I3', true)], 'met'],
    ['no', [answer('NCT05985863/I3', false)], 'not-met'],
    ['LOINC LA33-6 Yes', [answer('NCT05985863/I3', true, { value: coded('LA33-6') })], 'met'],
    ['LOINC LA32-8 No', [answer('NCT05985863/I3', true, { value: coded('LA32-8') })], 'not-met'],
    ['LOINC LA4489-6 Unknown', [answer('NCT05985863/I3', true, { value: coded('LA4489-6') })], 'unknown'],
    ['no value', [answer('NCT05985863/I3', true, { value: null })], 'unknown'],
    ['preliminary', [answer('NCT05985863/I3', true, { status: 'preliminary' })], 'unknown'],
    ['entered-in-error', [answer('NCT05985863/I3', true, { status: 'entered-in-error' })], 'unknown'],
    ['another trial\'s question', [answer('ESLD-UCMSC-DOSE/I3', true)], 'unknown'],
    ['a later no overrides an earlier yes', [answer('NCT05985863/I3', true, { date: '2024-05-20' }), answer('NCT05985863/I3', false, { date: '2024-05-30' })], 'not-met'],
    ['yes and no at the same time', [answer('NCT05985863/I3', true), answer('NCT05985863/I3', false, { ref: 'Observation/other' })], 'unknown'],
  ])('I3 consent, %s -> %s', (_name, answers, verdict) => {
    expect(criterion(ACLF, facts({ answers }), 'I3').verdict).toBe(verdict);
  });

  test.each([
    ['active Z94.4 Condition', condition(ICD10, 'Z94.4', '2015-01-01'), 'met'],
    ['refuted Z94.4 Condition', condition(ICD10, 'Z94.4', null, { verificationStatus: 'refuted' }), 'not-met'],
    ['resolved Z94.4 Condition', condition(ICD10, 'Z94.4', '2015-01-01', { status: 'resolved' }), 'unknown'],
    ['active Z94.4 Condition but the answer says no', [condition(ICD10, 'Z94.4', '2015-01-01'), answer('NCT05985863/E4', false)], 'unknown'],
    ['active Z94.4 Condition and the answer says yes', [condition(ICD10, 'Z94.4', '2015-01-01'), answer('NCT05985863/E4', true)], 'met'],
    ['Z94.4 as an Observation (not the named resource type)', { ...condition(ICD10, 'Z94.4', null), resourceType: 'Observation' as const }, 'unknown'],
  ])('E4 previous liver transplant, %s -> %s', (_name, fact, verdict) => {
    expect(criterion(ACLF, facts({ answers: ([] as CodedFact[]).concat(fact) }), 'E4').verdict).toBe(verdict);
  });

  test('reason quotes the question and the answer', () => {
    const c = criterion(ACLF, facts({ answers: [answer('NCT05985863/E3', false)] }), 'E3');
    expect(c.reason).toBe('clinician judgement "Liver cancer or other malignancy?": answered no on 2024-05-30 (clinical-reference §1.1 E3)');
    expect(c.evidence).toEqual(['Observation/ans-NCT05985863/E3']);
  });
});
