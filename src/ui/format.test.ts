import { actorLabel, auditValue, displayNumber, displayQuantity, displayUnit, entityLabel, readableCriterionReason, readableReason } from './format';

describe('units and numbers for reading', () => {
  test.each([
    ['mg/dL', 'mg/dL'], ['10*9/L', '10⁹/L'], ['10*3/uL', '10³/µL'], ['umol/L', 'µmol/L'], ['{cells}', 'cells'], ['{INR}', 'INR'],
    ['[IU]/mL', 'IU/mL'], ['U/L', 'U/L'], ['%', '%'], ['mmol/L', 'mmol/L'], ['', ''],
  ])('%s → %s', (ucum, shown) => expect(displayUnit(ucum)).toBe(shown));
  test.each([
    [150000000, '1.5 × 10⁸'], [1e9, '10⁹'], [2.5e6, '2.5 × 10⁶'], [999999, '999999'], [6.2, '6.2'], [-3e7, '-3 × 10⁷'],
  ])('%p → %s', (n, shown) => expect(displayNumber(n)).toBe(shown));
  test('a dose with its unit', () => expect(displayQuantity(1.5e8, '{cells}')).toBe('1.5 × 10⁸ cells'));
});

describe('audit rows in words', () => {
  test.each([
    [{ unit: 'mg/dL', value: 6.2, status: 'auto' }, '6.2 mg/dL (auto)'],
    [{ unit: null, value: 'positive', status: 'pending-re-review' }, 'positive (pending-re-review)'],
    [{ value: 85.5, unit: 'umol/L', convertedTo: { value: 5, unit: 'mg/dL' } }, '85.5 µmol/L, stored as 5 mg/dL'],
    [{ status: 'resolved', crfValueId: 9 }, 'resolved (value #9)'],
    [{ meaning: 'reviewed and approved', printedName: 'I', valueIds: [1, 2, 3] }, '“reviewed and approved”, 3 values'],
    ['open', 'open'], [null, '—'],
  ])('%j → %s', (v, shown) => expect(auditValue(v)).toBe(shown));
  test('entities', () => {
    expect(entityLabel({ entity: 'crf_value', entityId: '1', field: 'LB.TBIL' })).toBe('Value LB.TBIL (#1)');
    expect(entityLabel({ entity: 'signature', entityId: '4', field: 'W1' })).toBe('Signature of visit W1 (#4)');
    expect(entityLabel({ entity: 'eligibility_answer', entityId: 'S/I3', field: 'I3' })).toBe('Answer to I3');
  });
  test('the pipeline is automatic', () => {
    expect(actorLabel({ actor: 'trialbridge', actorName: 'trialbridge', actorRole: 'system' })).toEqual({ name: 'trialbridge', id: 'automatic' });
    expect(actorLabel({ actor: 'dora', actorName: 'Dora Data', actorRole: 'data-manager' })).toEqual({ name: 'Dora Data', id: 'dora' });
  });
  test.each([
    ['correct', 'source-document-verified: checked against the lab report', { label: 'Verified against the source document', code: 'source-document-verified', note: 'checked against the lab report' }],
    ['reject', 'duplicate', { label: 'Duplicate of another value', code: 'duplicate', note: null }],
    ['dismiss', 'duplicate: twice', { label: 'Duplicate of another item or value', code: 'duplicate', note: 'twice' }],
    ['accept', 'looks fine', { label: null, code: null, note: 'looks fine' }],
    ['accept', 'visit W1', { label: null, code: null, note: 'visit W1' }],
    ['correct', null, { label: null, code: null, note: null }],
  ])('%s %p', (action, reason, parts) => expect(readableReason(action, reason)).toEqual(parts));
});

describe('eligibility reasons for investigators', () => {
  test('no answer: the internal code systems become EHR answer and diagnosis, the citation apart', () => {
    const r = readableCriterionReason('clinician judgement "Previous liver transplant?": no decisive answer recorded (Observation urn:trialbridge:eligibility|NCT05985863/E4 or Condition http://hl7.org/fhir/sid/icd-10-cm|Z94.4) (clinical-reference §1.2 E4)');
    expect(r).toEqual({ text: 'no answer yet (investigator answer, EHR answer or EHR diagnosis ICD-10 Z94.4)', cite: 'clinical-reference §1.2 E4' });
  });
  test('other answers of trialbridge\'s code system are EHR answers', () => {
    expect(readableCriterionReason('date of onset of liver failure not recorded (urn:trialbridge:eligibility|NCT05985863/ONSET); screening values do not decide (clinical-reference §1.1 E2)').text)
      .toBe('date of onset of liver failure not recorded (expected as an EHR answer); screening values do not decide');
  });
  test('an answer only', () => {
    expect(readableCriterionReason('clinician judgement "Consent?": no decisive answer recorded (Observation urn:trialbridge:eligibility|T/I3) (clinical-reference §1.1 I3)').text).toBe('no answer yet (investigator answer or EHR answer)');
  });
  test('computed reasons keep their words', () => {
    expect(readableCriterionReason('TBIL 6.2 mg/dL on 2024-02-28 >= 5.0 mg/dL (clinical-reference §1.1 I2a)')).toEqual({ text: 'TBIL 6.2 mg/dL on 2024-02-28 >= 5.0 mg/dL', cite: 'clinical-reference §1.1 I2a' });
    expect(readableCriterionReason(undefined)).toEqual({ text: 'not evaluated yet', cite: null });
  });
});
