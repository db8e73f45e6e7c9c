/**
 * `trialbridge export-pull` round trip (backfill): a Bulk Data IG 2.0
 * $export from the test EHR (SMART Backend Services auth) into the real
 * store-then-queue path, mapped by the real workers on PostgreSQL + Redis.
 * Also the Bulk Data client on its own: abort → DELETE, retried downloads,
 * the manifest's error file summarised.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { exportPullCommand, parseExportPullArgs, sinceInstant } from '../../src/cli/export-pull';
import { exportPull } from '../../src/connect/bulk-export';
import { createSiteClient } from '../../src/connect/client';
import { createLogger } from '../../src/logger';
import { bilirubin, patient, researchSubject, rsaKeys, sitesEnv } from '../helpers/connect';
import { startEhrServer, type EhrServer } from '../helpers/ehr-server';
import { freshSchema } from '../helpers/env';
import { startStack, testEnv, type TestStack } from '../helpers/stack';

jest.setTimeout(60_000);

const keys = rsaKeys();
const wrongKeys = rsaKeys();
const SECRET_NAME = 'Quirinus Export';
let ehr: EhrServer;
let stack: TestStack;
let env: NodeJS.ProcessEnv;
const log = createLogger('silent');

const smart = (pem: string) => ({ type: 'smart-backend', tokenUrl: ehr.tokenUrl, clientId: 'trialbridge', alg: 'RS384', privateKeyPem: pem });

async function run(args: string[], e: NodeJS.ProcessEnv = env): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await exportPullCommand(args, { log: (s) => (stdout += `${s}\n`), error: (s) => (stderr += `${s}\n`) }, e);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  ehr = await startEhrServer({ auth: { type: 'smart', clients: [{ clientId: 'trialbridge', publicKey: keys.publicKey }] } });
  const schema = freshSchema('export-pull');
  const sites = sitesEnv({ baseUrl: ehr.baseUrl, auth: smart(keys.privateKeyPem), modes: ['poll'] }, [
    { id: 'site-c', tokenSha256: 'c'.repeat(64), fhir: { baseUrl: ehr.baseUrl, auth: smart(wrongKeys.privateKeyPem) } },
    { id: 'site-d', tokenSha256: 'd'.repeat(64), fhir: { baseUrl: 'http://127.0.0.1:1/fhir', timeoutMs: 2000 } },
  ]);
  // Only the mapping workers: the site poller must not fetch the EHR on its own here.
  const extra = { TRIALBRIDGE_SITES: sites, TRIALBRIDGE_WORKER_QUEUES: 'map,evaluate' };
  stack = await startStack('export-pull', extra, 'start', { schema });
  env = testEnv('export-pull', { ...extra, TRIALBRIDGE_QUEUE_PREFIX: stack.config.queuePrefix, TRIALBRIDGE_DB_SCHEMA: schema });
  await ehr.seed([
    { ...patient('MRN-X1'), id: 'p-x1', name: [{ text: SECRET_NAME }] } as Resource,
    { ...patient('MRN-X2'), id: 'p-x2' } as Resource,
    { ...researchSubject('p-x1', 'EXP-001'), id: 'rs-x1' } as Resource,
    { ...bilirubin('p-x1', 1, 85.5), id: 'o-x1' } as Resource,
    { ...bilirubin('p-x1', 2, 40), id: 'o-x2' } as Resource,
    { ...bilirubin('p-x2', 1, 20), id: 'o-x3' } as Resource,
    { resourceType: 'Encounter', id: 'enc-x1', status: 'finished', class: { code: 'AMB' } } as Resource,
  ]);
});

afterAll(async () => {
  await stack?.stop();
  await ehr?.close();
});

describe('a full export', () => {
  let first: Awaited<ReturnType<typeof run>>;
  let summary: any;
  beforeAll(async () => {
    ehr.fail({ method: 'GET', path: /\/fhir\/\$export\?/ }, [{ status: 429, headers: { 'Retry-After': '1' } }]);
    first = await run(['--site', 'site-a', '--json']);
    summary = JSON.parse(first.stdout);
  });

  test('exit 0; every exported resource stored once, by type', () => {
    expect(first.code).toBe(0);
    expect(summary.export.files.map((f: any) => [f.type, f.lines])).toEqual([['Observation', 3], ['ResearchSubject', 1], ['Patient', 2]]);
    expect(summary.import).toMatchObject({
      status: 'completed', site: 'site-a', resources: 6, accepted: 6, acceptedByType: { Patient: 2, ResearchSubject: 1, Observation: 3 }, duplicate: 0, rejected: 0, ignored: 0,
    });
  });

  test('kick-off: 429 honoured (Retry-After 1 s), then 202; status polled after its Retry-After; files with the token; DELETE at the end', () => {
    const kicks = ehr.requests.filter((r) => r.path.startsWith('/fhir/$export'));
    expect(kicks).toHaveLength(2);
    expect(kicks[1].at - kicks[0].at).toBeGreaterThanOrEqual(950);
    const q = new URL(kicks[1].path, 'http://x').searchParams;
    expect(q.get('_type')).toBe('Observation,MedicationAdministration,ResearchStudy,ResearchSubject,Patient');
    expect(q.get('_since')).toBeNull();
    for (const k of kicks) expect(k).toMatchObject({ method: 'GET', prefer: 'respond-async', accept: 'application/fhir+json', authorization: expect.stringMatching(/^Bearer \S+$/) });
    const polls = ehr.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/bulk/status/'));
    expect(polls).toHaveLength(2);
    expect(polls[1].at - polls[0].at).toBeGreaterThanOrEqual(950);
    const files = ehr.requests.filter((r) => r.path.startsWith('/bulk/files/'));
    expect(files).toHaveLength(3);
    for (const f of files) expect(f.authorization).toMatch(/^Bearer \S+$/);
    expect(ehr.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual([polls[0].path]);
    expect(ehr.exports[0].cancelled).toBe(true);
    expect(first.stderr).toMatch(/export-pull: still running \(poll 1, 50% complete\); next poll in 1\.0 s/);
  });

  test('the workers map the exported labs to CRF values of the enrolled subject; the other patient is parked', async () => {
    await stack.settle(30_000);
    const crf = await stack.api('/subjects/EXP-001/crf');
    expect(crf.status).toBe(200);
    expect(crf.body.values.map((v: any) => [v.item, v.unit])).toEqual([['TBIL', 'mg/dL'], ['TBIL', 'mg/dL']]);
    expect(crf.body.values.map((v: any) => Number(v.value))).toContain(5); // 85.5 umol/L
    const states = await stack.db.query<{ resource_id: string; state: string }>("SELECT resource_id, state FROM inbound WHERE site = 'site-a' AND resource_type = 'Observation' ORDER BY resource_id");
    expect(Object.fromEntries(states.rows.map((x) => [x.resource_id, x.state]))).toEqual({ 'o-x1': 'mapped', 'o-x2': 'mapped', 'o-x3': 'unmatched' });
  });

  test('the poll cursors continue from the export\'s transactionTime', async () => {
    const c = await stack.db.query<{ resource_type: string; cursor: Date }>("SELECT resource_type, cursor FROM site_cursors WHERE site = 'site-a' ORDER BY resource_type");
    expect(c.rows.map((r) => [r.resource_type, new Date(r.cursor).toISOString()])).toEqual(
      ['MedicationAdministration', 'Observation', 'Patient', 'ResearchStudy', 'ResearchSubject'].map((t) => [t, new Date(summary.export.transactionTime).toISOString()]));
  });

  test('no PHI in the output', () => {
    expect(first.stdout + first.stderr).not.toContain('Quirinus');
  });

  test('pulling the same data again stores only duplicates', async () => {
    const again = await run(['--site', 'site-a']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^export from site site-a: 3 file\(s\), 6 lines, as of .* \(full export\)$/m);
    expect(again.stdout).toContain('accepted:   0 new');
    expect(again.stdout).toContain('duplicate:  6 (already stored');
    const n = await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM inbound WHERE site = 'site-a'");
    expect(Number(n.rows[0].n)).toBe(6);
  });

  test('--since asks for changes only (_since), --types and --keep', async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    await ehr.update({ ...(await ehr.repo.readResource('Observation', 'o-x2')), valueQuantity: { value: 41, unit: 'umol/L', system: 'http://unitsofmeasure.org', code: 'umol/L' } } as Resource);
    const keep = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-export-keep-'));
    try {
      const r = await run(['--site', 'site-a', '--since', before, '--types', 'Observation', '--keep', keep, '--json']);
      expect(r.code).toBe(0);
      const s = JSON.parse(r.stdout);
      expect(s.import).toMatchObject({ resources: 1, accepted: 1, acceptedByType: { Observation: 1 } });
      expect(new URL(ehr.requests.filter((x) => x.path.startsWith('/fhir/$export')).at(-1)!.path, 'http://x').searchParams.get('_since')).toBe(before);
      expect(fs.readdirSync(keep)).toEqual(['0001-Observation.ndjson']);
    } finally {
      fs.rmSync(keep, { recursive: true, force: true });
    }
  });
});

describe('exit codes', () => {
  test.each([
    ['no --site', [], '--site is required'],
    ['a bad --since', ['--site', 'site-a', '--since', 'yesterday'], '--since must be a date'],
    ['a bad --types', ['--site', 'site-a', '--types', 'observation'], '--types must be'],
    ['an unknown site', ['--site', 'site-z'], 'unknown site "site-z"'],
    ['a site without a fhir block', ['--site', 'site-b'], 'has no fhir block'],
  ])('2 on %s', async (_label, args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  test('1 when the token endpoint refuses our key (auth), nothing stored', async () => {
    const r = await run(['--site', 'site-c']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/export from site site-c failed \(auth\).*nothing stored/);
  });

  test('1 when the site is unreachable', async () => {
    const r = await run(['--site', 'site-d']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/export from site site-d failed \(unavailable\)/);
  });
});

describe('arguments', () => {
  test('defaults and DATE → midnight in the site time zone', () => {
    expect(parseExportPullArgs(['--site', 'a'])).toEqual({ site: 'a', since: null, types: ['Observation', 'MedicationAdministration', 'ResearchStudy', 'ResearchSubject', 'Patient'], keep: null, json: false });
    expect(sinceInstant('2024-03-01', 'Asia/Shanghai')).toBe('2024-02-29T16:00:00.000Z');
    expect(sinceInstant('2024-03-31', 'Europe/Berlin')).toBe('2024-03-30T23:00:00.000Z');
    expect(sinceInstant('2024-03-01T08:00:00+08:00', 'UTC')).toBe('2024-03-01T00:00:00.000Z');
    expect(parseExportPullArgs(['--site', 'a', '--since', '2024-02-30'])).toMatch(/--since must be/);
  });
});

describe('the Bulk Data client', () => {
  const client = () => createSiteClient({ id: 'site-a', fhir: stack.config.sites.find((s) => s.id === 'site-a')!.fhir! }, { log });
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-bulk-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('an abort while the export runs cancels it on the server (DELETE)', async () => {
    ehr.bulk.pendingPolls = 1000;
    const abort = new AbortController();
    try {
      const p = exportPull(client(), { since: null, types: ['Patient'], dir, log, signal: abort.signal, onProgress: (e) => e.phase === 'waiting' && e.polls === 2 && abort.abort(new Error('stop')) });
      await expect(p).rejects.toThrow('stop');
      const job = ehr.exports.at(-1)!;
      expect(job.cancelled).toBe(true);
      expect(job.polls).toBe(2);
    } finally {
      ehr.bulk.pendingPolls = 1;
    }
  });

  test('a download failing with 503 is retried; the error file is summarised, not fatal; a failed kick-off is not retried', async () => {
    ehr.bulk.pendingPolls = 0;
    ehr.bulk.errors = [{ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'forbidden', diagnostics: `Patient ${SECRET_NAME} restricted` }, { severity: 'warning', code: 'too-costly' }] }];
    ehr.fail({ method: 'GET', path: /\/bulk\/files\/.*Patient/ }, [{ status: 503 }]);
    try {
      const r = await exportPull(client(), { since: null, types: ['Patient'], dir, log, sleep: async () => undefined });
      expect(r.files.map((f) => [f.type, f.lines, path.basename(f.path)])).toEqual([['Patient', 2, '0001-Patient.ndjson']]);
      expect(r.files[0].bytes).toBe(fs.statSync(r.files[0].path).size);
      expect(r.errors).toEqual({ files: 1, issues: 2, byIssue: { 'error forbidden': 1, 'warning too-costly': 1 } });
      ehr.fail({ method: 'GET', path: /\$export/ }, [{ status: 400 }]);
      await expect(exportPull(client(), { since: null, types: ['Patient'], dir, log })).rejects.toMatchObject({ kind: 'rejected', status: 400 });
    } finally {
      Object.assign(ehr.bulk, { pendingPolls: 1, errors: [] });
    }
  });
});
