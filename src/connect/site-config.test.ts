import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../config';
import { desiredSubscriptions, PAYLOAD_CONTENT_EXT, SUBSCRIPTION_KEY_TAG, SUBSCRIPTION_TAG } from './subscriptions';
import { criteriaString, scopeChunks, scopeParams, watchPlans } from './watch';

const hex = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
const env = (sites: unknown[]) => ({ REDIS_URL: 'redis://127.0.0.1:6379', TRIALBRIDGE_SITES: JSON.stringify(sites) });
const problems = (sites: unknown[]): string[] => {
  try {
    loadConfig(env(sites));
    return [];
  } catch (e) {
    return (e as ConfigError).problems as string[];
  }
};

describe('TRIALBRIDGE_SITES[i].fhir', () => {
  const rsaPem = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const ecPem = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

  it('a push-only site (no fhir block) stays valid', () => {
    const c = loadConfig(env([{ id: 'a', tokenSha256: hex('t') }]));
    expect(c.sites[0].fhir).toBeNull();
  });

  it('parses a SMART backend services site, reading the key from a file, and derives tokenSha256 from the notification token', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-key-'));
    fs.writeFileSync(path.join(dir, 'key.pem'), ecPem);
    const c = loadConfig(env([{
      id: 'a',
      fhir: {
        baseUrl: 'https://ehr.example/fhir/', modes: ['subscription', 'poll'], notificationUrl: 'https://tb.example/fhir', notificationToken: 'secret-1',
        auth: { type: 'smart-backend', tokenUrl: 'https://ehr.example/token', clientId: 'tb', alg: 'ES384', privateKeyFile: path.join(dir, 'key.pem'), kid: 'k1' },
        searchParams: { Observation: { category: 'laboratory' } }, pageSize: 50,
      },
    }]));
    const f = c.sites[0].fhir!;
    expect(f.baseUrl).toBe('https://ehr.example/fhir');
    expect(f.auth).toMatchObject({ type: 'smart-backend', alg: 'ES384', kid: 'k1', clientId: 'tb' });
    expect(c.sites[0].tokenSha256).toBe(hex('secret-1'));
    expect(f.pageSize).toBe(50);
    expect(f.patientScope).toBe(true);
  });

  it('names every bad field at once', () => {
    const p = problems([{
      id: 'a', tokenSha256: hex('x'),
      fhir: { baseUrl: 'ftp://x', modes: ['push'], auth: { type: 'smart-backend', alg: 'HS256', privateKeyPem: 'nope' }, pageSize: 0, loincCodes: ['abc'] },
    }]);
    expect(p).toEqual(expect.arrayContaining([
      expect.stringMatching(/fhir\.baseUrl/),
      expect.stringMatching(/fhir\.modes/),
      expect.stringMatching(/fhir\.auth\.tokenUrl/),
      expect.stringMatching(/fhir\.auth\.clientId/),
      expect.stringMatching(/fhir\.auth\.alg/),
      expect.stringMatching(/fhir\.auth: the private key is not a readable PEM/),
      expect.stringMatching(/fhir\.pageSize/),
      expect.stringMatching(/fhir\.loincCodes/),
    ]));
  });

  it('refuses an RSA key for ES384 and a subscription site without its notification endpoint and token', () => {
    const p = problems([{ id: 'a', tokenSha256: hex('x'), fhir: { baseUrl: 'https://e/fhir', modes: ['subscription'], auth: { type: 'smart-backend', tokenUrl: 'https://e/t', clientId: 'c', alg: 'ES384', privateKeyPem: rsaPem } } }]);
    expect(p).toEqual(expect.arrayContaining([expect.stringMatching(/ES384 needs an EC private key/), expect.stringMatching(/notificationUrl: required/), expect.stringMatching(/notificationToken: required/)]));
  });

  it('refuses a tokenSha256 that contradicts the notification token', () => {
    const p = problems([{ id: 'a', tokenSha256: hex('other'), fhir: { baseUrl: 'https://e/fhir', modes: ['poll'], notificationToken: 'secret' } }]);
    expect(p).toEqual([expect.stringMatching(/does not match fhir\.notificationToken/)]);
  });
});

describe('watch plans and subscription criteria', () => {
  const site = loadConfig(env([{
    id: 'a', fhir: { baseUrl: 'https://e/fhir', modes: ['subscription'], notificationUrl: 'https://tb/fhir', notificationToken: 'tok', patientChunk: 2, searchParams: { Observation: { category: 'laboratory' } } },
  }])).sites[0];

  it('filters Observations by the mapped LOINC codes plus the site extras, Patients by id, infusions by patient', () => {
    const plans = watchPlans(site.fhir!, ['1975-2', '2951-2']);
    expect(plans.map((p) => [p.type, p.scope])).toEqual([['ResearchSubject', null], ['Patient', '_id'], ['Observation', 'patient'], ['MedicationAdministration', 'patient']]);
    const obs = plans[2];
    expect(obs.params).toEqual({ code: 'http://loinc.org|1975-2,http://loinc.org|2951-2', category: 'laboratory' });
    expect(scopeParams(obs, ['p1', 'p2'])).toEqual({ patient: 'Patient/p1,Patient/p2' });
    expect(scopeParams(plans[1], ['p1', 'p2'])).toEqual({ _id: 'p1,p2' });
    expect(scopeChunks(obs, ['a', 'b', 'c'], 2)).toEqual([['a', 'b'], ['c']]);
    expect(scopeChunks(plans[0], ['a', 'b', 'c'], 2)).toEqual([null]);
    expect(criteriaString('Observation', { patient: 'Patient/a', code: 'x|1' })).toBe('Observation?code=x|1&patient=Patient/a');
  });

  it("asks for the site's local lab codes (codeMap) beside the LOINC codes, in polls and Subscriptions alike", () => {
    const local = [{ system: 'http://lab.example/codes', code: 'BILT', target: 'TBIL' }];
    const obs = watchPlans(site.fhir!, ['1975-2'], local).find((p) => p.type === 'Observation')!;
    expect(obs.params.code).toBe('http://loinc.org|1975-2,http://lab.example/codes|BILT');
    const subs = desiredSubscriptions({ ...site, codeMap: local }, ['1975-2'], ['p1']);
    expect(subs.find((x) => x.resourceType === 'Observation')!.criteria).toContain('code=http://loinc.org|1975-2,http://lab.example/codes|BILT');
  });

  it('an unscoped site watches labs of every patient but still fetches Patients by id only', () => {
    const f = { ...site.fhir!, patientScope: false };
    expect(watchPlans(f, ['1975-2']).map((p) => p.scope)).toEqual([null, '_id', null, null]);
  });

  it('builds one Subscription per type and scope chunk, tagged, with the notification header and payload content', () => {
    const subs = desiredSubscriptions(site, ['1975-2'], ['p1', 'p2', 'p3']);
    expect(subs.map((s) => s.key)).toEqual(['ResearchSubject', 'Patient-1', 'Patient-2', 'Observation-1', 'Observation-2', 'MedicationAdministration-1', 'MedicationAdministration-2']);
    const o = subs.find((s) => s.key === 'Observation-2')!;
    expect(o.criteria).toBe('Observation?category=laboratory&code=http://loinc.org|1975-2&patient=Patient/p3');
    expect(o.resource.channel).toMatchObject({ type: 'rest-hook', endpoint: 'https://tb/fhir', header: ['Authorization: Bearer tok'], payload: 'application/fhir+json' });
    expect((o.resource.channel as { _payload?: unknown })._payload).toEqual({ extension: [{ url: PAYLOAD_CONTENT_EXT, valueCode: 'id-only' }] });
    expect(o.resource.meta!.tag).toEqual([{ system: SUBSCRIPTION_TAG, code: 'a' }, { system: SUBSCRIPTION_KEY_TAG, code: 'Observation-2' }]);
  });

  it('with nobody enrolled only the enrollments are watched', () => {
    expect(desiredSubscriptions(site, ['1975-2'], []).map((s) => s.key)).toEqual(['ResearchSubject']);
  });
});

describe('TRIALBRIDGE_SITES[i].codeMap (shape; meaning is checked against the rules at boot)', () => {
  it('parses system|code → analyte or LOINC code', () => {
    const c = loadConfig(env([{ id: 'a', tokenSha256: hex('t'), codeMap: { 'http://lab.a.example/codes|BILT': 'TBIL', 'urn:oid:1.2.3|CR': ' 2160-0 ' } }]));
    expect(c.sites[0].codeMap).toEqual([
      { system: 'http://lab.a.example/codes', code: 'BILT', target: 'TBIL' },
      { system: 'urn:oid:1.2.3', code: 'CR', target: '2160-0' },
    ]);
    expect(loadConfig(env([{ id: 'a', tokenSha256: hex('t') }])).sites[0].codeMap).toEqual([]);
  });

  it('names every bad entry with its path', () => {
    expect(problems([{ id: 'a', tokenSha256: hex('t'), codeMap: ['TBIL'] }])).toEqual(['TRIALBRIDGE_SITES[0].codeMap: expected {"<system>|<code>": "<analyte id or LOINC code>", ...}']);
    expect(problems([{ id: 'a', tokenSha256: hex('t'), codeMap: { BILT: 'TBIL', 'http://loinc.org|1975-2': 'TBIL', 'urn:x|A': 7, 'urn:x|': 'TBIL' } }])).toEqual([
      'TRIALBRIDGE_SITES[0].codeMap["BILT"]: expected the key "<code system URI>|<code>"',
      'TRIALBRIDGE_SITES[0].codeMap["http://loinc.org|1975-2"]: LOINC codes need no site code map',
      'TRIALBRIDGE_SITES[0].codeMap["urn:x|A"]: expected an analyte id (e.g. "TBIL") or a LOINC code (e.g. "1975-2")',
      'TRIALBRIDGE_SITES[0].codeMap["urn:x|"]: expected the key "<code system URI>|<code>"',
    ]);
  });
});
