/**
 * Study-drug detection and Day 0 (clinical-reference §0): Day 0 is the site-local
 * calendar date of the first study-drug administration, MSC or placebo; concomitant
 * medication never sets it.
 */
import type { MedicationAdministration } from '@medplum/fhirtypes';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_TRIALS_DIR, trialFromJson, type Trial } from '../trials';
import { evaluateSchedule, findDay0, isStudyDrug, localDateOf, studyDrugAdministrations, toTimePoint, WORKFLOW_RESEARCH_STUDY_URL } from './index';
import { concomitant, infusion, input, SHANGHAI, trial } from './test-support';

const ACLF = trial('NCT05985863');

/** The shipped NCT05985863 file with a site override, built through the loader like any file. */
function withOverride(site: string, code: string): Trial {
  const json = JSON.parse(fs.readFileSync(path.join(DEFAULT_TRIALS_DIR, 'NCT05985863.json'), 'utf8'));
  json.studyDrug.siteOverrides = { [site]: [{ system: 'urn:site-b:pharmacy', code }] };
  return trialFromJson(json);
}

describe('isStudyDrug', () => {
  const extension = (valueReference: object): Partial<MedicationAdministration> => ({ medicationCodeableConcept: { text: 'cells' }, extension: [{ url: WORKFLOW_RESEARCH_STUDY_URL, valueReference }] });

  test.each([
    ['the trial code', infusion(ACLF, '2024-03-04'), true],
    ['concomitant medication', concomitant('2024-03-04'), false],
    ['extension -> ResearchStudy/<key>', infusion(ACLF, '2024-03-04', extension({ reference: 'ResearchStudy/NCT05985863' })), true],
    ['extension -> absolute URL', infusion(ACLF, '2024-03-04', extension({ reference: 'https://ehr.example/fhir/ResearchStudy/NCT05985863' })), true],
    ['extension -> identifier', infusion(ACLF, '2024-03-04', extension({ identifier: { system: 'https://clinicaltrials.gov', value: 'NCT05985863' } })), true],
    ['extension -> another trial', infusion(ACLF, '2024-03-04', extension({ reference: 'ResearchStudy/NCT02812121' })), false],
  ])('%s -> %p', (_name, ma, expected) => {
    expect(isStudyDrug(ACLF, ma, SHANGHAI)).toBe(expected);
  });

  test('extension -> contained ResearchStudy', () => {
    const ma = infusion(ACLF, '2024-03-04', {
      medicationCodeableConcept: { text: 'cells' },
      contained: [{ resourceType: 'ResearchStudy', id: 'rs', status: 'active', identifier: [{ value: 'NCT05985863' }] }],
      extension: [{ url: WORKFLOW_RESEARCH_STUDY_URL, valueReference: { reference: '#rs' } }],
    });
    expect(isStudyDrug(ACLF, ma, 'site-a')).toBe(true);
  });

  test('a contained Medication carries the code', () => {
    const ma = infusion(ACLF, '2024-03-04', { medicationCodeableConcept: undefined, medicationReference: { reference: '#m' }, contained: [{ resourceType: 'Medication', id: 'm', code: { coding: [ACLF.studyDrug.codes[0]] } }] });
    expect(isStudyDrug(ACLF, ma, 'site-a')).toBe(true);
  });

  test('a site override replaces the trial codes for that site only', () => {
    const t = withOverride('site-b', 'MSC-0001');
    const local = infusion(t, '2024-03-04', { medicationCodeableConcept: { coding: [{ system: 'urn:site-b:pharmacy', code: 'MSC-0001' }] } });
    expect(isStudyDrug(t, local, 'site-b')).toBe(true);
    expect(isStudyDrug(t, local, 'site-a')).toBe(false);
    expect(isStudyDrug(t, infusion(t, '2024-03-04'), 'site-b')).toBe(false);
  });
});

describe('Day 0', () => {
  test('concomitant medication never sets Day 0, even when earlier', () => {
    const mas = [concomitant('2024-02-20T08:00:00+08:00'), infusion(ACLF, '2024-03-04T09:00:00+08:00'), concomitant('2024-03-01')];
    const { administrations } = studyDrugAdministrations(ACLF, mas, SHANGHAI);
    expect(findDay0(administrations, null)?.date).toBe('2024-03-04');
    expect(evaluateSchedule(input(ACLF, 'MSC', { medicationAdministrations: [concomitant('2024-03-04')] })).kind).toBe('no-day0');
  });

  test('a placebo administration (same blinded code) sets Day 0 for the control arm', () => {
    const e = evaluateSchedule(input(ACLF, 'control', { medicationAdministrations: [infusion(ACLF, '2024-03-04T09:00:00+08:00')] }));
    expect(e.kind === 'scheduled' && e.day0.date).toBe('2024-03-04');
  });

  test.each([
    ['not-done', false],
    ['entered-in-error', false],
    ['stopped', true],
    ['in-progress', true],
  ] as const)('first administration %s -> sets Day 0: %p', (status, sets) => {
    const mas = [infusion(ACLF, '2024-03-01T09:00:00+08:00', { status }), infusion(ACLF, '2024-03-04T09:00:00+08:00')];
    expect(findDay0(studyDrugAdministrations(ACLF, mas, SHANGHAI).administrations, null)?.date).toBe(sets ? '2024-03-01' : '2024-03-04');
  });

  test.each([
    // An infusion at 23:30 local on day X is day X although UTC is already X+1 (and the reverse east of UTC).
    ['America/New_York', '2024-03-01T23:30:00-05:00', '2024-03-01'],
    ['America/New_York', '2024-03-02T04:30:00Z', '2024-03-01'],
    ['Asia/Shanghai', '2024-03-01T23:30:00+08:00', '2024-03-01'],
    ['Asia/Shanghai', '2024-03-01T16:30:00Z', '2024-03-02'],
    ['UTC', '2024-03-01T23:30:00Z', '2024-03-01'],
    ['Asia/Shanghai', '2024-03-01', '2024-03-01'],
    ['America/New_York', '2024-03-10T23:30:00-04:00', '2024-03-10'], // the DST change day
  ])('%s: %s -> Day 0 %s', (timeZone, effective, date) => {
    const site = { id: 'site-x', timeZone };
    const { administrations } = studyDrugAdministrations(ACLF, [infusion(ACLF, effective)], site);
    expect(findDay0(administrations, null)?.date).toBe(date);
  });

  test('study days are calendar days in the site zone, not 24-hour periods', () => {
    const day0 = toTimePoint('2024-03-01T23:30:00+08:00', 'Asia/Shanghai')!;
    const next = toTimePoint('2024-03-02T00:30:00+08:00', 'Asia/Shanghai')!;
    expect([day0.date, next.date]).toEqual(['2024-03-01', '2024-03-02']);
    expect(localDateOf(Date.parse('2024-03-01T16:30:00Z'), 'Asia/Shanghai')).toBe('2024-03-02');
  });

  test('an administration without a usable time is reported, not guessed', () => {
    const { administrations, skipped } = studyDrugAdministrations(ACLF, [infusion(ACLF, '2024-03')], SHANGHAI);
    expect(administrations).toEqual([]);
    expect(skipped).toEqual([{ ref: expect.stringMatching(/^MedicationAdministration\//), reason: 'no-usable-effective-time' }]);
  });
});
