/**
 * Site code maps (TRIALBRIDGE_SITES[i].codeMap), through the real server: a site's local
 * bilirubin code maps like LOINC 1975-2 with provenance naming the local code; another
 * site's same code stays unmapped (counted, no review item); a bad map stops boot with
 * every problem named by its path.
 */
import { sha256Hex } from '../../src/http';
import { ConfigError } from '../../src/config';
import { SITE_TOKENS, startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

const LAB = 'http://lab.hospital-a.example/codes';
const sites = (codeMap: Record<string, string>) =>
  JSON.stringify([
    { id: 'site-a', tokenSha256: sha256Hex(SITE_TOKENS['site-a']), timeZone: 'Asia/Shanghai', codeMap },
    { id: 'site-b', tokenSha256: sha256Hex(SITE_TOKENS['site-b']), timeZone: 'Asia/Shanghai' },
  ]);

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack('review-site-code-map', { TRIALBRIDGE_SITES: sites({ [`${LAB}|BILT`]: 'TBIL', [`${LAB}|CREU`]: '14682-9' }) });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const put = (r: Record<string, unknown>) => ({ resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } });
const bundle = (tag: string, subject: string) => ({
  resourceType: 'Bundle', type: 'transaction',
  entry: [
    put({ resourceType: 'Patient', id: `${tag}-p`, identifier: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: `MRN-${tag}` }], birthDate: '1971-06-01', gender: 'female' }),
    put({ resourceType: 'ResearchSubject', id: `${tag}-rs`, status: 'on-study', identifier: [{ system: 'urn:trialbridge:subject', value: subject }], individual: { reference: `Patient/${tag}-p` }, study: { identifier: { value: 'NCT02812121' } } }),
    put({
      resourceType: 'Observation', id: `${tag}-bili`, status: 'final', code: { coding: [{ system: LAB, code: 'BILT', display: 'Bilirubin, total' }] }, subject: { reference: `Patient/${tag}-p` },
      effectiveDateTime: '2024-03-01T08:00:00+08:00', valueQuantity: { value: 5, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    }),
  ],
});

test("site A's local bilirubin code maps like 1975-2, with provenance; site B's same code is an unmapped code", async () => {
  expect((await stack.fhir('POST', '', bundle('scm-a', 'SCM-A-1'))).status).toBe(200);
  expect((await stack.fhir('POST', '', bundle('scm-b', 'SCM-B-1'), SITE_TOKENS['site-b'])).status).toBe(200);
  await stack.settle();

  const a = await stack.api('/subjects/SCM-A-1/crf', USER_TOKENS.dm);
  expect(a.status).toBe(200);
  expect(a.body.values).toEqual([
    expect.objectContaining({ item: 'TBIL', value: 85.5, unit: 'umol/L', originalUnit: 'mg/dL', code: '1975-2', source: expect.objectContaining({ reference: 'Observation/scm-a-bili', localCode: `${LAB}|BILT` }) }),
  ]);
  const b = await stack.api('/subjects/SCM-B-1/crf', USER_TOKENS.dm);
  expect(b.body.values).toEqual([]);
  const reviews = await stack.db.query("SELECT reason FROM review_items WHERE subject IN ('SCM-A-1', 'SCM-B-1')");
  expect(reviews.rows).toEqual([]);
  const unmapped = await stack.api('/unmapped-codes', USER_TOKENS.admin);
  expect(unmapped.body.rows).toEqual([{ site: 'site-b', system: LAB, code: 'BILT', display: 'Bilirubin, total', unit: 'mg/dL', count: 1, lastSeenAt: expect.any(String) }]);
});

test('a bad code map stops boot, naming each entry by its path', async () => {
  const bad = startStack('review-site-code-map-bad', { TRIALBRIDGE_SITES: sites({ [`${LAB}|X1`]: 'BILIRUBIN', [`${LAB}|X2`]: '8310-5', [`${LAB}|X3`]: 'ALB' }) });
  await expect(bad).rejects.toBeInstanceOf(ConfigError);
  const problems = await bad.catch((e: ConfigError) => e.problems);
  expect(problems).toEqual([
    expect.stringMatching(/^TRIALBRIDGE_SITES\[0\]\.codeMap\["http:\/\/lab\.hospital-a\.example\/codes\|X1"\]: unknown analyte 'BILIRUBIN' \(known: /),
    expect.stringMatching(/^TRIALBRIDGE_SITES\[0\]\.codeMap\["http:\/\/lab\.hospital-a\.example\/codes\|X2"\]: LOINC 8310-5 is in no analyte group/),
  ]);
});
