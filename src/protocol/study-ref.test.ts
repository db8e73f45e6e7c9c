import type { MedicationAdministration, Reference, ResearchSubject } from '@medplum/fhirtypes';
import { parseResearchSubject } from './research-subject';
import { attributeStudies, researchStudyId, resolveStudy, resolvedStudies, trialNamer, type StudyContext } from './study-ref';
import { isStudyDrug } from './schedule';
import { TRIALS } from './schedule/test-support';

const TRIALS_KNOWN = new Set(['NCT05985863', 'ESLD-UCMSC-DOSE', 'NCT02812121']);
const known = (k: string) => TRIALS_KNOWN.has(k);
const WORKFLOW = 'http://hl7.org/fhir/StructureDefinition/workflow-researchStudy';

/** A site that stored ResearchStudy/rs-7 (identifier NCT05985863) and ResearchStudy/rs-9 (only its IRB number). */
const ctx = (aliases = {}): StudyContext => {
  const stored: Record<string, string[]> = { 'rs-7': ['NCT05985863'], 'rs-9': ['IRB-2023-19'], 'rs-other': ['NCT09999999'] };
  return { trialOf: trialNamer(known, aliases), storedStudy: (id) => stored[id] };
};

describe('researchStudyId', () => {
  test.each([
    ['ResearchStudy/rs-7', 'rs-7'],
    ['https://ehr.example/fhir/ResearchStudy/rs-7', 'rs-7'],
    ['ResearchStudy/rs-7/_history/3', 'rs-7'],
    ['#study', null],
    ['Patient/rs-7', null],
    ['', null],
    [undefined, null],
  ])('%s → %s', (ref, id) => expect(researchStudyId(ref)).toBe(id));
});

describe('resolveStudy', () => {
  const holder = { contained: [{ resourceType: 'ResearchStudy' as const, id: 'c1', status: 'active' as const, identifier: [{ value: 'NCT02812121' }] }] };
  test.each<[string, Reference, object, Record<string, readonly string[]>]>([
    ['stored ResearchStudy by reference', { reference: 'ResearchStudy/rs-7' }, { kind: 'trial', trial: 'NCT05985863', studyId: 'rs-7' }, {}],
    ['absolute reference to a stored ResearchStudy', { reference: 'https://ehr.example/fhir/ResearchStudy/rs-7' }, { kind: 'trial', trial: 'NCT05985863' }, {}],
    ['not stored yet: wait for it', { reference: 'ResearchStudy/rs-8' }, { kind: 'awaiting', studyId: 'rs-8' }, {}],
    ['stored, local number only, no alias', { reference: 'ResearchStudy/rs-9' }, { kind: 'unknown', studyId: 'rs-9', names: ['IRB-2023-19', 'rs-9'] }, {}],
    ['stored, local number only, with the site alias', { reference: 'ResearchStudy/rs-9' }, { kind: 'trial', trial: 'NCT05985863' }, { NCT05985863: ['IRB-2023-19'] }],
    ['stored, a trial not configured', { reference: 'ResearchStudy/rs-other' }, { kind: 'unknown' }, {}],
    ['identifier (existing shape)', { identifier: { system: 'https://clinicaltrials.gov', value: 'NCT02812121' } }, { kind: 'trial', trial: 'NCT02812121', studyId: null }, {}],
    ['identifier by alias', { identifier: { value: 'IRB-2023-19' } }, { kind: 'trial', trial: 'NCT05985863' }, { NCT05985863: ['IRB-2023-19'] }],
    ['contained ResearchStudy (existing shape)', { reference: '#c1' }, { kind: 'trial', trial: 'NCT02812121' }, {}],
    ['reference whose id is the trial key (existing shape)', { reference: 'ResearchStudy/ESLD-UCMSC-DOSE' }, { kind: 'trial', trial: 'ESLD-UCMSC-DOSE' }, {}],
    ['unknown identifier, no reference', { identifier: { value: 'NCT00000000' } }, { kind: 'unknown', studyId: null }, {}],
    ['nothing at all', {}, { kind: 'unknown', names: [] }, {}],
  ])('%s', (_name, ref, want, aliases) => {
    expect(resolveStudy(ref, holder, ctx(aliases))).toMatchObject(want);
  });

  test('a stored ResearchStudy wins over its id looking like another trial key', () => {
    const c: StudyContext = { trialOf: trialNamer(known), storedStudy: (id) => (id === 'NCT02812121' ? ['NCT05985863'] : undefined) };
    expect(resolveStudy({ reference: 'ResearchStudy/NCT02812121' }, {}, c)).toMatchObject({ kind: 'trial', trial: 'NCT05985863' });
  });
});

describe('parseResearchSubject with stored studies', () => {
  const rs = (study: ResearchSubject['study']): ResearchSubject => ({
    resourceType: 'ResearchSubject', status: 'screening', identifier: [{ value: 'S-REF-1' }], study, individual: { reference: 'Patient/p1' },
  });
  test('standard R4 shape resolves to the trial of the stored ResearchStudy', () => {
    const e = parseResearchSubject(rs({ reference: 'ResearchStudy/rs-7' }), ctx());
    expect(e).toMatchObject({ trial: 'NCT05985863', subject: 'S-REF-1', patientRef: 'p1', study: { kind: 'trial', studyId: 'rs-7' } });
  });
  test('a ResearchStudy not received yet gives no trial and says it waits', () => {
    const e = parseResearchSubject(rs({ reference: 'ResearchStudy/rs-8' }), ctx());
    expect(e.trial).toBeNull();
    expect(e.study.kind).toBe('awaiting');
  });
  test('the plain trial-key test still reads the existing shapes', () => {
    expect(parseResearchSubject(rs({ identifier: { value: 'NCT05985863' } }), known).trial).toBe('NCT05985863');
    expect(parseResearchSubject(rs({ reference: 'ResearchStudy/NCT05985863' }), known).trial).toBe('NCT05985863');
    expect(parseResearchSubject(rs({ reference: 'ResearchStudy/rs-7' }), known).trial).toBeNull();
  });
});

describe('trialNamer', () => {
  test('keys name themselves, aliases their trial, anything else nothing', () => {
    const n = trialNamer(known, { NCT05985863: ['IRB-2023-19', 'P-302-ACLF'] });
    expect([n('NCT05985863'), n('IRB-2023-19'), n('P-302-ACLF'), n('IRB-2023-20')]).toEqual(['NCT05985863', 'NCT05985863', 'NCT05985863', null]);
  });
});

describe('attributeStudies: study drug named by a reference to the site ResearchStudy', () => {
  const trial = TRIALS.get('NCT05985863')!;
  const infusion = (ref: string): MedicationAdministration => ({
    resourceType: 'MedicationAdministration', id: 'ma1', status: 'completed', subject: { reference: 'Patient/p1' }, effectiveDateTime: '2024-03-04T09:00:00+08:00',
    // A hospital formulary code, not the trial's study-drug code: only the extension says it is study drug.
    medicationCodeableConcept: { coding: [{ system: 'urn:oid:1.2.3.4', code: 'UCMSC-INF' }] },
    extension: [{ url: WORKFLOW, valueReference: { reference: ref } }],
  });

  test('without attribution the schedule does not recognise the reference', () => {
    expect(isStudyDrug(trial, infusion('ResearchStudy/rs-7'), 'site-a')).toBe(false);
  });
  test.each([
    ['rs-7', true],
    ['rs-8', false],
    ['rs-other', false],
  ])('ResearchStudy/%s → study drug %s', (id, want) => {
    const [ma] = attributeStudies([infusion(`ResearchStudy/${id}`)], resolvedStudies({ 'rs-7': 'NCT05985863', 'rs-other': 'NCT02812121' }));
    expect(isStudyDrug(trial, ma, 'site-a')).toBe(want);
  });
  test('an alias in the extension identifier becomes the trial key; input is not mutated', () => {
    const ma: MedicationAdministration = { ...infusion('ResearchStudy/rs-9'), extension: [{ url: WORKFLOW, valueReference: { identifier: { value: 'IRB-2023-19' } } }] };
    const [out] = attributeStudies([ma], ctx({ NCT05985863: ['IRB-2023-19'] }));
    expect(isStudyDrug(trial, out, 'site-a')).toBe(true);
    expect(ma.extension![0].valueReference!.identifier!.value).toBe('IRB-2023-19');
  });
  test('other resources pass through unchanged', () => {
    const obs = { resourceType: 'Observation', status: 'final', code: {} } as const;
    expect(attributeStudies([obs], ctx())[0]).toBe(obs);
  });
});
