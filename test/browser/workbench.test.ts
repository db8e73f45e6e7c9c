/**
 * The workbench in real Chromium, as a data manager uses it (README "Review
 * data"): sign-in through the real OpenID provider's own login form, the
 * subject list, a value corrected with a reason and found in the audit trail
 * and its CSV, a visit accepted, a review item resolved by hand, and a flag
 * that appears in the open inbox without a reload when a site sends new data.
 * Every page visited is screenshotted and checked with axe-core.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { inspect, launchBrowser, screenshot, type TestBrowser } from '../helpers/browser';
import { USER_TOKENS } from '../helpers/stack';
import { load, signInWithProvider, startBrowserStack, subjectBundle, subjectPath, type BrowserStack } from './support';

const SUBJECT = 'WB-001';
let bs: BrowserStack;
let browser: TestBrowser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  bs = await startBrowserStack('browser-workbench');
  await load(bs.stack, subjectBundle(SUBJECT, { withReviewItem: true }));
  browser = await launchBrowser();
  ({ context, page } = await browser.newUser());
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await bs?.stop();
});

/** The CRF value behind a grid cell, read through the API as the admin. */
async function valueOf(cellTestId: string): Promise<{ status: string; value: unknown; id: string }> {
  const id = await page.getByTestId(cellTestId).locator('button.cell-value').first().getAttribute('data-value-id');
  expect(id).toMatch(/^\d+$/);
  const res = await bs.stack.api(`/crf-values/${id}`, USER_TOKENS.admin);
  expect(res.status).toBe(200);
  return { status: res.body.value.status, value: res.body.value.value, id: id! };
}

test('a data manager signs in at the provider and lands on the overview with a Strict, HttpOnly session cookie', async () => {
  await signInWithProvider(page, bs, 'dora', '/ui/');
  expect(new URL(page.url()).pathname).toBe('/ui/');
  expect(await page.locator('body').textContent()).toContain('Dora Data');
  const cookies = await context.cookies(bs.url);
  const session = cookies.find((c) => /tb_session$/.test(c.name));
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);
  await inspect(page, 'overview');
}, 60_000);

test('the subject list shows the subject and opens its page', async () => {
  await page.goto(`${bs.url}/ui/subjects`);
  const link = page.getByRole('link', { name: SUBJECT, exact: true });
  await expect(link.count()).resolves.toBeGreaterThan(0);
  await inspect(page, 'subjects');
  await page.goto(`${bs.url}/ui/subjects?q=${SUBJECT}`);
  await link.first().click();
  await page.waitForURL((u) => u.pathname === subjectPath(SUBJECT));
  await page.getByTestId('cell-SCR-TBIL').waitFor();
  await inspect(page, 'subject');
}, 60_000);

test('correcting a value with a reason: the grid shows it, the panel history and the audit trail (page and CSV) record who, why, old and new', async () => {
  await page.goto(`${bs.url}${subjectPath(SUBJECT)}`);
  const before = await valueOf('cell-SCR-TBIL');
  expect(before).toMatchObject({ status: 'auto', value: 6.2 });
  await page.getByTestId('cell-SCR-TBIL').locator('button.cell-value').first().click();
  const panel = page.getByTestId('value-panel');
  await panel.waitFor({ state: 'visible' });
  await panel.getByText('Observation/wb-001-tbil-scr').waitFor();
  await inspect(page, 'value-panel', { include: '#value-panel' });
  await panel.getByLabel('Corrected value').fill('6.3');
  await panel.getByLabel('Reason').first().selectOption('source-document-verified');
  await panel.getByLabel('Note', { exact: true }).nth(1).fill('checked against the lab report');
  await panel.getByTestId('correct-btn').click();
  // The panel is re-read after the change: its status and history show the correction.
  await panel.locator('dd', { hasText: /^corrected$/ }).waitFor();
  await panel.locator('table').getByText('source-document-verified').first().waitFor();
  await screenshot(page, 'value-panel-corrected');
  await page.locator('[data-close]').click();
  const after = await valueOf('cell-SCR-TBIL');
  expect(after).toMatchObject({ status: 'corrected', value: 6.3 });
  await expect(page.getByTestId('cell-SCR-TBIL').textContent()).resolves.toMatch(/6\.3[\s\S]*corrected/);

  await page.getByRole('link', { name: 'Audit trail' }).click();
  await page.waitForURL((u) => u.pathname === subjectPath(SUBJECT, 'site-a', '/audit'));
  const row = page.getByTestId('audit-table').locator('tbody tr', { hasText: 'source-document-verified' }).first();
  await row.waitFor();
  const text = (await row.textContent()) ?? '';
  expect(text).toContain('Dora Data');
  expect(text).toContain('data-manager');
  expect(text).toMatch(/6\.2[\s\S]*→[\s\S]*6\.3/);
  await inspect(page, 'audit');
  const csvHref = await page.getByTestId('audit-csv').getAttribute('href');
  const csv = await page.request.get(`${bs.url}${csvHref}`);
  expect(csv.status()).toBe(200);
  expect(csv.headers()['content-type']).toMatch(/text\/csv/);
  const body = await csv.text();
  expect(body).toContain('source-document-verified');
  expect(body).toContain('dora');
}, 60_000);

test('accepting visit W1 accepts its automatic values', async () => {
  await page.goto(`${bs.url}${subjectPath(SUBJECT)}`);
  expect(await valueOf('cell-W1-TBIL')).toMatchObject({ status: 'auto' });
  await page.getByTestId('accept-visit-W1').click();
  await page.getByText('Visit W1 accepted.').waitFor();
  expect(await valueOf('cell-W1-TBIL')).toMatchObject({ status: 'accepted', value: 5.4 });
  expect(await valueOf('cell-W1-INR')).toMatchObject({ status: 'accepted', value: 1.6 });
  await expect(page.getByTestId('cell-W1-TBIL').textContent()).resolves.toContain('accepted');
  // A value of another visit stays as it was.
  expect(await valueOf('cell-SCR-INR')).toMatchObject({ status: 'auto' });
  await screenshot(page, 'subject-after-accept');
}, 60_000);

test('a review item (platelets in K/uL) resolved by hand becomes a corrected CRF value tied to its source', async () => {
  await page.goto(`${bs.url}/ui/review`);
  const row = page.locator('tr[data-review-item]', { hasText: 'Observation/wb-001-plt-kul' });
  await row.waitFor();
  await inspect(page, 'review');
  const itemId = await row.getAttribute('data-review-item');
  await row.getByText('Resolve by hand').click();
  await row.getByLabel('CRF item').selectOption('LB.PLT');
  await row.getByLabel('Value').fill('88');
  await row.getByLabel('Unit').fill('10*9/L');
  await row.getByLabel('Reason').first().selectOption('wrong-unit');
  await row.getByLabel('Note').first().fill('K/uL on the lab report means 10^3/uL');
  await screenshot(page, 'review-resolve-form');
  await row.getByRole('button', { name: `Resolve item ${itemId}` }).click();
  await page.locator(`tr[data-review-item="${itemId}"]`).waitFor({ state: 'detached' });
  const items = await bs.stack.api('/review-items', USER_TOKENS.admin);
  const resolved = (items.body.items ?? items.body).find?.((i: { id: unknown }) => String(i.id) === itemId);
  if (resolved) expect(resolved.state ?? resolved.status).not.toBe('open');
  await page.goto(`${bs.url}${subjectPath(SUBJECT)}`);
  const plt = page.locator('button.cell-value', { hasText: '88' }).first();
  await plt.waitFor();
  const id = await plt.getAttribute('data-value-id');
  const value = await bs.stack.api(`/crf-values/${id}`, USER_TOKENS.admin);
  expect(value.body.value).toMatchObject({ item: 'PLT', value: 88, status: 'corrected' });
  expect(value.body.provenance.source.reference).toBe('Observation/wb-001-plt-kul');
}, 60_000);

test('a flag raised by newly sent data appears in the open inbox without a reload', async () => {
  await page.goto(`${bs.url}/ui/flags`);
  await page.getByTestId('flag-inbox').waitFor();
  await inspect(page, 'flags');
  // A marker that a full reload would lose.
  await page.evaluate(() => ((globalThis as unknown as { __noReload: number }).__noReload = 42));
  const rowsBefore = await page.locator('tr[data-flag-id]', { hasText: 'WB-LIVE' }).count();
  expect(rowsBefore).toBe(0);
  // A new subject arrives from the site: its evaluation raises flags (eligibility needs review, ...).
  const sent = await bs.stack.fhir('POST', '', subjectBundle('WB-LIVE'));
  expect(sent.status).toBe(200);
  await page.locator('tr[data-flag-id]', { hasText: 'WB-LIVE' }).first().waitFor({ timeout: 20_000 });
  expect(await page.evaluate(() => (globalThis as unknown as { __noReload?: number }).__noReload)).toBe(42);
  await page.getByTestId('live-notice').waitFor({ state: 'visible' });
  await screenshot(page, 'flags-live');
  await bs.stack.evaluated();
}, 60_000);
