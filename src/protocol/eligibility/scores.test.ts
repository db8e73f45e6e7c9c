/**
 * MELD 17-30 on the UNOS integer MELD (NCT02812121 I3a, clinical-reference §1.3, §4.1
 * vectors M6-M14), including the dialysis input of the score library.
 */
import { BILIRUBIN_UMOL_L_PER_MG_DL } from '../scores';
import type { LabFact } from './types';
import { criterion, facts, finding, lab } from './test-support';

const HBV = 'NCT02812121';

/** The CRF of NCT02812121 holds TBIL in umol/L (§7.10): the vectors' mg/dL x 17.1. */
function meldLabs(biliMgDl: number, inr: number, creaMgDl: number): LabFact[] {
  return [lab('TBIL', biliMgDl * BILIRUBIN_UMOL_L_PER_MG_DL, 'umol/L'), lab('INR', inr, '{INR}'), lab('CREA', creaMgDl, 'mg/dL')];
}

describe('MELD 17-30, integer MELD, dialysis recorded as no (§4.1)', () => {
  test.each([
    ['M6', 2.0, 1.5, 1.2, 15, 'not-met'],
    ['M9', 5.0, 1.5, 0.8, 17, 'met'],
    ['M10', 4.6, 1.5, 1.0, 17, 'met'], // raw 16.74 -> 17
    ['M8', 10.0, 2.0, 1.0, 23, 'met'],
    ['M11', 22, 3.0, 1.0, 30, 'met'], // raw 30.42 -> 30
    ['M12', 23, 3.0, 1.0, 31, 'not-met'], // raw 30.59 -> 31
  ])('%s: bili %p, INR %p, Cr %p -> MELD %p, %s', (_id, bili, inr, cr, meld, verdict) => {
    const c = criterion(HBV, facts({ labs: meldLabs(bili, inr, cr), findings: [finding('dialysis', false)] }), 'I3a');
    expect(c.verdict).toBe(verdict);
    expect(c.reason).toMatch(new RegExp(`^MELD ${meld} \\(raw `));
  });

  test('M10 reason: integer, raw, every input and the section', () => {
    const c = criterion(HBV, facts({ labs: meldLabs(4.6, 1.5, 1.0), findings: [finding('dialysis', false)] }), 'I3a');
    expect(c.reason).toBe(
      'MELD 17 (raw 16.74) from TBIL 78.66 umol/L on 2024-05-30 = 4.60 mg/dL, INR 1.5 on 2024-05-30, CREA 1.0 mg/dL on 2024-05-30, dialysis false: within 17-30 (clinical-reference §1.3 I3a)',
    );
    expect(c.evidence).toHaveLength(4);
  });

  test('M14: SI inputs (TBIL 171 umol/L, creatinine 97.24 umol/L) -> 23, met', () => {
    const labs = [lab('TBIL', 171, 'umol/L'), lab('INR', 1.8, '{INR}'), lab('CREA', 97.24, 'umol/L')];
    const c = criterion(HBV, facts({ labs, findings: [finding('dialysis', false)] }), 'I3a');
    expect(c.verdict).toBe('met');
    expect(c.reason).toMatch(/^MELD 23 /);
  });
});

describe('MELD when dialysis is not recorded: decided only if both cases agree', () => {
  test.each([
    ['M10', 4.6, 1.5, 1.0, 'met'], // 17 without dialysis, 30 with: in range either way
    ['M11', 22, 3.0, 1.0, 'unknown'], // 30 without, 40 with
    ['M12', 23, 3.0, 1.0, 'not-met'], // 31 without, 40 with
    ['M6', 2.0, 1.5, 1.2, 'unknown'], // 15 without, 28 with
  ])('%s -> %s', (_id, bili, inr, cr, verdict) => {
    const c = criterion(HBV, facts({ labs: meldLabs(bili, inr, cr) }), 'I3a');
    expect(c.verdict).toBe(verdict);
    expect(c.reason).toContain('dialysis not recorded');
  });

  test.each([
    ['M10', 4.6, 1.5, 1.0, 'met'], // creatinine set to 4.0 -> 30
    ['M11', 22, 3.0, 1.0, 'not-met'], // -> 40 (cap)
  ])('%s with dialysis -> %s', (_id, bili, inr, cr, verdict) => {
    expect(criterion(HBV, facts({ labs: meldLabs(bili, inr, cr), findings: [finding('dialysis', true)] }), 'I3a').verdict).toBe(verdict);
  });

  test('a dialysis finding outside the screening window does not count', () => {
    const c = criterion(HBV, facts({ labs: meldLabs(22, 3.0, 1.0), findings: [finding('dialysis', false, '2024-05-01')] }), 'I3a');
    expect(c.verdict).toBe('unknown');
  });
});

describe('MELD inputs missing -> unknown, never met (§0)', () => {
  test.each([
    ['TBIL', [lab('INR', 1.5, '{INR}'), lab('CREA', 1.0, 'mg/dL')]],
    ['INR', [lab('TBIL', 78.66, 'umol/L'), lab('CREA', 1.0, 'mg/dL')]],
    ['CREA', [lab('TBIL', 78.66, 'umol/L'), lab('INR', 1.5, '{INR}')]],
  ])('no %s', (item, labs) => {
    const c = criterion(HBV, facts({ labs, findings: [finding('dialysis', false)] }), 'I3a');
    expect(c.verdict).toBe('unknown');
    expect(c.reason).toContain(`MELD needs TBIL, INR, CREA: no ${item} result in the screening window 2024-05-25..2024-06-01`);
  });

  test('a creatinine older than the lookback does not count', () => {
    const labs = [lab('TBIL', 78.66, 'umol/L'), lab('INR', 1.5, '{INR}'), lab('CREA', 1.0, 'mg/dL', '2024-05-20')];
    expect(criterion(HBV, facts({ labs, findings: [finding('dialysis', false)] }), 'I3a').verdict).toBe('unknown');
  });
});
