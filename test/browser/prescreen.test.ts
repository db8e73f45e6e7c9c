/**
 * Potential candidates in real Chromium (README "Pre-screening and alerts"):
 * site-a pre-screens NCT05985863 for every patient it sends. A routine
 * bilirubin of 90 umol/L with INR 1.6 for a 45-year-old with no enrollment is
 * pushed; the investigator, signed in through the provider, sees the
 * potential candidate in the list, opens it (evidence and criteria to check),
 * starts screening with a subject number, and then finds the subject in the
 * subject list. axe and a screenshot on every page.
 */
import type { Page } from 'playwright-core';
import { sha256Hex } from '../../src/http';
import { inspect, launchBrowser, screenshot, type TestBrowser } from '../helpers/browser';
import { SITE_TOKENS, USER_TOKENS } from '../helpers/stack';
import { load, signInWithProvider, startBrowserStack, TRIAL, type BrowserStack } from './support';

const PATIENT = 'ps-browser-pat';
const SUBJECT = 'PS-BROWSER-001';
/** 45 or 46 years old today: well inside NCT05985863's 18-70 (I1). */
const BIRTH_DATE = `${new Date().getUTCFullYear() - 46}-03-17`;
let bs: BrowserStack;
let browser: TestBrowser;
let ivan: Page;

const day = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
const LAB = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }];
const lab = (id: string, loinc: string, value: number, unit: string) => ({
  resourceType: 'Observation', id, status: 'final', category: LAB, code: { coding: [{ system: 'http://loinc.org', code: loinc }] },
  subject: { reference: `Patient/${PATIENT}` }, effectiveDateTime: `${day(1)}T08:00:00+08:00`,
  valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
});
const put = (r: { resourceType: string; id: string }) => ({ resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } });

beforeAll(async () => {
  const sites = [
    { id: 'site-a', tokenSha256: sha256Hex(SITE_TOKENS['site-a']), timeZone: 'Asia/Shanghai', prescreen: { trials: [TRIAL], scope: 'all' } },
    { id: 'site-b', tokenSha256: sha256Hex(SITE_TOKENS['site-b']), timeZone: 'Asia/Shanghai' },
  ];
  bs = await startBrowserStack('browser-prescreen', { TRIALBRIDGE_SITES: JSON.stringify(sites) });
  browser = await launchBrowser();
  ({ page: ivan } = await browser.newUser());
  await signInWithProvider(ivan, bs, 'ivan', '/ui/prescreen');
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await bs?.stop();
});

/** Until the pre-screen worker has stored the candidate (jobs are debounced per patient). */
async function candidateId(): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const r = await bs.stack.db.query<{ id: string }>("SELECT id FROM prescreen_candidates WHERE site = 'site-a' AND trial = $1 AND patient_id = $2 AND status = 'potential'", [TRIAL, PATIENT]);
    if (r.rows.length) return r.rows[0].id;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('no potential candidate was stored');
}

test('an investigator sees a potential candidate after a qualifying lab is pushed, opens it and starts screening; the subject is then in the subject list', async () => {
  await ivan.getByTestId('no-candidates').waitFor();
  await inspect(ivan, 'prescreen-empty');

  await load(bs.stack, { resourceType: 'Bundle', type: 'batch', entry: [
    put({ resourceType: 'Patient', id: PATIENT, gender: 'male', birthDate: BIRTH_DATE, identifier: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: 'MRN-PS-BROWSER' }] } as never),
    put(lab('ps-browser-tbil', '14631-6', 90, 'umol/L')),
    put(lab('ps-browser-inr', '6301-6', 1.6, '{INR}')),
  ] });
  const id = await candidateId();

  await ivan.goto(`${bs.url}/ui/prescreen`);
  const row = ivan.getByTestId(`candidate-row-${id}`);
  await row.waitFor();
  const text = await row.textContent();
  expect(text).toContain('TBIL 5.26 mg/dL');
  expect(text).toContain('INR 1.6');
  expect(text).toContain(day(1));
  // Minimum necessary: no MRN, no birth date on the page.
  const html = await ivan.content();
  expect(html).not.toContain('MRN-PS-BROWSER');
  expect(html).not.toContain(BIRTH_DATE);
  await inspect(ivan, 'prescreen-list');

  await row.getByRole('link', { name: id }).click();
  await ivan.waitForURL((u) => u.pathname === `/ui/prescreen/${id}`);
  await expect(ivan.getByTestId('candidate-status').getAttribute('data-status')).resolves.toBe('potential');
  await expect(ivan.getByTestId('evidence-I2a').textContent()).resolves.toContain('TBIL 5.26 mg/dL');
  await ivan.getByTestId('to-check-I2c').waitFor();
  await inspect(ivan, 'prescreen-candidate');

  const form = ivan.getByTestId('start-screening-form');
  await form.getByLabel(/subject number/i).fill(SUBJECT);
  await form.getByRole('button', { name: `Start screening ${id}` }).click();
  await ivan.getByTestId('action-msg').getByText('Screening started.').waitFor();
  await expect(ivan.getByTestId('candidate-status').getAttribute('data-status')).resolves.toBe('screening');
  await expect(ivan.getByTestId('screening-subject').textContent()).resolves.toBe(SUBJECT);
  await screenshot(ivan, 'prescreen-screening');

  // The candidate's flag is resolved and the access log has the investigator's views.
  const flags = await bs.stack.db.query<{ status: string }>("SELECT status FROM flags WHERE code = 'potential-candidate' AND subject = $1", [id]);
  expect(flags.rows.map((f) => f.status)).toEqual(['resolved']);
  const views = await bs.stack.db.query<{ user_id: string; access: string }>('SELECT user_id, access FROM prescreen_access_log WHERE candidate_id = $1 ORDER BY id', [id]);
  expect(views.rows.map((v) => v.access)).toEqual(expect.arrayContaining(['list', 'view', 'start-screening']));
  expect(new Set(views.rows.map((v) => v.user_id))).toEqual(new Set(['ivan']));

  // The patient now follows the normal path: an enrolled subject with the parked labs as CRF values.
  await bs.stack.evaluated();
  await ivan.getByTestId('screening-subject').click();
  await ivan.waitForURL((u) => u.pathname === `/ui/subjects/${TRIAL}/site-a/${SUBJECT}`);
  await ivan.goto(`${bs.url}/ui/subjects?trial=${TRIAL}`);
  const subjectRow = ivan.getByTestId(`subject-row-${SUBJECT}`);
  await subjectRow.waitFor();
  // The enrollment group of a ResearchSubject in status candidate (README "Review data", subject list).
  await expect(subjectRow.textContent()).resolves.toMatch(/\bCandidate\b/);
  await inspect(ivan, 'prescreen-subject-list');
  const crf = await bs.stack.api(`/subjects/${SUBJECT}/crf?trial=${TRIAL}&site=site-a`, USER_TOKENS.inv);
  expect(crf.status).toBe(200);
  expect((crf.body.values as { item: string }[]).map((v) => v.item)).toEqual(expect.arrayContaining(['TBIL', 'INR']));
}, 120_000);

test('the investigator sets notification preferences: digest, only potential candidates and eligible subjects, an own address', async () => {
  await ivan.goto(`${bs.url}/ui/notifications`);
  const form = ivan.getByTestId('notification-form');
  await expect(form.getByLabel(/every flag code/i).isChecked()).resolves.toBe(true);
  await inspect(ivan, 'notifications');
  await form.getByLabel('Email address').fill('ivan@hospital.example');
  await form.getByLabel(/every flag code/i).uncheck();
  for (const box of await form.locator('input[name="codes"]').all()) {
    const code = await box.getAttribute('value');
    if (code === 'potential-candidate' || code === 'eligible') await box.check();
    else await box.uncheck();
  }
  await form.getByLabel('Everything in the daily digest').check();
  await form.getByRole('button', { name: 'Save preferences' }).click();
  await ivan.getByTestId('action-msg').getByText('Preferences saved.').waitFor();
  await expect(ivan.getByTestId('notification-form').getByLabel(/every flag code/i).isChecked()).resolves.toBe(false);
  await expect(ivan.getByTestId('notification-form').getByLabel('Email address').inputValue()).resolves.toBe('ivan@hospital.example');
  await screenshot(ivan, 'notifications-saved');
  const pref = await bs.stack.db.query<{ email: string; codes: string[]; mode: string }>("SELECT email, codes, mode FROM notification_preferences WHERE user_id = 'ivan'");
  expect(pref.rows).toEqual([{ email: 'ivan@hospital.example', codes: ['potential-candidate', 'eligible'], mode: 'digest' }]);
}, 60_000);
