/**
 * MELD 17-30 on the UNOS integer MELD (NCT02812121 I3a, clinical-reference §1.3, §4.1
 * vectors M6-M14), including the dialysis input of the score library.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { roundHalfUp } from '../../mapping';
import { DEFAULT_TRIALS_DIR, trialFromJson } from '../trials';
import { evaluateEligibility } from './evaluate';
import { ASSUMED_NO_DIALYSIS } from './scores';
import type { EligibilityFacts, LabFact } from './types';
import { criterion, facts, finding, lab, unitsOf } from './test-support';

const HBV = 'NCT02812121';

/**
 * The CRF of NCT02812121 holds TBIL in umol/L with one decimal (§7.10), as the mapping
 * stores a mg/dL source: 4.6 mg/dL -> 78.66 -> 78.7 umol/L, with the source kept beside it.
 */
function meldLabs(biliMgDl: number, inr: number, creaMgDl: number): LabFact[] {
  const source = { value: biliMgDl, unit: 'mg/dL', code: '1975-2' };
  return [lab('TBIL', roundHalfUp(biliMgDl * 17.1, 1), 'umol/L', undefined, { source }), lab('INR', inr, '{INR}'), lab('CREA', creaMgDl, 'mg/dL')];
}

/** NCT02812121 as shipped but with `defaults.meld.unrecordedDialysis` set to `mode`. */
function hbvWith(mode: 'assume-none' | 'unknown') {
  const json = JSON.parse(fs.readFileSync(path.join(DEFAULT_TRIALS_DIR, `${HBV}.json`), 'utf8'));
  json.defaults.meld = { unrecordedDialysis: mode };
  return trialFromJson(json, `${HBV}.json`);
}

const i3a = (mode: 'assume-none' | 'unknown', f: EligibilityFacts) => evaluateEligibility(hbvWith(mode), { ...f, units: unitsOf(HBV) }).criteria.find((c) => c.id === 'I3a')!;

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
      'MELD 17 (raw 16.74) from TBIL 78.7 umol/L on 2024-05-30 = 4.60 mg/dL, INR 1.5 on 2024-05-30, CREA 1.0 mg/dL on 2024-05-30, dialysis false: within 17-30 (clinical-reference §1.3 I3a)',
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

describe('MELD from the source precision, not the rounded CRF value (§4.1 M10)', () => {
  test('M10: 4.6 mg/dL stored as 78.7 umol/L is scored from 4.6 (raw 16.74)', () => {
    const c = criterion(HBV, facts({ labs: meldLabs(4.6, 1.5, 1.0), findings: [finding('dialysis', false)] }), 'I3a');
    expect(c.reason).toMatch(/^MELD 17 \(raw 16\.74\) from TBIL 78\.7 umol\/L on 2024-05-30 = 4\.60 mg\/dL/);
  });

  // bili 1.3 mg/dL, INR 1.3, Cr 1.9: raw 16.5028 -> 17 from the source; the CRF's 22.2 umol/L
  // converted back is 1.2982 mg/dL, raw 16.4977 -> 16: double rounding crosses the bound.
  test('double rounding would move MELD across the lower bound: 17 from the source, 16 without it', () => {
    const labs = meldLabs(1.3, 1.3, 1.9);
    const fromSource = criterion(HBV, facts({ labs, findings: [finding('dialysis', false)] }), 'I3a');
    expect(fromSource.verdict).toBe('met');
    expect(fromSource.reason).toMatch(/^MELD 17 \(raw 16\.50\) from TBIL 22\.2 umol\/L on 2024-05-30 = 1\.30 mg\/dL/);
    const [tbil, ...rest] = labs;
    const noSource = criterion(HBV, facts({ labs: [{ ...tbil, source: null }, ...rest], findings: [finding('dialysis', false)] }), 'I3a');
    expect(noSource.verdict).toBe('not-met');
    expect(noSource.reason).toMatch(/^MELD 16 \(raw 16\.50\)/);
  });

  test('a CRF value a person changed is used as stored, not its old source', () => {
    const [tbil, ...rest] = meldLabs(4.6, 1.5, 1.0);
    const c = criterion(HBV, facts({ labs: [{ ...tbil, value: 513 }, ...rest], findings: [finding('dialysis', false)] }), 'I3a');
    expect(c.reason).toContain('TBIL 513.0 umol/L on 2024-05-30 = 30.00 mg/dL');
  });
});

describe('MELD when dialysis is not recorded, default assume-none: scored as none and said so (§1.3 I3a, §4.1)', () => {
  test.each([
    ['M10', 4.6, 1.5, 1.0, 'met'], // raw 16.74 -> 17
    ['M11', 22, 3.0, 1.0, 'met'], // raw 30.42 -> 30
    ['M12', 23, 3.0, 1.0, 'not-met'], // raw 30.59 -> 31
    ['M6', 2.0, 1.5, 1.2, 'not-met'], // 15
  ])('%s -> %s', (_id, bili, inr, cr, verdict) => {
    const c = criterion(HBV, facts({ labs: meldLabs(bili, inr, cr) }), 'I3a');
    expect(c.verdict).toBe(verdict);
    expect(c.reason).toContain(ASSUMED_NO_DIALYSIS);
  });

  test('the shipped file states the default explicitly', () => {
    expect(hbvWith('assume-none').defaults.meld.unrecordedDialysis).toBe('assume-none');
  });
});

describe('MELD when dialysis is not recorded, unrecordedDialysis "unknown": decided only if both cases agree', () => {
  test.each([
    ['M10', 4.6, 1.5, 1.0, 'met'], // 17 without dialysis, 30 with: in range either way
    ['M11', 22, 3.0, 1.0, 'unknown'], // 30 without, 40 with
    ['M12', 23, 3.0, 1.0, 'not-met'], // 31 without, 40 with
    ['M6', 2.0, 1.5, 1.2, 'unknown'], // 15 without, 28 with
  ])('%s -> %s', (_id, bili, inr, cr, verdict) => {
    const c = i3a('unknown', facts({ labs: meldLabs(bili, inr, cr) }));
    expect(c.verdict).toBe(verdict);
    expect(c.reason).toContain('dialysis not recorded');
    expect(c.reason).not.toContain(ASSUMED_NO_DIALYSIS);
  });

  test('the trial schema refuses any other value', () => {
    const json = JSON.parse(fs.readFileSync(path.join(DEFAULT_TRIALS_DIR, `${HBV}.json`), 'utf8'));
    json.defaults.meld = { unrecordedDialysis: 'maybe' };
    expect(() => trialFromJson(json, `${HBV}.json`)).toThrow(/#\/defaults\/meld\/unrecordedDialysis: must be equal to one of the allowed values: "assume-none", "unknown"/);
  });

  test.each([
    ['M10', 4.6, 1.5, 1.0, 'met'], // creatinine set to 4.0 -> 30
    ['M11', 22, 3.0, 1.0, 'not-met'], // -> 40 (cap)
  ])('%s with dialysis -> %s', (_id, bili, inr, cr, verdict) => {
    expect(criterion(HBV, facts({ labs: meldLabs(bili, inr, cr), findings: [finding('dialysis', true)] }), 'I3a').verdict).toBe(verdict);
  });

  test('a dialysis finding outside the screening window does not count', () => {
    const c = i3a('unknown', facts({ labs: meldLabs(22, 3.0, 1.0), findings: [finding('dialysis', false, '2024-05-01')] }));
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
