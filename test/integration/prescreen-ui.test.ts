/**
 * Pre-screen pages on the server (README "Pre-screening and alerts"): the
 * potential-candidates list per trial and site and the candidate page, with a
 * candidate stored by the pre-screen store from the pure engine's result on
 * the NCT05985863 fixture case. Scope (a site-b user sees nothing of site-a),
 * actions only for those who may act, every view in the access log, and no
 * MRN or birth date in the HTML.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { sha256Hex } from '../../src/http';
import { DEFAULT_MAPPINGS_DIR, loadMappings } from '../../src/mapping';
import { prescreen } from '../../src/protocol/prescreen';
import { loadTrials } from '../../src/protocol/trials';
import { applyOutcome } from '../../src/store/prescreen';
import { FIXTURES_DIR } from '../../scripts/fixtures-lib';
import { SITE_TOKENS, startStack, type TestStack, USER_TOKENS } from '../helpers/stack';
import { relativeDate, substituteDates } from '../helpers/relative-dates';

const TRIAL = 'NCT05985863';
const CASE = 'prescreen-nct05985863-tbil-threshold';
const PATIENT = `${CASE}-a`;
const MONITOR = 'token-monitor-0123456789';
const SITE_B_INV = 'token-inv-site-b-0123456789';
let stack: TestStack;
let id: string;

const page = async (p: string, token: string) => {
  const res = await fetch(`${stack.url}${p}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/html' } });
  return { status: res.status, text: await res.text() };
};

beforeAll(async () => {
  stack = await startStack('prescreen-ui', {
    TRIALBRIDGE_SITES: JSON.stringify([
      { id: 'site-a', tokenSha256: sha256Hex(SITE_TOKENS['site-a']), timeZone: 'Asia/Shanghai', prescreen: { trials: [TRIAL], scope: 'all' } },
      { id: 'site-b', tokenSha256: sha256Hex(SITE_TOKENS['site-b']), timeZone: 'Asia/Shanghai', prescreen: { trials: [TRIAL], scope: 'all' } },
    ]),
    TRIALBRIDGE_USERS: JSON.stringify([
      { id: 'ivan', role: 'investigator', tokenSha256: sha256Hex(USER_TOKENS.inv) },
      { id: 'mona', role: 'monitor', tokenSha256: sha256Hex(MONITOR) },
      { id: 'bea', role: 'investigator', sites: ['site-b'], tokenSha256: sha256Hex(SITE_B_INV) },
    ]),
  });
  // The fixture's qualifying patient, through the pure engine and the store (as the worker does).
  const text = substituteDates(fs.readFileSync(path.join(FIXTURES_DIR, CASE, 'input.json'), 'utf8'), 'Asia/Shanghai');
  const resources = (JSON.parse(text) as { entry: { resource: { resourceType: string; id: string; subject?: { reference: string } } }[] }).entry.map((e) => e.resource);
  const result = prescreen({
    trial: loadTrials().get(TRIAL)!, mappings: loadMappings(DEFAULT_MAPPINGS_DIR), site: { id: 'site-a', timeZone: 'Asia/Shanghai' }, patientId: PATIENT,
    patient: resources.find((r) => r.id === PATIENT) as unknown as Patient,
    observations: resources.filter((r) => r.subject?.reference === `Patient/${PATIENT}`).map((r) => ({ resource: r as unknown as Observation })),
    now: new Date().toISOString(),
  });
  expect(result.kind).toBe('potential');
  await stack.db.transaction((tx) => applyOutcome(tx, { trial: TRIAL, site: 'site-a', patientId: PATIENT, retainDays: 30 }, {
    kind: 'potential', evidence: result.evidence, refs: result.evidence.flatMap((e) => e.refs), toCheck: result.toCheck, ageYears: result.ageYears, screeningDate: result.screeningDate,
  }));
  id = (await stack.db.query<{ id: string }>('SELECT id FROM prescreen_candidates WHERE patient_id = $1', [PATIENT])).rows[0].id;
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const accessRows = async () => (await stack.db.query<{ user_id: string; access: string; user_role: string }>('SELECT user_id, access, user_role FROM prescreen_access_log WHERE candidate_id = $1 ORDER BY id', [id])).rows;

test('the list shows the candidate per trial and site with age, qualifying values with dates and the criteria to check; the view is logged', async () => {
  const res = await page('/ui/prescreen', USER_TOKENS.inv);
  expect(res.status).toBe(200);
  expect(res.text).toContain(`data-testid="candidates-${TRIAL}-site-a"`);
  const row = res.text.slice(res.text.indexOf(`data-testid="candidate-row-${id}"`));
  expect(row).toContain(`href="/ui/prescreen/${id}"`);
  expect(row).toMatch(/<td>45<\/td>/);
  expect(row).toContain('I2a: TBIL 5.26 mg/dL');
  expect(row).toContain('I2b: INR 1.6');
  expect(row).toContain(relativeDate('today-1d', 'Asia/Shanghai'));
  expect(row).toContain('I2c');
  expect(res.text).not.toContain('MRN-');
  expect(res.text).not.toContain(relativeDate('today-45y-30d', 'Asia/Shanghai'));
  expect(await accessRows()).toEqual([{ user_id: 'ivan', access: 'list', user_role: 'investigator' }]);
});

test('the candidate page shows every lab-computable criterion with its values and the judgement criteria; an investigator gets the actions', async () => {
  const res = await page(`/ui/prescreen/${id}`, USER_TOKENS.inv);
  expect(res.status).toBe(200);
  expect(res.text).toContain('data-status="potential"');
  for (const c of ['I1', 'I2a', 'I2b']) expect(res.text).toContain(`data-testid="evidence-${c}"`);
  for (const c of ['I2c', 'I3', 'E1', 'E2', 'E14']) expect(res.text).toContain(`data-testid="to-check-${c}"`);
  expect(res.text).toContain(`data-url="/api/prescreen/${id}/start-screening"`);
  expect(res.text).toContain(`data-url="/api/prescreen/${id}/dismiss"`);
  expect((await accessRows()).at(-1)).toEqual({ user_id: 'ivan', access: 'view', user_role: 'investigator' });
});

test('a monitor reads the candidate but gets no actions; the read is logged under the monitor role', async () => {
  const res = await page(`/ui/prescreen/${id}`, MONITOR);
  expect(res.status).toBe(200);
  expect(res.text).not.toContain('data-testid="start-screening-form"');
  expect(res.text).not.toContain('data-testid="dismiss-form"');
  expect((await accessRows()).at(-1)).toEqual({ user_id: 'mona', access: 'view', user_role: 'monitor' });
});

test('a site-b investigator neither lists nor opens a site-a candidate, and nothing is logged for her', async () => {
  const before = (await accessRows()).length;
  const list = await page('/ui/prescreen', SITE_B_INV);
  expect(list.status).toBe(200);
  expect(list.text).not.toContain(id);
  expect(list.text).toContain('data-testid="no-candidates"');
  const one = await page(`/ui/prescreen/${id}`, SITE_B_INV);
  expect(one.status).toBe(404);
  expect(one.text).not.toContain('TBIL');
  expect(await accessRows()).toHaveLength(before);
});

test('an unknown or malformed pre-screen id is not found', async () => {
  expect((await page('/ui/prescreen/PS-AAAAAAAAAA', USER_TOKENS.inv)).status).toBe(404);
  expect((await page('/ui/prescreen/not-an-id', USER_TOKENS.inv)).status).toBe(404);
});
