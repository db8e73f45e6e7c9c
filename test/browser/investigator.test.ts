/**
 * The investigator's part in real Chromium (README "Review data"): answering a
 * judgement criterion of the eligibility checklist changes the verdict at
 * once; signing a visit asks for the credentials again at the provider
 * (21 CFR Part 11 §11.200(a)(1): each signing after the first in a session
 * uses at least one component, here the full login); a later correction of a
 * signed value by a data manager voids the signature (§11.70: a signature
 * stays linked to the record it signed), shown live on the investigator's page.
 */
import type { Page } from 'playwright-core';
import { inspect, launchBrowser, screenshot, type TestBrowser } from '../helpers/browser';
import { USER_TOKENS } from '../helpers/stack';
import { load, providerLogin, signInWithProvider, signInWithToken, startBrowserStack, subjectBundle, subjectPath, TRIAL, type BrowserStack } from './support';

const JUDGED = 'INV-001';
const SIGNED = 'INV-002';
let bs: BrowserStack;
let browser: TestBrowser;
let ivan: Page;

beforeAll(async () => {
  bs = await startBrowserStack('browser-investigator');
  await load(bs.stack, subjectBundle(JUDGED));
  await load(bs.stack, subjectBundle(SIGNED));
  browser = await launchBrowser();
  ({ page: ivan } = await browser.newUser());
  await signInWithProvider(ivan, bs, 'ivan', '/ui/');
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await bs?.stop();
});

const eligibility = async (subject: string) =>
  (await bs.stack.api(`/subjects/${subject}/eligibility?trial=${TRIAL}&site=site-a`, USER_TOKENS.inv)).body as { verdict: string; criteria: { id: string; verdict: string; answer: { answer: string; by: string } | null }[] };

test('an investigator answers judgement criterion E3 on the checklist and the verdicts change at once', async () => {
  const before = await eligibility(JUDGED);
  expect(before.criteria.find((c) => c.id === 'E3')).toMatchObject({ verdict: 'unknown', answer: null });
  expect(before.verdict).not.toBe('ineligible');
  await ivan.goto(`${bs.url}${subjectPath(JUDGED, 'site-a', '/eligibility')}`);
  const e3 = ivan.getByTestId('criterion-E3');
  await expect(e3.getByTestId('verdict').textContent()).resolves.toContain('unknown');
  await inspect(ivan, 'eligibility');
  // E3 is an exclusion ("liver cancer or other malignancy"): answered met, the subject is excluded.
  await e3.getByLabel('Met', { exact: true }).check();
  await e3.getByLabel('Note').fill('HCC on the screening CT');
  await e3.getByRole('button', { name: 'Save answer to E3' }).click();
  await ivan.getByTestId('criterion-E3').getByText('Saved: the criterion is now met.').waitFor();
  await expect(ivan.getByTestId('criterion-E3').getByTestId('verdict').textContent()).resolves.toContain('met');
  await expect(ivan.getByTestId('criterion-E3').getByTestId('answer').textContent()).resolves.toContain('HCC on the screening CT');
  await expect(ivan.getByTestId('overall-verdict').textContent()).resolves.toContain('ineligible');
  await screenshot(ivan, 'eligibility-answered');
  const after = await eligibility(JUDGED);
  expect(after.verdict).toBe('ineligible');
  expect(after.criteria.find((c) => c.id === 'E3')).toMatchObject({ verdict: 'met', answer: { answer: 'met' } });
}, 60_000);

test('an investigator sees no review actions on the subject page', async () => {
  await ivan.goto(`${bs.url}${subjectPath(SIGNED)}`);
  await ivan.getByTestId('sign-visit-W1').waitFor();
  expect(await ivan.getByTestId('accept-btn').count()).toBe(0);
  expect(await ivan.getByTestId('accept-visit-W1').count()).toBe(0);
  await inspect(ivan, 'subject-investigator');
}, 60_000);

test('signing visit W1 sends the investigator to the provider to re-enter credentials, then Sign again signs it', async () => {
  await ivan.goto(`${bs.url}${subjectPath(SIGNED)}`);
  await expect(ivan.getByTestId('signature-W1').getAttribute('data-status')).resolves.toBe('none');
  await ivan.getByTestId('sign-visit-W1').click();
  // 403 reauthentication-required → /ui/auth/reauth → the provider's login form (prompt=login).
  await providerLogin(ivan, bs.issuer, 'ivan');
  await ivan.waitForURL((u) => u.pathname === subjectPath(SIGNED));
  expect((await bs.stack.api(`/subjects/${SIGNED}/signatures?trial=${TRIAL}&site=site-a`, USER_TOKENS.inv)).body).toEqual([]);
  await ivan.getByTestId('sign-visit-W1').click();
  await ivan.getByText('Visit W1 signed.').waitFor();
  await expect(ivan.getByTestId('signature-W1').getAttribute('data-status')).resolves.toBe('valid');
  await expect(ivan.getByTestId('signature-W1').textContent()).resolves.toContain('Ivan Investigator');
  await screenshot(ivan, 'subject-signed');
  const sigs = (await bs.stack.api(`/subjects/${SIGNED}/signatures?trial=${TRIAL}&site=site-a`, USER_TOKENS.inv)).body;
  expect(sigs).toEqual([expect.objectContaining({ visit: 'W1', status: 'valid', printedName: 'Ivan Investigator', meaning: 'reviewed and approved' })]);
}, 90_000);

test('a data manager correcting a signed W1 value voids the signature; the investigator sees it without reloading', async () => {
  await ivan.goto(`${bs.url}${subjectPath(SIGNED)}`);
  await ivan.evaluate(() => ((globalThis as unknown as { __noReload: number }).__noReload = 7));
  const { page: dora } = await browser.newUser();
  await signInWithToken(dora, bs.url, USER_TOKENS.dm, subjectPath(SIGNED));
  await dora.getByTestId('cell-W1-INR').locator('button.cell-value').first().click();
  const panel = dora.getByTestId('value-panel');
  await panel.getByLabel('Corrected value').fill('1.7');
  await panel.getByLabel('Reason').first().selectOption('lab-amended');
  await panel.getByTestId('correct-btn').click();
  await panel.locator('dd', { hasText: /^corrected$/ }).waitFor();
  await dora.context().close();

  await ivan.locator('[data-testid="signature-W1"][data-status="void"]').waitFor({ timeout: 20_000 });
  expect(await ivan.evaluate(() => (globalThis as unknown as { __noReload?: number }).__noReload)).toBe(7);
  await expect(ivan.getByTestId('signature-W1').textContent()).resolves.toMatch(/voided, sign again/i);
  await inspect(ivan, 'subject-signature-void');
  const sigs = (await bs.stack.api(`/subjects/${SIGNED}/signatures?trial=${TRIAL}&site=site-a`, USER_TOKENS.inv)).body;
  expect(sigs).toEqual([expect.objectContaining({ visit: 'W1', status: 'void', voidedAt: expect.any(String) })]);
}, 90_000);
