/**
 * Scope and cross-site request forgery in real Chromium (README "Review data",
 * "Sign-in"): a user of site-b neither sees nor reaches a site-a subject, in
 * the pages or through /api with her own session and CSRF token; and pages on
 * other origins that auto-submit forms or fire credentialed fetches at /api
 * change nothing (OWASP CSRF Prevention Cheat Sheet: SameSite=Strict cookie,
 * synchronizer token, Origin / Sec-Fetch-Site checks).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect, launchBrowser, screenshot, type TestBrowser } from '../helpers/browser';
import { USER_TOKENS } from '../helpers/stack';
import { load, signInWithProvider, startBrowserStack, subjectBundle, subjectPath, TRIAL, type BrowserStack } from './support';

const A_SUBJECT = 'SEC-A01';
const B_SUBJECT = 'SEC-B01';
let bs: BrowserStack;
let browser: TestBrowser;
let evil: http.Server | null = null;

beforeAll(async () => {
  bs = await startBrowserStack('browser-security');
  await load(bs.stack, subjectBundle(A_SUBJECT));
  await load(bs.stack, subjectBundle(B_SUBJECT), 'site-b');
  browser = await launchBrowser();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  if (evil) await new Promise((r) => evil!.close(r));
  await bs?.stop();
});

/** A CRF value id of a subject (as the admin), with its current state and the subject's audit row count. */
async function snapshot(subject: string, site = 'site-a') {
  const crf = await bs.stack.api(`/subjects/${subject}/crf?trial=${TRIAL}&site=${site}`, USER_TOKENS.admin);
  expect(crf.status).toBe(200);
  const tbil = (crf.body.values as { id: number; item: string; value: unknown; status: string; localDate: string }[]).find((v) => v.item === 'TBIL' && v.localDate === '2024-02-28')!;
  const audit = await bs.stack.api(`/audit?trial=${TRIAL}&site=${site}&subject=${subject}`, USER_TOKENS.admin);
  expect(audit.status).toBe(200);
  const rows = Array.isArray(audit.body) ? audit.body : audit.body.rows ?? audit.body.entries ?? [];
  return { id: tbil.id, value: tbil.value, status: tbil.status, auditRows: rows.length as number };
}

test('a site-b user does not see the site-a subject in the list and is refused its page', async () => {
  const { page } = await browser.newUser();
  await signInWithProvider(page, bs, 'bea', '/ui/subjects');
  await page.getByRole('link', { name: B_SUBJECT, exact: true }).first().waitFor();
  expect(await page.getByRole('link', { name: A_SUBJECT, exact: true }).count()).toBe(0);
  expect(await page.locator('body').textContent()).not.toContain(A_SUBJECT);
  await inspect(page, 'subjects-site-b');
  for (const tail of ['', '/eligibility', '/audit']) {
    const res = await page.goto(`${bs.url}${subjectPath(A_SUBJECT, 'site-a', tail)}`);
    expect([403, 404]).toContain(res!.status());
    const text = (await page.locator('body').textContent()) ?? '';
    // Nothing of the subject's data: no CRF value of the screening panel.
    expect(text).not.toMatch(/6\.2|1\.8 /);
  }
  await inspect(page, 'subject-refused');
  await page.context().close();
}, 60_000);

test("a site-b user's own session and CSRF token do not reach site-a data through /api", async () => {
  const { page } = await browser.newUser();
  await signInWithProvider(page, bs, 'bea', subjectPath(B_SUBJECT, 'site-b'));
  const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
  expect(csrf).toBeTruthy();
  const before = await snapshot(A_SUBJECT);
  const read = await page.request.get(`${bs.url}/api/crf-values/${before.id}`);
  expect([403, 404]).toContain(read.status());
  expect(await read.text()).not.toContain('6.2');
  const list = await page.request.get(`${bs.url}/api/subjects/${A_SUBJECT}/crf?trial=${TRIAL}&site=site-a`);
  if (list.status() === 200) expect((await list.json()).values ?? []).toEqual([]);
  else expect([403, 404]).toContain(list.status());
  const write = await page.request.post(`${bs.url}/api/crf-values/${before.id}/correct`, {
    headers: { 'x-csrf-token': csrf!, origin: bs.url, 'content-type': 'application/json' },
    data: { value: 1, reason: 'transcription-error' },
  });
  expect([403, 404]).toContain(write.status());
  // Her own site's subject works with the same session and token (the refusal above is scope, not a broken session).
  const mine = await page.request.get(`${bs.url}/api/subjects/${B_SUBJECT}/crf?trial=${TRIAL}&site=site-b`);
  expect(mine.status()).toBe(200);
  expect(await snapshot(A_SUBJECT)).toEqual(before);
  await page.context().close();
}, 60_000);

/** Pages an attacker would host: each auto-submits a forged request to the workbench's /api once loaded. */
function attackPages(target: string, valueId: number): Record<string, string> {
  const correct = `${target}/api/crf-values/${valueId}/correct`;
  const accept = `${target}/api/subjects/${A_SUBJECT}/visits/SCR/accept`;
  const doc = (body: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>win a prize</title></head><body>${body}</body></html>`;
  return {
    // JSON smuggled in a text/plain form body (a "simple" request: no CORS preflight).
    '/form-json': doc(`<form id="f" method="POST" action="${correct}" enctype="text/plain">
      <input type="hidden" name='{"value":99,"reason":"transcription-error","x":"' value='"}'></form>
      <script>document.getElementById('f').submit()</script>`),
    // A urlencoded form, as if the server took form fields.
    '/form-urlencoded': doc(`<form id="f" method="POST" action="${accept}">
      <input type="hidden" name="trial" value="${TRIAL}"><input type="hidden" name="site" value="site-a"></form>
      <script>document.getElementById('f').submit()</script>`),
    // Credentialed fetches: no-cors text/plain goes out; a JSON one needs a preflight the server never grants.
    '/fetch': doc(`<p id="done">sending</p><script>
      Promise.allSettled([
        fetch(${JSON.stringify(correct)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ value: 98, reason: 'transcription-error' }) }),
        fetch(${JSON.stringify(correct)}, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: 97, reason: 'transcription-error' }) }),
        fetch(${JSON.stringify(accept)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ trial: ${JSON.stringify(TRIAL)}, site: 'site-a' }) }),
      ]).then(() => { document.getElementById('done').textContent = 'sent'; });
    </script>`),
  };
}

async function startEvil(pages: Record<string, string>): Promise<number> {
  const server = http.createServer((req, res) => {
    const body = pages[req.url ?? ''];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  evil = server;
  return port;
}

test('forged requests from pages on other origins, with the data manager signed in, change nothing', async () => {
  const { page } = await browser.newUser();
  await signInWithProvider(page, bs, 'dora', subjectPath(A_SUBJECT));
  const before = await snapshot(A_SUBJECT);
  expect(before).toMatchObject({ value: 6.2, status: 'auto' });
  const port = await startEvil(attackPages(bs.url, before.id));
  // Same site, other origin (ports do not make a site: the Strict cookie IS sent, so the CSRF token and
  // Origin check must refuse), and another site (localhost vs 127.0.0.1: the Strict cookie is not sent).
  const origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
  let from = '';
  const answers: Promise<{ from: string; path: string; status: number; body: string }>[] = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    const at = from;
    if (u.origin === bs.url && u.pathname.startsWith('/api/') && r.request().method() === 'POST') {
      answers.push(r.text().catch(() => '').then((body) => ({ from: at, path: u.pathname, status: r.status(), body })));
    }
  });
  for (const origin of origins) {
    from = origin;
    for (const path of ['/form-json', '/form-urlencoded']) {
      await page.goto(`${origin}${path}`);
      await page.waitForURL((u) => u.origin === bs.url, { timeout: 10_000 });
      await page.waitForLoadState();
      const shown = (await page.locator('body').textContent()) ?? '';
      expect(shown).toMatch(/csrf-refused|unauthenticated|OperationOutcome/);
      await screenshot(page, `csrf-${new URL(origin).hostname}${path.replace('/', '-')}`);
    }
    await page.goto(`${origin}/fetch`);
    await page.getByText('sent').waitFor();
  }
  // Every forged POST that reached the server was refused: from the same site the cookie came along and the
  // CSRF check said no (403 csrf-refused); from another site the Strict cookie stayed home (401).
  const seen = await Promise.all(answers);
  expect(seen.filter((a) => a.from === origins[0]).length).toBeGreaterThanOrEqual(3);
  expect(seen.filter((a) => a.from === origins[1]).length).toBeGreaterThanOrEqual(3);
  // (The answers to no-cors fetches are opaque: their status is seen, their body is not.)
  const code = (a: { body: string }) => (a.body ? /"code":"(csrf-refused|unauthenticated)"/.exec(a.body)?.[1] ?? a.body.slice(0, 200) : 'opaque');
  for (const a of seen) {
    if (a.from === origins[0]) expect({ path: a.path, status: a.status, code: code(a) }).toEqual({ path: a.path, status: 403, code: expect.stringMatching(/^(csrf-refused|opaque)$/) });
    else expect({ path: a.path, status: a.status, code: code(a) }).toEqual({ path: a.path, status: 401, code: expect.stringMatching(/^(unauthenticated|opaque)$/) });
  }
  expect(seen.filter((a) => code(a) === 'csrf-refused').length).toBeGreaterThanOrEqual(2);
  expect(await snapshot(A_SUBJECT)).toEqual(before);
  // The session itself still works from the workbench's own page (the refusals were not a broken sign-in).
  await page.goto(`${bs.url}${subjectPath(A_SUBJECT)}`);
  await page.getByTestId('accept-visit-SCR').click();
  await page.getByText('Visit SCR accepted.').waitFor();
  expect((await snapshot(A_SUBJECT)).status).toBe('accepted');
  await page.context().close();
}, 90_000);
