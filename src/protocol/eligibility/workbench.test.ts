/**
 * Workbench answers to judgement criteria (README "Clinical API"): the answer
 * decides unless a later EHR record does; not-applicable never blocks.
 */
import { evaluateEligibility } from './evaluate';
import { answer, criterion, facts, favourableAnswers, trial, unitsOf } from './test-support';
import type { WorkbenchAnswer } from './types';
import { NOT_APPLICABLE_REASON } from './workbench';

const ACLF = 'NCT05985863';
/** 2024-06-02 09:00 local: after the test-support answers of 2024-05-30 08:00 local. */
const LATER = '2024-06-02T01:00:00.000Z';
/** 2024-05-29 local: before them. */
const EARLIER = '2024-05-29T01:00:00.000Z';

const wb = (criterionId: string, a: WorkbenchAnswer['answer'], at = LATER): WorkbenchAnswer => ({ criterion: criterionId, answer: a, at, by: 'ivan' });

describe('a workbench answer decides a judgement criterion', () => {
  test.each([
    ['I3', 'met', 'met'],
    ['I3', 'not-met', 'not-met'],
    ['E3', 'met', 'met'],
    ['E3', 'not-met', 'not-met'],
  ] as const)('%s answered %s -> %s', (id, a, verdict) => {
    const c = criterion(ACLF, facts({ clinicianAnswers: [wb(id, a)] }), id);
    expect(c.verdict).toBe(verdict);
    expect(c.reason).toBe(`investigator answered ${a === 'met' ? 'yes' : 'no'} on 2024-06-02 (ivan) (clinical-reference §1.1 ${id})`);
  });

  test.each([
    ['I3', 'met'],
    ['E7', 'not-met'],
  ])('not applicable: %s (an %s) does not block', (id, verdict) => {
    const c = criterion(ACLF, facts({ clinicianAnswers: [wb(id, 'not-applicable')] }), id);
    expect(c.verdict).toBe(verdict);
    expect(c.reason).toBe(NOT_APPLICABLE_REASON);
    expect(c.evidence).toEqual([]);
  });

  test('a computable criterion ignores an answer (data decide it)', () => {
    const c = criterion(ACLF, facts({ clinicianAnswers: [wb('I2a', 'met')] }), 'I2a');
    expect(c.verdict).toBe('unknown');
    expect(c.reason).toMatch(/^no TBIL result/);
  });
});

describe('EHR answer and workbench answer: the later wins', () => {
  test('a workbench answer after the EHR answer wins', () => {
    const c = criterion(ACLF, facts({ answers: [answer('NCT05985863/E3', true)], clinicianAnswers: [wb('E3', 'not-met', LATER)] }), 'E3');
    expect(c.verdict).toBe('not-met');
    expect(c.reason).toMatch(/^investigator answered no on 2024-06-02/);
  });

  test('an EHR answer after the workbench answer wins, and says so', () => {
    const c = criterion(ACLF, facts({ answers: [answer('NCT05985863/E3', true)], clinicianAnswers: [wb('E3', 'not-met', EARLIER)] }), 'E3');
    expect(c.verdict).toBe('met');
    expect(c.reason).toContain("recorded after the investigator's answer of 2024-05-29");
    expect(c.evidence).toEqual(['Observation/ans-NCT05985863/E3']);
  });

  test('a date-only EHR answer the same local day as the workbench answer: the workbench answer (timed) is later', () => {
    const c = criterion(ACLF, facts({ answers: [answer('NCT05985863/E3', true, { date: '2024-06-02' })], clinicianAnswers: [wb('E3', 'not-met', LATER)] }), 'E3');
    expect(c.verdict).toBe('not-met');
  });
});

describe('overall verdict', () => {
  const t = trial(ACLF);
  const judgement = t.eligibility.filter((c) => c.rule.kind === 'judgement');
  const favourable = (c: (typeof judgement)[number]) => wb(c.id, c.type === 'inclusion' ? 'met' : 'not-met');

  test('answering every judgement criterion leaves only the computable ones deciding', () => {
    const withAnswers = evaluateEligibility(t, facts({ units: unitsOf(ACLF), clinicianAnswers: judgement.map(favourable) }));
    const viaEhr = evaluateEligibility(t, facts({ units: unitsOf(ACLF), answers: favourableAnswers(t) }));
    for (const c of judgement) expect(withAnswers.criteria.find((x) => x.id === c.id)?.verdict).toBe(viaEhr.criteria.find((x) => x.id === c.id)?.verdict);
  });

  test('a not-met inclusion makes the subject ineligible', () => {
    const answers = judgement.map((c) => (c.id === 'I3' ? wb('I3', 'not-met') : favourable(c)));
    expect(evaluateEligibility(t, facts({ units: unitsOf(ACLF), clinicianAnswers: answers })).overall).toBe('ineligible');
  });
});
