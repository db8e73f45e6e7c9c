/**
 * Per-site study aliases (TRIALBRIDGE_SITES[i].studyAliases), through the
 * real server: a site whose ResearchStudy carries only its local protocol
 * number enrolls into the trial its alias names; another site without the
 * alias gets an `unknown-study` review item; an alias for a trial that is not
 * configured stops boot with the path of the bad entry.
 */
import type { Resource } from '@medplum/fhirtypes';
import { sha256Hex } from '../../src/http';
import { loadConfig } from '../../src/config';
import { boot } from '../../src/main';
import { SITE_TOKENS, startStack, testEnv, type TestStack, USER_TOKENS } from '../helpers/stack';

const sites = (aliasesOfA: unknown) =>
  JSON.stringify([
    { id: 'site-a', tokenSha256: sha256Hex(SITE_TOKENS['site-a']), timeZone: 'Asia/Shanghai', studyAliases: aliasesOfA },
    { id: 'site-b', tokenSha256: sha256Hex(SITE_TOKENS['site-b']), timeZone: 'Asia/Shanghai' },
  ]);

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack('enrollment-aliases', { TRIALBRIDGE_SITES: sites({ NCT05985863: ['IRB-2023-19'] }) });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

/** The standard shape with a ResearchStudy that carries only the hospital's IRB number. */
const bundle = (p: string, number: string) => {
  const put = (r: Resource) => ({ resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } });
  return {
    resourceType: 'Bundle', type: 'batch',
    entry: [
      put({ resourceType: 'ResearchSubject', id: `${p}-rs`, status: 'screening', identifier: [{ value: number }], study: { reference: `ResearchStudy/${p}-study` }, individual: { reference: `Patient/${p}` } }),
      put({ resourceType: 'Patient', id: p, gender: 'male', birthDate: '1970-05-01' }),
      put({
        resourceType: 'Observation', id: `${p}-tbil`, status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '1975-2' }] }, subject: { reference: `Patient/${p}` },
        effectiveDateTime: '2024-03-01T08:00:00+08:00', valueQuantity: { value: 5, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
      } as Resource),
      put({ resourceType: 'ResearchStudy', id: `${p}-study`, status: 'active', identifier: [{ system: 'urn:oid:1.2.156.302.irb', value: 'IRB-2023-19' }] } as Resource),
    ],
  };
};

test('the alias of site A enrolls its subject into NCT05985863', async () => {
  expect((await stack.fhir('POST', '', bundle('al-a', 'S-AL-A'))).status).toBe(200);
  await stack.settle();
  const crf = await stack.api('/subjects/S-AL-A/crf', USER_TOKENS.dm);
  expect(crf.body.enrollments).toEqual([expect.objectContaining({ trial: 'NCT05985863', site: 'site-a' })]);
  expect(crf.body.values.map((v: any) => [v.trial, v.item, v.value, v.unit])).toEqual([['NCT05985863', 'TBIL', 5, 'mg/dL']]);
});

test('site B has no alias: the same ResearchStudy names no trial there (review item, nothing mapped)', async () => {
  expect((await stack.fhir('POST', '', bundle('al-b', 'S-AL-B'), SITE_TOKENS['site-b'])).status).toBe(200);
  await stack.settle();
  expect((await stack.api('/subjects/S-AL-B/crf', USER_TOKENS.dm)).status).toBe(404);
  const items = (await stack.api('/review-items?reason=unknown-study', USER_TOKENS.dm)).body.rows;
  expect(items).toHaveLength(1);
  expect(items[0].detail).toContain('IRB-2023-19');
});

test('an alias for a trial that is not configured stops boot, naming the entry', async () => {
  const config = loadConfig(testEnv('enrollment-aliases-bad', { TRIALBRIDGE_SITES: sites({ NCT00000000: ['IRB-1'] }) }));
  await expect(boot(config, 'serve')).rejects.toThrow(/TRIALBRIDGE_SITES\[0\]\.studyAliases\.NCT00000000: no trial "NCT00000000" is configured/);
});

test('a malformed alias list is a configuration error naming the field', () => {
  expect(() => loadConfig(testEnv('enrollment-aliases-bad', { TRIALBRIDGE_SITES: sites({ NCT05985863: 'IRB-2023-19' }) }))).toThrow(
    /TRIALBRIDGE_SITES\[0\]\.studyAliases\.NCT05985863: expected a non-empty array/,
  );
});
