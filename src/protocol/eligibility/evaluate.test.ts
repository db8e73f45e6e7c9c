/**
 * Overall verdicts per shipped trial (eligible / ineligible / needs-review), and missing
 * data -> unknown, never met (clinical-reference §0, §1.1-§1.4).
 */
import { evaluateEligibility } from './evaluate';
import type { EligibilityFacts } from './types';
import { answer, condition, facts, favourableAnswers, finding, lab, trial } from './test-support';

const KEYS = ['NCT05985863', 'ESLD-UCMSC-DOSE', 'NCT02812121', 'NCT03945487'];
const BEFORE_ONSET = '2024-03-01';

/** NCT05985863: APASL labs, pre-onset PLT 120 and CTP <= 9 from labs alone (C3), every answer favourable. */
function aclfEligible(): EligibilityFacts {
  return facts({
    labs: [
      lab('TBIL', 6, 'mg/dL'),
      lab('INR', 1.6, '{INR}'),
      lab('PLT', 120, '10*9/L', BEFORE_ONSET),
      lab('TBIL', 1.5, 'mg/dL', BEFORE_ONSET),
      lab('ALB', 40, 'g/L', BEFORE_ONSET),
      lab('INR', 1.5, '{INR}', BEFORE_ONSET),
    ],
    answers: favourableAnswers(trial('NCT05985863')),
    liverFailureOnset: { date: '2024-05-01', ref: 'Observation/onset' },
  });
}

/** NCT02812121: TBIL 180 umol/L (>= 171), INR 1.6, MELD 21, HBsAg positive 200 days apart, every answer favourable. */
function hbvEligible(): EligibilityFacts {
  return facts({
    labs: [
      lab('TBIL', 180, 'umol/L'),
      lab('INR', 1.6, '{INR}'),
      lab('CREA', 1.0, 'mg/dL'),
      lab('HBSAG', 'POS', null, '2023-11-01'),
      lab('HBSAG', 'POS', null, '2024-05-19'),
    ],
    findings: [finding('dialysis', false)],
    answers: favourableAnswers(trial('NCT02812121')),
  });
}

const esldEligible = (): EligibilityFacts => facts({ answers: favourableAnswers(trial('ESLD-UCMSC-DOSE')) });

const run = (key: string, f: EligibilityFacts) => evaluateEligibility(trial(key), f);
const without = (f: EligibilityFacts, code: string): EligibilityFacts => ({ ...f, answers: (f.answers ?? []).filter((a) => a.codings[0].code !== code) });
const withAnswer = (f: EligibilityFacts, code: string, value: boolean): EligibilityFacts => ({ ...without(f, code), answers: [...(without(f, code).answers ?? []), answer(code, value)] });
const withLabs = (f: EligibilityFacts, ...labs: EligibilityFacts['labs']): EligibilityFacts => ({ ...f, labs: [...f.labs.filter((l) => !labs.some((n) => n.item === l.item && n.effective === l.effective)), ...labs] });

describe('overall per shipped trial', () => {
  test.each([
    ['NCT05985863', 'all criteria met', aclfEligible(), 'eligible'],
    ['NCT05985863', 'TBIL 85.0 umol/L (I2a)', withLabs(aclfEligible(), lab('TBIL', 85.0, 'umol/L')), 'ineligible'],
    ['NCT05985863', 'INR 1.49, PTA 40 (I2b)', withLabs(aclfEligible(), lab('INR', 1.49, '{INR}'), lab('PTA', 40, '%')), 'ineligible'],
    ['NCT05985863', 'aged 71 y 0 d (I1)', { ...aclfEligible(), patient: { birthDate: '1953-06-01' } }, 'ineligible'],
    ['NCT05985863', 'pre-onset PLT 45 (E2)', withLabs(aclfEligible(), lab('PLT', 45, '10*9/L', BEFORE_ONSET)), 'ineligible'],
    ['NCT05985863', 'malignancy answered yes (E3)', withAnswer(aclfEligible(), 'NCT05985863/E3', true), 'ineligible'],
    ['NCT05985863', 'consent not answered (I3)', without(aclfEligible(), 'NCT05985863/I3'), 'needs-review'],
    ['NCT05985863', 'no onset date (E2)', { ...aclfEligible(), liverFailureOnset: null }, 'needs-review'],
    ['ESLD-UCMSC-DOSE', 'all criteria met', esldEligible(), 'eligible'],
    ['ESLD-UCMSC-DOSE', 'aged 81 (I1)', { ...esldEligible(), patient: { birthDate: '1943-06-01' } }, 'ineligible'],
    ['ESLD-UCMSC-DOSE', 'liver transplant Condition (E2)', { ...without(esldEligible(), 'ESLD-UCMSC-DOSE/E2'), answers: [...(without(esldEligible(), 'ESLD-UCMSC-DOSE/E2').answers ?? []), condition('http://hl7.org/fhir/sid/icd-10', 'Z94.4', '2019-01-01')] }, 'ineligible'],
    ['ESLD-UCMSC-DOSE', 'HIV not answered (E5)', without(esldEligible(), 'ESLD-UCMSC-DOSE/E5'), 'needs-review'],
    ['NCT02812121', 'all criteria met', hbvEligible(), 'eligible'],
    ['NCT02812121', 'TBIL 170.9 umol/L (I1a)', withLabs(hbvEligible(), lab('TBIL', 170.9, 'umol/L')), 'ineligible'],
    ['NCT02812121', 'MELD 31 (I3a, M12 labs)', withLabs(hbvEligible(), lab('TBIL', 393.3, 'umol/L'), lab('INR', 3.0, '{INR}')), 'ineligible'],
    ['NCT02812121', 'recent negative HBsAg (I2)', withLabs(hbvEligible(), lab('HBSAG', 'NEG', null, '2024-05-25')), 'ineligible'],
    ['NCT02812121', 'a single positive HBsAg (I2)', { ...hbvEligible(), labs: hbvEligible().labs.filter((l) => l.effective !== '2023-11-01') }, 'needs-review'],
    ['NCT02812121', 'no creatinine (I3a)', { ...hbvEligible(), labs: hbvEligible().labs.filter((l) => l.item !== 'CREA') }, 'needs-review'],
    ['NCT03945487', 'no data', facts(), 'needs-review'],
    ['NCT03945487', 'placeholder answers favourable', facts({ answers: favourableAnswers(trial('NCT03945487')) }), 'needs-review'],
    ['NCT03945487', 'placeholder exclusion answered yes', facts({ answers: [answer('NCT03945487/E1', true)] }), 'ineligible'],
  ])('%s, %s -> %s', (key, _name, f, overall) => {
    expect(run(key, f).overall).toBe(overall);
  });

  test('the eligible NCT05985863 result, criterion by criterion in file order', () => {
    const result = run('NCT05985863', aclfEligible());
    expect(result).toMatchObject({ trial: 'NCT05985863', screeningDate: '2024-06-01', overall: 'eligible', notes: [] });
    expect(result.criteria.map((c) => c.id)).toEqual(trial('NCT05985863').eligibility.map((c) => c.id));
    for (const c of result.criteria) expect(c.verdict).toBe(c.type === 'inclusion' ? 'met' : 'not-met');
    expect(result.criteria.find((c) => c.id === 'E2')?.evidence[0]).toBe('Observation/onset');
  });

  test('NCT03945487 never auto-passes: favourable placeholder answers still need review, with a note', () => {
    const result = run('NCT03945487', facts({ answers: favourableAnswers(trial('NCT03945487')) }));
    expect(result.notes).toEqual([expect.stringContaining('not configured (trial unknowns: eligibility)')]);
  });
});

describe('missing data -> unknown, never met (§0)', () => {
  const empty = (): EligibilityFacts => facts({ patient: {}, labs: [], answers: [], findings: [] });

  test.each(KEYS)('%s with no data: every criterion unknown, needs-review', (key) => {
    const result = run(key, empty());
    expect(result.overall).toBe('needs-review');
    expect(result.criteria.length).toBeGreaterThan(0);
    for (const c of result.criteria) {
      expect(c.verdict).toBe('unknown');
      expect(c.reason).not.toBe('');
    }
  });

  test.each(KEYS)('%s with labs but no clinician answers: no judgement criterion is met or passed', (key) => {
    const f = { ...hbvEligible(), answers: [] };
    const result = run(key, f);
    expect(result.overall).not.toBe('eligible');
    for (const c of result.criteria.filter((x) => trial(key).eligibility.find((e) => e.id === x.id)?.rule.kind === 'judgement')) {
      expect(c.verdict).toBe('unknown');
    }
  });
});
