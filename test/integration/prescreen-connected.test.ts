/**
 * The pre-screen watch of connected sites against the real FHIR server
 * harness (test/helpers/ehr-server.ts), through the real queue, worker and
 * PostgreSQL: the EHR is asked only for results that can trigger a trial
 * (with a value filter where its CapabilityStatement declares
 * `value-quantity`), and on a hit for that patient's labs in the trial's
 * analyte groups and the Patient, nothing else.
 */
import type { Observation, Patient } from '@medplum/fhirtypes';
import { startEhrServer, type EhrServer } from '../helpers/ehr-server';
import { startStack, testEnv, type TestStack } from '../helpers/stack';
import { connectCommand } from '../../src/cli/connect';
import { sha256Hex } from '../../src/http';
import { sitesEnv, waitFor } from '../helpers/connect';
import { getCursor } from '../../src/store/sites';
import { historyMarker } from '../../src/connect/prescreen-sync';

jest.setTimeout(90_000);

const DAY = 86_400_000;
const UCUM = 'http://unitsofmeasure.org';
let filtering: EhrServer;
let plain: EhrServer;
let grouped: EhrServer;
let inGroup: string;
let outOfGroup: string;
const SITE_G_TOKEN = 'token-site-g-0123456789';
let stack: TestStack;
let sites: string;

const iso = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY - 3_600_000).toISOString();
const person = (mrn: string, age: number): Patient => {
  const now = new Date();
  return { resourceType: 'Patient', identifier: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: mrn }], gender: 'female', birthDate: `${now.getUTCFullYear() - age}-01-15` };
};
const lab = (patientId: string, loinc: string, value: number, unit: string, daysAgo = 0): Observation => ({
  resourceType: 'Observation', status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: loinc }] }, subject: { reference: `Patient/${patientId}` },
  effectiveDateTime: iso(daysAgo), valueQuantity: { value, unit, system: UCUM, code: unit },
});
const tbil = (p: string, umol: number, daysAgo = 0) => lab(p, '14631-6', umol, 'umol/L', daysAgo);
const inr = (p: string, v: number, daysAgo = 0) => lab(p, '6301-6', v, '{INR}', daysAgo);

const rowsOf = async (site: string, patientId: string) =>
  (await stack.db.query<{ resource_type: string; resource_id: string }>(
    `SELECT resource_type, resource_id FROM inbound WHERE site = $1 AND (patient_id = $2 OR (resource_type = 'Patient' AND resource_id = $2)) ORDER BY resource_type, resource_id`,
    [site, patientId])).rows;


const query = (p: string) => new URL(p, 'http://x').searchParams;

beforeAll(async () => {
  filtering = await startEhrServer();
  plain = await startEhrServer();
  filtering.searchParams = { Observation: ['code', 'date', 'patient', 'subject', 'category', 'value-quantity', '_lastUpdated'], Patient: ['_id', 'identifier'] };
  plain.searchParams = { Observation: ['code', 'date', 'patient', 'subject', 'category', '_lastUpdated'] };
  // A site whose pre-screen scope is a FHIR Group (the hepatology ward's patients).
  grouped = await startEhrServer();
  inGroup = (await grouped.create(person('MRN-G1', 45))).id!;
  outOfGroup = (await grouped.create(person('MRN-G2', 45))).id!;
  const group = await grouped.create({ resourceType: 'Group', type: 'person', actual: true, member: [{ entity: { reference: `Patient/${inGroup}` } }] } as never);
  const prescreen = { trials: ['NCT05985863'], scope: 'all' };
  sites = sitesEnv(
      { baseUrl: filtering.baseUrl, modes: ['poll'], pollIntervalMs: 3_600_000, pageSize: 5, searchParams: { Observation: { category: 'laboratory' } } },
      [
        { id: 'site-c', tokenSha256: 'c'.repeat(64), timeZone: 'Asia/Shanghai', fhir: { baseUrl: plain.baseUrl, modes: ['poll'], pollIntervalMs: 3_600_000 }, prescreen },
        { id: 'site-g', tokenSha256: sha256Hex(SITE_G_TOKEN), timeZone: 'Asia/Shanghai', fhir: { baseUrl: grouped.baseUrl, modes: ['poll'], pollIntervalMs: 3_600_000 }, prescreen: { trials: ['NCT05985863'], scope: { group: `Group/${(group as { id: string }).id}` } } },
      ],
    ).replace('"fhir":{', `"prescreen":${JSON.stringify(prescreen)},"fhir":{`);
  stack = await startStack('prescreen-connected', { TRIALBRIDGE_SITES: sites });
  await stack.settle(); // the syncs the schedulers fire at boot
});

afterAll(async () => {
  await stack?.stop();
  await filtering?.close();
  await plain?.close();
  await grouped?.close();
});

it('asks a filtering server for bilirubin >= the threshold only, then the hit patient\'s trial labs and Patient, nothing else', async () => {
  const hit = (await filtering.create(person('MRN-H1', 45))).id;
  const below = (await filtering.create(person('MRN-H2', 52))).id;
  await filtering.seed([
    tbil(hit, 95.8), inr(hit, 1.6, 1), lab(hit, '777-3', 88, '10*9/L', 2),
    inr(hit, 1.1, 400), // older than the look-back: not asked for
    lab(hit, '8867-4', 90, '/min'), // heart rate: in no analyte group of the trial
    tbil(below, 84.9), inr(below, 1.9),
  ]);
  const since = filtering.requests.length;
  await stack.siteQueue.requestSync('site-a', 'test');
  await waitFor('the hit patient\'s Patient and INR stored', async () => {
    const rows = await rowsOf('site-a', hit);
    return rows.some((r) => r.resource_type === 'Patient') && rows.filter((r) => r.resource_type === 'Observation').length >= 3;
  });
  await stack.settle();
  const log = filtering.requests.slice(since);

  // The trigger search: bilirubin codes with a value filter in each reported unit, no patient filter.
  const triggers = log.filter((r) => r.path.startsWith('/fhir/Observation?') && query(r.path).has('value-quantity'));
  expect(triggers.length).toBeGreaterThanOrEqual(1);
  for (const t of triggers) {
    const q = query(t.path);
    expect(q.get('value-quantity')!.split(',').sort()).toEqual([`ge5|${UCUM}|mg/dL`, `ge85.5|${UCUM}|umol/L`]);
    expect(q.get('code')).toContain('http://loinc.org|14631-6');
    expect(q.get('code')).toContain('http://loinc.org|1975-2');
    expect(q.get('code')).not.toContain('6301-6');
    expect(q.has('patient')).toBe(false);
    expect(q.get('category')).toBe('laboratory');
    expect(q.get('date')).toMatch(/^ge\d{4}-\d{2}-\d{2}$/);
  }
  // The history of the hit: the trial's analyte groups (INR, PTA, platelets, albumin, bilirubin) over 180 days.
  const history = log.filter((r) => r.path.startsWith('/fhir/Observation?') && query(r.path).get('patient') === `Patient/${hit}`);
  // One whole history; a later sync (a scheduler tick) asks only for what changed since.
  expect(history.length).toBeGreaterThanOrEqual(1);
  expect(history.filter((h) => !query(h.path).has('_lastUpdated'))).toHaveLength(1);
  const hq = query(history[0].path);
  for (const code of ['6301-6', '5894-1', '777-3', '1751-7', '14631-6']) expect(hq.get('code')).toContain(`http://loinc.org|${code}`);
  expect(hq.get('code')).not.toContain('8867-4');
  const from = new Date(hq.get('date')!.slice(2)).getTime();
  expect(Math.round((Date.now() - from) / DAY)).toBeGreaterThanOrEqual(180);
  expect(Math.round((Date.now() - from) / DAY)).toBeLessThanOrEqual(181);
  // Nothing else: no Conditions, notes, Encounters; no read or search about the patient below the threshold.
  for (const r of log) {
    expect(r.path).toMatch(/^\/fhir\/(metadata|ResearchStudy\?|ResearchSubject\?|Observation\?|Patient\/[^/?]+$)/);
    expect(r.path).not.toContain(below);
  }
  expect(log.filter((r) => r.path.startsWith('/fhir/Patient/')).map((r) => r.path)).toEqual([`/fhir/Patient/${hit}`]);
  // The CapabilityStatement is read once per sync (each sync runs the trigger search once: one page here).
  expect(log.filter((r) => r.path === '/fhir/metadata').length).toBe(triggers.length);

  const stored = await rowsOf('site-a', hit);
  expect(stored.filter((r) => r.resource_type === 'Observation')).toHaveLength(3); // bilirubin, INR, platelets
  expect(await rowsOf('site-a', below)).toEqual([]); // filtered by the server: nothing of hers reached us
  expect(await getCursor(stack.db, 'site-a', 'Observation#prescreen:TBIL')).not.toBeNull();
  expect(await getCursor(stack.db, 'site-a', historyMarker('site-a', 'NCT05985863', hit))).not.toBeNull();
  const sites = await stack.api('/sites');
  expect(JSON.stringify(sites.body)).not.toContain(hit); // the history marker names no patient id

  {
    const c = await waitFor('a potential candidate', async () => (await stack.db.query<{ id: string; status: string }>(
      `SELECT id, status FROM prescreen_candidates WHERE site = 'site-a' AND patient_id = $1 AND trial = 'NCT05985863'`, [hit])).rows[0]);
    expect(c.status).toBe('potential');
    expect(c.id).toMatch(/^PS-[A-Z2-7]{10}$/);
    expect((await stack.db.query(`SELECT 1 FROM prescreen_candidates WHERE patient_id = $1`, [below])).rows).toEqual([]);
  }

  // A second qualifying result: only what changed since the last fetch is asked for (not the whole history again).
  await filtering.create(tbil(hit, 120));
  const second = filtering.requests.length;
  await stack.siteQueue.requestSync('site-a', 'test');
  await waitFor('the second bilirubin stored', async () => (await rowsOf('site-a', hit)).filter((r) => r.resource_type === 'Observation').length === 4);
  await stack.settle();
  const again = filtering.requests.slice(second).filter((r) => query(r.path).get('patient') === `Patient/${hit}`);
  expect(again.length).toBeGreaterThanOrEqual(1);
  for (const a of again) expect(query(a.path).get('_lastUpdated')).toMatch(/^ge\d{4}-/);
  expect(filtering.requests.slice(second).some((r) => r.path.startsWith('/fhir/Patient/'))).toBe(false);
});

it('asks a server without value-quantity by code and date only; a result below the threshold fetches nothing further', async () => {
  const low = (await plain.create(person('MRN-L1', 45))).id;
  await plain.seed([tbil(low, 84.9), inr(low, 1.8)]);
  const since = plain.requests.length;
  await stack.siteQueue.requestSync('site-c', 'test');
  await waitFor('the bilirubin below the threshold stored', async () => (await rowsOf('site-c', low)).length === 1);
  await stack.settle();
  const log = plain.requests.slice(since);
  const triggers = log.filter((r) => r.path.startsWith('/fhir/Observation?'));
  expect(triggers.length).toBeGreaterThanOrEqual(1);
  for (const t of triggers) {
    const q = query(t.path);
    expect(q.has('value-quantity')).toBe(false);
    expect(q.get('code')).toContain('http://loinc.org|14631-6');
    expect(q.get('date')).toMatch(/^ge/);
    expect(q.has('patient')).toBe(false);
  }
  expect(log.some((r) => r.path.startsWith('/fhir/Patient'))).toBe(false);
  expect((await rowsOf('site-c', low)).map((r) => r.resource_type)).toEqual(['Observation']); // the bilirubin only; no INR, no Patient
  {
    await stack.settle();
    expect((await stack.db.query(`SELECT 1 FROM prescreen_candidates WHERE patient_id = $1`, [low])).rows).toEqual([]);
  }
});

it('`trialbridge poll` runs the pre-screen watch too: a hit fetches the patient\'s trial labs and Patient, and the worker finds the candidate', async () => {
  const hit = (await plain.create(person('MRN-CLI1', 45))).id;
  await plain.seed([tbil(hit, 120), inr(hit, 1.7, 1)]);
  const out: string[] = [];
  const err: string[] = [];
  const env = testEnv('prescreen-connected-cli', { TRIALBRIDGE_SITES: sites, TRIALBRIDGE_DB_SCHEMA: stack.schema, TRIALBRIDGE_QUEUE_PREFIX: stack.config.queuePrefix });
  const code = await connectCommand('poll', ['--site', 'site-c'], { log: (x) => out.push(x), error: (x) => err.push(x) }, env);
  expect({ code, err }).toEqual({ code: 0, err: [] });
  expect(out.join('\n')).toMatch(/pre-screen: [1-9]\d* trigger result\(s\), 1 patient\(s\)/);
  expect((await rowsOf('site-c', hit)).map((r) => r.resource_type).sort()).toEqual(['Observation', 'Observation', 'Patient']);
  await waitFor('the potential candidate', async () => (await stack.db.query(`SELECT 1 FROM prescreen_candidates WHERE site = 'site-c' AND patient_id = $1 AND status = 'potential'`, [hit])).rows.length === 1);
});

it('a Group scope: labs the site pushes are pre-screened only for the members the last sync read, nobody else', async () => {
  await stack.siteQueue.requestSync('site-g', 'test');
  await waitFor('the scope read', async () => (await stack.db.query(`SELECT patients FROM prescreen_scope_reads WHERE site = 'site-g'`)).rows[0]?.patients === 1);
  for (const p of [inGroup, outOfGroup]) {
    const entry = (r: Record<string, unknown>) => ({ resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } });
    const bundle = { resourceType: 'Bundle', type: 'batch', entry: [
      entry({ ...person(`MRN-${p}`, 45), id: p }),
      entry({ ...tbil(p, 120), id: `${p}-tbil` }),
      entry({ ...inr(p, 1.7), id: `${p}-inr` }),
    ] };
    const res = await stack.fhir('POST', '', bundle, SITE_G_TOKEN);
    expect(res.status).toBe(200);
  }
  await waitFor('the member\'s candidate', async () => (await stack.db.query(`SELECT 1 FROM prescreen_candidates WHERE site = 'site-g' AND patient_id = $1`, [inGroup])).rows.length === 1);
  await stack.settle();
  await waitFor('the pre-screen queue drained', async () => Object.values(await stack.prescreenQueue.queue.getJobCounts('waiting', 'active', 'delayed')).every((n) => n === 0));
  expect((await stack.db.query(`SELECT 1 FROM prescreen_candidates WHERE site = 'site-g' AND patient_id = $1`, [outOfGroup])).rows).toEqual([]);
});
