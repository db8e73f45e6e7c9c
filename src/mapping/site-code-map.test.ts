/**
 * Site code maps (README "Connect a site", `codeMap`): a site's local code maps like the
 * LOINC code it names, with provenance; bad entries stop boot with their path.
 */
import type { Resource } from '@medplum/fhirtypes';
import { ConfigError } from '../config';
import { applySiteCodeMaps, DEFAULT_MAPPINGS_DIR, loadMappings, mapResource, unmappedCodings } from './index';

const base = loadMappings(DEFAULT_MAPPINGS_DIR);
const LAB = 'http://hospital-a.example/lab';
const set = applySiteCodeMaps(base, [
  { id: 'site-b', codeMap: [] },
  { id: 'site-a', codeMap: [{ system: LAB, code: 'BILT', target: 'TBIL' }, { system: LAB, code: 'CRE-U', target: '14682-9' }] },
]);

const local = (code: string, value: Record<string, unknown>): Resource =>
  ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LAB, code, display: 'Bilirubin, total' }] }, effectiveDateTime: '2024-03-01T08:00:00Z', ...value }) as unknown as Resource;
const ucum = (value: number, code: string) => ({ valueQuantity: { value, unit: code, system: 'http://unitsofmeasure.org', code } });

test('a local code mapped to an analyte maps like its primary LOINC code, with provenance', () => {
  const [v] = mapResource(set, 'NCT02812121', local('BILT', ucum(5, 'mg/dL')), { site: 'site-a' });
  expect(v).toMatchObject({ kind: 'value', item: 'TBIL', value: 85.5, unit: 'umol/L', code: '1975-2', localCode: `${LAB}|BILT` });
});

test('a local code mapped to a LOINC code uses that code (its property and implied unit)', () => {
  const [v] = mapResource(set, 'NCT05985863', local('CRE-U', ucum(88.4, 'umol/L')), { site: 'site-a' });
  expect(v).toMatchObject({ kind: 'value', item: 'CREA', value: 1, code: '14682-9', localCode: `${LAB}|CRE-U` });
});

test('the map is per site: another site, or no site, sees an unmapped code', () => {
  expect(mapResource(set, 'NCT02812121', local('BILT', ucum(5, 'mg/dL')), { site: 'site-b' })).toEqual([]);
  expect(mapResource(set, 'NCT02812121', local('BILT', ucum(5, 'mg/dL')))).toEqual([]);
  expect(unmappedCodings(set, local('BILT', ucum(5, 'mg/dL')), 'site-b')).toEqual([{ system: LAB, code: 'BILT', display: 'Bilirubin, total', unit: 'mg/dL' }]);
  expect(unmappedCodings(set, local('BILT', ucum(5, 'mg/dL')), 'site-a')).toBeNull();
});

test('LOINC codings keep precedence; a local code of another group makes the Observation ambiguous', () => {
  const both = { ...local('BILT', ucum(5, 'mg/dL')), code: { coding: [{ system: LAB, code: 'BILT' }, { system: 'http://loinc.org', code: '1751-7' }] } } as unknown as Resource;
  const [r] = mapResource(set, 'NCT05985863', both, { site: 'site-a' });
  expect(r).toMatchObject({ kind: 'review', reason: 'ambiguous-code' });
  expect(r.kind === 'review' && r.detail).toContain(`${LAB}|BILT (site code map: LOINC 1975-2)`);
});

test('bad entries are named with their path, all at once', () => {
  let err: unknown;
  try {
    applySiteCodeMaps(base, [{ id: 'x', codeMap: [{ system: LAB, code: 'A', target: 'BILI' }, { system: LAB, code: 'B', target: '8310-5' }, { system: LAB, code: 'C', target: 'ALB' }] }]);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  const problems = (err as ConfigError).problems;
  expect(problems).toHaveLength(2);
  expect(problems[0]).toMatch(/^TRIALBRIDGE_SITES\[0\]\.codeMap\["http:\/\/hospital-a\.example\/lab\|A"\]: unknown analyte 'BILI' \(known: .*TBIL/);
  expect(problems[1]).toMatch(/codeMap\["http:\/\/hospital-a\.example\/lab\|B"\]: LOINC 8310-5 is in no analyte group/);
});
