/**
 * NCT05985863 E2: before the onset of liver failure, PLT < 50 x 10^9/L or Child-Pugh > 9
 * (>= 10) excludes (clinical-reference §1.1 E2, §4.4 vectors C1-C7, §7.4). Screening
 * values never decide it; without onset or pre-onset data it is UNKNOWN.
 */
import type { Ascites, CtpEncephalopathy } from '../scores';
import type { ClinicalFinding, EligibilityFacts, LabFact } from './types';
import { answer, criterion, facts, finding, lab } from './test-support';

const ACLF = 'NCT05985863';
const ONSET = { date: '2024-05-01', ref: 'Observation/onset' };
const BEFORE = '2024-03-01T09:00:00+08:00';
const e2 = (f: EligibilityFacts) => criterion(ACLF, f, 'E2');

/** Pre-onset CTP inputs in the NCT05985863 CRF units: TBIL mg/dL, ALB g/L, INR. */
function ctpLabs(biliMgDl: number, albGL: number, inr: number, when = BEFORE): LabFact[] {
  return [lab('TBIL', biliMgDl, 'mg/dL', when), lab('ALB', albGL, 'g/L', when), lab('INR', inr, '{INR}', when)];
}

function ctpFindings(ascites: Ascites | null, he: CtpEncephalopathy | null, when = BEFORE): ClinicalFinding[] {
  return [...(ascites ? [finding('ascites', ascites, when)] : []), ...(he ? [finding('encephalopathy', he, when)] : [])];
}

const healthyPlt = () => lab('PLT', 120, '10*9/L', BEFORE);

describe('pre-onset PLT vs screening PLT', () => {
  test('a screening PLT of 45 does not exclude by itself: no onset -> unknown', () => {
    const c = e2(facts({ labs: [lab('PLT', 45, '10*9/L')] }));
    expect(c.verdict).toBe('unknown');
    expect(c.reason).toContain('date of onset of liver failure not recorded');
  });

  test('onset known but only a screening PLT of 45 -> unknown (no pre-onset value)', () => {
    expect(e2(facts({ labs: [lab('PLT', 45, '10*9/L')], liverFailureOnset: ONSET })).verdict).toBe('unknown');
  });

  test.each([
    [45, 'met'],
    [49.9, 'met'],
    [50, 'unknown'], // PLT not < 50, CTP unknown
  ])('pre-onset PLT %p -> %s', (plt, verdict) => {
    expect(e2(facts({ labs: [lab('PLT', plt, '10*9/L', BEFORE)], liverFailureOnset: ONSET })).verdict).toBe(verdict);
  });

  test('pre-onset PLT 120 and CTP 5, screening PLT 45 -> not-met (screening values ignored)', () => {
    const labs = [healthyPlt(), ...ctpLabs(1.5, 40, 1.5), lab('PLT', 45, '10*9/L')];
    const c = e2(facts({ labs, findings: ctpFindings('none', 'none'), liverFailureOnset: ONSET }));
    expect(c.verdict).toBe('not-met');
    expect(c.reason).toMatch(/^pre-onset \(onset 2024-05-01\): none holds: PLT 120.0 10\*9\/L on 2024-03-01 >= 50.0 10\*9\/L; CTP 5 /);
    expect(c.evidence).toContain('Observation/onset');
  });

  test.each([
    ['2024-05-01', '2024-05-01', 'unknown'], // same day, no times: not before onset
    ['2024-05-01T06:00:00+08:00', '2024-05-01T12:00:00+08:00', 'met'],
    ['2024-05-01T13:00:00+08:00', '2024-05-01T12:00:00+08:00', 'unknown'],
    ['2024-04-30', '2024-05-01', 'met'],
  ])('PLT 45 at %s, onset %s -> %s', (when, onset, verdict) => {
    expect(e2(facts({ labs: [lab('PLT', 45, '10*9/L', when)], liverFailureOnset: { date: onset, ref: 'Observation/onset' } })).verdict).toBe(verdict);
  });
});

describe('the onset date from the clinician answer named in the trial file', () => {
  const onsetAnswer = (date: string, ref: string) => answer('NCT05985863/ONSET', true, { value: { kind: 'dateTime', value: date }, ref });

  test('valueDateTime of NCT05985863/ONSET', () => {
    const c = e2(facts({ labs: [lab('PLT', 45, '10*9/L', BEFORE)], answers: [onsetAnswer('2024-05-01', 'Observation/o1')] }));
    expect(c.verdict).toBe('met');
    expect(c.evidence).toEqual(['Observation/o1', expect.stringMatching(/^Observation\/plt-/)]);
  });

  test('two answers with different dates -> unknown', () => {
    const answers = [onsetAnswer('2024-05-01', 'Observation/o1'), onsetAnswer('2024-04-01', 'Observation/o2')];
    const c = e2(facts({ labs: [lab('PLT', 45, '10*9/L', BEFORE)], answers }));
    expect(c.verdict).toBe('unknown');
    expect(c.reason).toContain('conflicting dates of onset');
  });
});

describe('pre-onset Child-Pugh >= 10 excludes (§4.4)', () => {
  test.each([
    ['C1', 3.2, 26, 2.0, 'mild', 'grade-1-2', 12, 'met'],
    ['C2', 2.5, 25, 1.8, 'none', 'grade-1-2', 10, 'met'],
    ['C7', 3.01, 27.9, 2.31, 'none', 'none', 11, 'met'],
    ['C6', 3.0, 28, 2.3, 'mild', 'none', 9, 'not-met'],
    ['C5', 2.0, 35, 1.7, 'none', 'none', 8, 'not-met'],
    ['C3', 1.5, 40, 1.5, 'none', 'none', 5, 'not-met'],
  ] as const)('%s: bili %p mg/dL, alb %p g/L, INR %p, %s, %s -> CTP %p, %s', (_id, bili, alb, inr, ascites, he, points, verdict) => {
    const c = e2(facts({ labs: [healthyPlt(), ...ctpLabs(bili, alb, inr)], findings: ctpFindings(ascites, he), liverFailureOnset: ONSET }));
    expect(c.verdict).toBe(verdict);
    expect(c.reason).toContain(`CTP ${points} from`);
  });

  test('ascites/HE not recorded: labs alone can rule CTP >= 10 out (C3 labs: 5..9)', () => {
    expect(e2(facts({ labs: [healthyPlt(), ...ctpLabs(1.5, 40, 1.5)], liverFailureOnset: ONSET })).verdict).toBe('not-met');
  });

  test('ascites/HE not recorded and the labs leave 9..13 open (C2 labs) -> unknown', () => {
    const c = e2(facts({ labs: [healthyPlt(), ...ctpLabs(2.5, 25, 1.8)], liverFailureOnset: ONSET }));
    expect(c.verdict).toBe('unknown');
    expect(c.reason).toContain('CTP 9..13 over the unrecorded inputs');
  });

  test('screening ascites/HE are not pre-onset findings', () => {
    const findings = [...ctpFindings('none', 'none'), ...ctpFindings('moderate-severe', 'grade-3-4', '2024-05-30')];
    const c = e2(facts({ labs: [healthyPlt(), ...ctpLabs(2.0, 35, 1.7)], findings, liverFailureOnset: ONSET }));
    expect(c.verdict).toBe('not-met'); // C5: 8, not 12
  });

  test('pre-onset labs missing -> unknown, never not-met on screening labs', () => {
    const c = e2(facts({ labs: [healthyPlt(), ...ctpLabs(1.5, 40, 1.5, '2024-05-30')], findings: ctpFindings('none', 'none'), liverFailureOnset: ONSET }));
    expect(c.verdict).toBe('unknown');
  });
});
