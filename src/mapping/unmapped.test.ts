/** unmappedCodings: what is counted for IT instead of raising a review item. */
import type { Resource } from '@medplum/fhirtypes';
import { DEFAULT_MAPPINGS_DIR, loadMappings, unmappedCodings } from './index';

const set = loadMappings(DEFAULT_MAPPINGS_DIR);
const obs = (code: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ resourceType: 'Observation', status: 'final', code, ...extra }) as unknown as Resource;

test.each([
  ['body temperature', { coding: [{ system: 'http://loinc.org', code: '8310-5', display: 'Body temperature' }] }, [{ system: 'http://loinc.org', code: '8310-5', display: 'Body temperature', unit: 'Cel' }]],
  ['a local code with text only', { coding: [{ system: 'urn:oid:1.2.3', code: 'X1' }], text: 'Heart rate' }, [{ system: 'urn:oid:1.2.3', code: 'X1', display: 'Heart rate', unit: 'Cel' }]],
  ['no coding at all', { text: 'Pain score' }, [{ system: '', code: '', display: 'Pain score', unit: 'Cel' }]],
  ['the same coding twice is counted once', { coding: [{ system: 'http://loinc.org', code: '8310-5' }, { system: 'http://loinc.org', code: '8310-5' }] }, [{ system: 'http://loinc.org', code: '8310-5', display: null, unit: 'Cel' }]],
])('%s -> counted', (_name, code, expected) => {
  expect(unmappedCodings(set, obs(code, { valueQuantity: { value: 37.2, unit: 'Cel', system: 'http://unitsofmeasure.org', code: 'Cel' } }))).toEqual(expected);
});

test.each([
  ['a mapped LOINC code among others', obs({ coding: [{ system: 'http://snomed.info/sct', code: '1' }, { system: 'http://loinc.org', code: '1975-2' }] })],
  ['a clinician answer', obs({ coding: [{ system: 'urn:trialbridge:eligibility', code: 'NCT05985863/I4' }] })],
  ['a finding', obs({ coding: [{ system: 'urn:trialbridge:finding', code: 'ascites' }] })],
  ['not an Observation', { resourceType: 'MedicationAdministration' } as Resource],
])('%s -> not counted', (_name, r) => {
  expect(unmappedCodings(set, r)).toBeNull();
});

test('display text is clipped and values never leave', () => {
  const [c] = unmappedCodings(set, obs({ coding: [{ system: 'urn:x', code: 'y', display: 'z'.repeat(500) }] }, { valueQuantity: { value: 98765.4321 } }))!;
  expect(c.display).toHaveLength(120);
  expect(JSON.stringify(c)).not.toContain('98765');
});
