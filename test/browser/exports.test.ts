/**
 * Exports in real Chromium (README "Send data to the trial database"): a data
 * manager signs in at the provider, accepts a subject's values, creates an ODM
 * transactional export and a REDCap export on the trial's exports page, and
 * downloads the ODM file (the browser's own download) whose bytes are the
 * file the API serves: XML naming the subject number, never the record number.
 * A session POST without the CSRF token is refused. An investigator is shown
 * neither the link nor the form (403). Every page is checked with axe-core.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { inspect, launchBrowser, screenshot, type TestBrowser } from '../helpers/browser';
import { USER_TOKENS } from '../helpers/stack';
import { load, signInWithProvider, startBrowserStack, subjectBundle, subjectPath, TRIAL, type BrowserStack } from './support';

const SUBJECT = 'EXP-B-001';
const EXPORTS = `/ui/trials/${TRIAL}/exports`;
let bs: BrowserStack;
let browser: TestBrowser;
let dora: Page;

beforeAll(async () => {
  bs = await startBrowserStack('browser-exports');
  await load(bs.stack, subjectBundle(SUBJECT));
  browser = await launchBrowser();
  ({ page: dora } = await browser.newUser());
  await signInWithProvider(dora, bs, 'dora', '/ui/');
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await bs?.stop();
});

/** The exports of the trial as the API lists them (admin token). */
const listed = async () => (await bs.stack.api(`/trials/${TRIAL}/exports`, USER_TOKENS.admin)).body.exports as { id: string; format: string; fileName: string; sha256: string; counts: { values: number } }[];

test('the data manager accepts the screening and week-1 values of the subject', async () => {
  await dora.goto(`${bs.url}${subjectPath(SUBJECT)}`);
  for (const visit of ['SCR', 'W1']) {
    await dora.getByTestId(`accept-visit-${visit}`).click();
    await dora.getByText(`Visit ${visit} accepted.`).waitFor();
  }
}, 60_000);

test('the overview links the exports page; it offers the five formats and lists no export yet', async () => {
  await dora.goto(`${bs.url}/ui/`);
  await dora.getByTestId(`exports-link-${TRIAL}`).click();
  await dora.waitForURL((u) => u.pathname === EXPORTS);
  const form = dora.getByTestId('export-form');
  for (const label of ['ODM transactional', 'ODM snapshot', 'REDCap project', 'CDISC LB', 'CDISC EX']) await expect(form.getByLabel(label).count()).resolves.toBe(1);
  await expect(dora.getByTestId('export-list').textContent()).resolves.toContain('No exports yet.');
  expect(await dora.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Exports' }).count()).toBe(1);
  await inspect(dora, 'exports-empty');
}, 60_000);

test('the Exports navigation entry lists the trials the reader may export, each linking its page', async () => {
  await dora.goto(`${bs.url}/ui/`);
  await dora.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Exports' }).click();
  await dora.waitForURL((u) => u.pathname === '/ui/exports');
  const trials = dora.getByTestId('export-trials');
  await expect(trials.getByRole('link', { name: TRIAL, exact: true }).getAttribute('href')).resolves.toBe(EXPORTS);
  await inspect(dora, 'exports-index');
}, 60_000);

test('creating an ODM transactional export and a REDCap export puts them in the list, newest first', async () => {
  await dora.goto(`${bs.url}${EXPORTS}`);
  await dora.getByLabel(/ODM transactional/).check();
  await dora.getByTestId('create-export').click();
  await dora.getByTestId('action-msg').getByText('Export created').waitFor();
  const [odm] = await listed();
  expect(odm).toMatchObject({ format: 'odm' });
  expect(odm.counts.values).toBeGreaterThan(0);
  await dora.getByTestId(`export-row-${odm.id}`).waitFor();

  await dora.getByLabel(/REDCap project/).check();
  await dora.getByTestId('create-export').click();
  await dora.getByTestId('export-list').locator('tbody tr[data-export-id]').nth(1).waitFor();
  const [redcap] = await listed();
  expect(redcap).toMatchObject({ format: 'redcap' });
  await dora.getByTestId(`export-row-${redcap.id}`).waitFor();
  const rows = dora.getByTestId('export-list').locator('tbody tr');
  await expect(rows.count()).resolves.toBe(2);
  await expect(rows.first().getAttribute('data-export-id')).resolves.toBe(redcap.id);
  const odmRow = (await dora.getByTestId(`export-row-${odm.id}`).textContent()) ?? '';
  expect(odmRow).toContain('Dora Data');
  expect(odmRow).toContain(odm.sha256.slice(0, 12));
  expect(odmRow).toContain('first export');
  await inspect(dora, 'exports-created');
}, 60_000);

test('Download saves the ODM file: its bytes are the record (SHA-256), XML with the subject number and no record number', async () => {
  await dora.goto(`${bs.url}${EXPORTS}`);
  const odm = (await listed()).find((x) => x.format === 'odm')!;
  const [download] = await Promise.all([dora.waitForEvent('download'), dora.getByTestId(`download-${odm.id}`).click()]);
  expect(download.suggestedFilename()).toBe(odm.fileName);
  const file = await download.path();
  const bytes = fs.readFileSync(file!);
  expect(crypto.createHash('sha256').update(bytes).digest('hex')).toBe(odm.sha256);
  const xml = bytes.toString('utf8');
  expect(xml.startsWith('<?xml')).toBe(true);
  expect(xml).toContain(`SubjectKey="${SUBJECT}"`);
  expect(xml).not.toContain(`MRN-${SUBJECT}`);
  expect(xml).not.toContain('1969-04-12');
  const audit = await bs.stack.db.query("SELECT actor, actor_role FROM audit_log WHERE action = 'export.download' AND entity_id = $1", [odm.id]);
  expect(audit.rows).toEqual([{ actor: 'dora', actor_role: 'data-manager' }]);
  await screenshot(dora, 'exports-downloaded');
}, 60_000);

test('a session POST without the CSRF token is refused (csrf-refused), and makes no export', async () => {
  const before = (await listed()).length;
  const res = await dora.request.post(`${bs.url}/api/trials/${TRIAL}/exports`, { data: { format: 'odm-snapshot' }, headers: { origin: bs.url } });
  expect(res.status()).toBe(403);
  expect((await res.json()).issue[0].details.coding[0].code).toBe('csrf-refused');
  expect((await listed()).length).toBe(before);
}, 60_000);

test('an investigator has no Exports link, and the page answers 403 without the form', async () => {
  const { page: ivan } = await browser.newUser();
  await signInWithProvider(ivan, bs, 'ivan', '/ui/');
  expect(await ivan.getByTestId(`exports-link-${TRIAL}`).count()).toBe(0);
  expect(await ivan.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Exports' }).count()).toBe(0);
  const res = await ivan.goto(`${bs.url}${EXPORTS}`);
  expect(res?.status()).toBe(403);
  expect(await ivan.getByTestId('export-form').count()).toBe(0);
  await expect(ivan.getByRole('alert').textContent()).resolves.toContain('export');
  await inspect(ivan, 'exports-investigator-403');
  expect((await ivan.goto(`${bs.url}/ui/exports`))?.status()).toBe(403);
  await ivan.context().close();
}, 60_000);
