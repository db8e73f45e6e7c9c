/**
 * Workbench pages, server side, on the real stack: each page answers HTML with
 * the expected content for a permitted user, nothing outside a user's trials
 * and sites shows, untrusted text is rendered inert, and /ui/events streams a
 * subject event when new data arrive. Fixture: p-missed-partial-short-interval
 * (NCT05985863, three subjects with screening INR and infusions) sent as site-a.
 */
import http from 'node:http';
import { FIXTURES_DIR, listFixtures, sendBundle } from '../../scripts/fixtures-lib';
import { sha256Hex } from '../../src/http';
import { SITE_TOKENS, startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

const BEA = 'token-bea-site-b-0123456789';
const MONA = 'token-mona-monitor-0123456789';
const TRIAL = 'NCT05985863';
const SUBJ = 'p-missed-partial-short-interval-a';
const EVIL = '<script>alert(1)</script>';
let stack: TestStack;

beforeAll(async () => {
  const users = [
    { id: 'ada', role: 'admin', tokenSha256: sha256Hex(USER_TOKENS.admin) },
    { id: 'dora', role: 'data-manager', tokenSha256: sha256Hex(USER_TOKENS.dm), name: 'Dora Data' },
    { id: 'ivan', role: 'investigator', tokenSha256: sha256Hex(USER_TOKENS.inv), name: 'Ivan Inv' },
    { id: 'bea', role: 'data-manager', tokenSha256: sha256Hex(BEA), sites: ['site-b'] },
    { id: 'mona', role: 'monitor', tokenSha256: sha256Hex(MONA) },
  ];
  stack = await startStack('ui-pages', { TRIALBRIDGE_USERS: JSON.stringify(users) });
  const fixture = listFixtures(FIXTURES_DIR).find((c) => c.name === 'p-missed-partial-short-interval')!;
  for (const input of fixture.inputs) await sendBundle(stack.url, SITE_TOKENS['site-a'], input.body);
  // A subject at site-b, and one whose subject number is markup (an EHR may send anything).
  await sendBundle(stack.url, SITE_TOKENS['site-b'], subjectBundle('b1', 'ui-site-b-subject'));
  await sendBundle(stack.url, SITE_TOKENS['site-a'], subjectBundle('evil', EVIL));
  await stack.evaluated();
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

function subjectBundle(key: string, subject: string) {
  return {
    resourceType: 'Bundle', type: 'batch',
    entry: [
      { resource: { resourceType: 'Patient', id: `ui-pat-${key}`, identifier: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: `MRN-ui-${key}` }], gender: 'female', birthDate: '1970-01-01' }, request: { method: 'PUT', url: `Patient/ui-pat-${key}` } },
      {
        resource: {
          resourceType: 'ResearchSubject', id: `ui-rs-${key}`, status: 'screening', identifier: [{ system: 'urn:trialbridge:subject', value: subject }],
          individual: { reference: `Patient/ui-pat-${key}` }, period: { start: '2024-03-01' }, study: { identifier: { system: 'https://clinicaltrials.gov', value: TRIAL } }, assignedArm: 'MSC',
        },
        request: { method: 'PUT', url: `ResearchSubject/ui-rs-${key}` },
      },
    ],
  };
}

async function page(path: string, token: string = USER_TOKENS.dm): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/html' }, redirect: 'manual' });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

const subjectPath = (subject: string, site = 'site-a', tail = '') => `/ui/subjects/${TRIAL}/${site}/${encodeURIComponent(subject)}${tail}`;

test('a browser without a session is sent to sign in, with the page to come back to', async () => {
  const res = await fetch(`${stack.url}/ui/subjects?trial=${TRIAL}`, { headers: { accept: 'text/html' }, redirect: 'manual' });
  expect(res.status).toBe(302);
  expect(res.headers.get('location')).toBe(`/ui/login?return_to=${encodeURIComponent(`/ui/subjects?trial=${TRIAL}`)}`);
  const script = await fetch(`${stack.url}/ui/subjects`, { headers: { accept: 'application/json' } });
  expect(script.status).toBe(401);
});

test('static files are served without sign-in, pages link them and carry no inline script or style', async () => {
  const js = await fetch(`${stack.url}/ui/static/app.js`);
  expect(js.status).toBe(200);
  expect(js.headers.get('content-type')).toMatch(/javascript/);
  const css = await fetch(`${stack.url}/ui/static/app.css`);
  expect(css.status).toBe(200);
  const r = await page('/ui/');
  expect(r.text).toContain('<script src="/ui/static/app.js" defer></script>');
  expect(r.text).not.toMatch(/<script>(?!alert)|<style|\sstyle=|\son[a-z]+=/i);
});

test('overview: per trial, subjects by status, eligibility, open flags by code, review backlog, last data per site', async () => {
  const r = await page('/ui/');
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/text\/html/);
  expect(r.headers.get('cache-control')).toBe('no-store');
  expect(r.text).toContain('<h1>Trial overview</h1>');
  expect(r.text).toMatch(new RegExp(`<h2 id="trial-${TRIAL}">${TRIAL}</h2>`));
  // Three fixture subjects on study; two screening (site-b and the markup one).
  expect(r.text).toContain('data-testid="status-on-study">3<');
  expect(r.text).toContain('data-testid="status-screening">2<');
  expect(r.text).toMatch(/data-testid="eligibility-needs-review">\d+</);
  expect(r.text).toContain('>visit-missed</a>');
  expect(r.text).toContain('>dose-partial</a>');
  expect(r.text).toContain('data-testid="unreviewed-values">3<');
  expect(r.text).toMatch(/<th scope="row">site-a<\/th><td>4<\/td><td><time datetime="[^"]+"><span class="d">\d{4}-\d{2}-\d{2} \d{2}:\d{2}<\/span> \(UTC\+08:00\)<\/time>/);
  // Navigation by role: a data manager has the review queue, a monitor does not.
  expect(r.text).toContain('href="/ui/review"');
  expect((await page('/ui/', MONA)).text).not.toContain('href="/ui/review"');
});

test('subjects: list with counts, filters, search and paging', async () => {
  const all = await page(`/ui/subjects?trial=${TRIAL}`);
  expect(all.status).toBe(200);
  expect(all.text).toContain(`data-testid="subject-row-${SUBJ}"`);
  expect(all.text).toContain(`href="${subjectPath(SUBJ)}"`);
  expect(all.text).toContain('Page 1 of 1 (5 subjects)');
  const onStudy = await page(`/ui/subjects?status=on-study`);
  expect(onStudy.text).toContain('(3 subjects)');
  expect(onStudy.text).not.toContain('ui-site-b-subject');
  const site = await page('/ui/subjects?site=site-b');
  expect(site.text).toContain('data-testid="subject-row-ui-site-b-subject"');
  expect(site.text).toContain('(1 subjects)');
  const search = await page('/ui/subjects?q=p-missed-partial-short-interval-b');
  expect(search.text).toContain('(1 subjects)');
  // LIKE wildcards are matched literally.
  expect((await page('/ui/subjects?q=%25')).text).toContain('(0 subjects)');
  const flagged = await page('/ui/subjects?flags=1');
  expect(flagged.text).toContain(`subject-row-${SUBJ}`);
  const label = /<label for="f-q">Subject number<\/label><input type="search" id="f-q" name="q"/;
  expect(all.text).toMatch(label);
});

test('subject page: visit × item grid with windows and statuses, doses, signatures, role actions, value panel', async () => {
  const r = await page(subjectPath(SUBJ));
  expect(r.status).toBe(200);
  expect(r.text).toContain(`<h1>Subject ${SUBJ}</h1>`);
  // Visit columns with target date, window and status.
  expect(r.text).toContain('data-testid="visit-W1"><span class="visit-code">W1</span> <span class="badge badge-in-window">in window</span><span class="visit-date" title="window 2024-03-09 – 2024-03-13">2024-03-11 ±2 d</span>');
  expect(r.text).toMatch(/data-testid="visit-W2">[\s\S]*?badge-missed">missed</);
  // The screening INR in its cell, as a button that opens the panel, with its review status.
  const cell = /<td data-testid="cell-SCR-INR"><button class="cell-value" data-value-id="(\d+)">1.8 INR <span class="badge badge-auto">auto<\/span><\/button><\/td>/.exec(r.text);
  expect(cell).not.toBeNull();
  // An empty cell is empty (the stylesheet draws the dash); the window reads as an offset from the target.
  expect(r.text).toMatch(/<th scope="row">LB\.TBIL <span class="muted">\(mg\/dL\)<\/span><\/th><td><\/td>/);
  expect(r.text).toContain('<span class="visit-date" title="window 2024-02-26 – 2024-03-04">2024-03-04 −7 d</span>');
  expect(r.text).toMatch(/data-testid="dose-W1"><span class="badge badge-partial">partial<\/span>/);
  // A dose in words and powers of ten with the dose unit; the administration's id on one line, its reference as the tooltip.
  expect(r.text).toContain('<span class="dose">1.5 × 10⁸ cells</span><span class="src" title="MedicationAdministration/p-missed-partial-short-interval-ma-a-w0">p-missed-partial-short-interval-ma-a-w0</span>');
  expect(r.text).toContain('data-testid="signature-SCR" data-status="none"><span class="muted">Not signed</span>');
  expect(r.text).toContain('data-testid="signature-W2" data-status="none"></td>');
  expect(r.text).toContain('data-testid="value-panel"');
  // A data manager reviews; an investigator signs; neither on a missed or upcoming visit without values.
  expect(r.text).toContain('data-testid="accept-visit-SCR">Accept visit SCR</button>');
  expect(r.text).not.toMatch(/accept-visit-W[0-9]/);
  expect(r.text).toContain('data-testid="accept-btn"');
  expect(r.text).not.toContain('data-testid="sign-visit-');
  const inv = await page(subjectPath(SUBJ), USER_TOKENS.inv);
  expect(inv.text).toContain('data-testid="sign-visit-SCR">Sign visit SCR</button>');
  expect(inv.text).not.toMatch(/sign-visit-W[0-9]/);
  expect(inv.text).not.toContain('data-testid="accept-btn"');
  const mon = await page(subjectPath(SUBJ), MONA);
  expect(mon.status).toBe(200);
  expect(mon.text).not.toMatch(/accept-visit-|sign-visit-/);
  expect(r.text).toContain(`href="${subjectPath(SUBJ, 'site-a', '/eligibility')}"`);
  expect(r.text).toContain(`href="${subjectPath(SUBJ, 'site-a', '/audit')}"`);
  expect(r.text).toContain('data-testid="live-notice"');
});

test('a user scoped to site-b gets 403 for a site-a subject and never sees it listed; unknown subjects are 404', async () => {
  const r = await page(subjectPath(SUBJ), BEA);
  expect(r.status).toBe(403);
  expect(r.text).not.toContain('1.8');
  expect((await page(subjectPath(SUBJ, 'site-a', '/eligibility'), BEA)).status).toBe(403);
  expect((await page(subjectPath(SUBJ, 'site-a', '/audit'), BEA)).status).toBe(403);
  const list = await page('/ui/subjects', BEA);
  expect(list.status).toBe(200);
  expect(list.text).not.toContain(SUBJ);
  expect(list.text).toContain('ui-site-b-subject');
  const ov = await page('/ui/', BEA);
  expect(ov.text).toContain('data-testid="status-screening">1<');
  expect(ov.text).not.toContain('<th scope="row">site-a</th>');
  const flags = await page('/ui/flags', BEA);
  expect(flags.text).not.toContain(SUBJ);
  expect((await page(subjectPath('no-such-subject'))).status).toBe(404);
  // The subject exists at site-a, not at site-b: no leak through the site in the path.
  expect((await page(subjectPath(SUBJ, 'site-b'))).status).toBe(404);
});

test('markup in EHR data and in the query is rendered inert', async () => {
  const list = await page(`/ui/subjects?q=${encodeURIComponent('<script>')}`);
  expect(list.text).not.toContain('<script>alert');
  expect(list.text).toContain('value="&lt;script&gt;"');
  const all = await page('/ui/subjects');
  expect(all.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(all.text).not.toContain(EVIL);
  const subj = await page(subjectPath(EVIL));
  expect(subj.status).toBe(200);
  expect(subj.text).toContain('<h1>Subject &lt;script&gt;alert(1)&lt;/script&gt;</h1>');
  expect(subj.text).not.toContain(EVIL);
});

test('eligibility checklist: every criterion with verdict, reason and text; answer forms for investigators on judgement criteria', async () => {
  const r = await page(subjectPath(SUBJ, 'site-a', '/eligibility'), USER_TOKENS.inv);
  expect(r.status).toBe(200);
  expect(r.text).toContain('<h2 id="inclusion-h">Inclusion criteria</h2>');
  expect(r.text).toMatch(/data-testid="criterion-I1"[\s\S]*?Age 18-70 years[\s\S]*?data-testid="verdict" class="verdict"><span class="badge badge-met">met<\/span>[\s\S]*?age 52 completed years/);
  expect(r.text).toMatch(/data-testid="criterion-I3"[\s\S]*?badge-unknown">unknown[\s\S]*?<form data-action="answer" data-criterion="I3"[\s\S]*?<label for="c-I3-met">Met<\/label>/);
  // Computed criteria have no answer form; data managers answer nothing.
  expect(r.text).not.toContain('data-criterion="I1" class="answer-form"');
  expect(r.text).not.toMatch(/<form data-action="answer" data-criterion="I1"/);
  const dm = await page(subjectPath(SUBJ, 'site-a', '/eligibility'));
  expect(dm.text).not.toContain('data-action="answer"');
  expect(dm.text).toContain('data-testid="criterion-E14"');
});

test('review queue: data managers only; lists open review items', async () => {
  const r = await page('/ui/review');
  expect(r.status).toBe(200);
  expect(r.text).toContain('<h2 id="items-h">Open review items</h2>');
  expect(r.text).toContain('<h2 id="pending-h">Values pending re-review</h2>');
  expect((await page('/ui/review', MONA)).status).toBe(403);
  expect((await page('/ui/review', USER_TOKENS.inv)).status).toBe(403);
});

test('flag inbox: open flags by severity and age, filters, actions for those who may act', async () => {
  const r = await page(`/ui/flags?trial=${TRIAL}&code=visit-missed`);
  expect(r.status).toBe(200);
  const ids = [...r.text.matchAll(/data-testid="flag-row-(\d+)"/g)].map((m) => m[1]);
  expect(ids.length).toBeGreaterThan(0);
  expect(r.text).not.toContain('<td>dose-partial</td>');
  expect(r.text).toContain(`Acknowledge<span class="sr-only"> flag ${ids[0]}</span></button>`);
  const all = await page('/ui/flags');
  // Warnings before infos (eligibility-needs-review is info).
  expect(all.text.indexOf('badge-warning')).toBeLessThan(all.text.indexOf('badge-info">info'));
  const mon = await page('/ui/flags', MONA);
  expect(mon.text).toContain('data-testid="flag-row-');
  expect(mon.text).not.toContain('data-action="ack-flag"');
});

test('audit trail: rows with UTC and site-local time, and the CSV link', async () => {
  const r = await page(subjectPath(SUBJ, 'site-a', '/audit'));
  expect(r.status).toBe(200);
  expect(r.text).toContain(`href="/api/audit?trial=${TRIAL}&amp;site=site-a&amp;subject=${SUBJ}&amp;format=csv"`);
  expect(r.text).toMatch(/<td><time datetime="[^"]+">\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z<\/time><span class="site-time">\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+08:00<\/span><\/td>/);
  // The pipeline is named as automatic; the entity and the values in words, not as table names and JSON.
  expect(r.text).toContain('<td class="nw">trialbridge <span class="muted">(automatic)</span></td><td class="nw">system</td><td>created</td>');
  expect(r.text).toMatch(/<td class="nw">Value LB\.INR \(#\d+\)<\/td><td><span class="nw">1\.8 INR \(auto\)<\/span><\/td>/);
  expect(r.text).not.toContain('crf_value');
  expect(r.text).not.toContain('{&quot;');
});

/**
 * An SSE stream read with node:http (destroying the request closes the socket at
 * once; an aborted fetch leaves it to the server's shutdown).
 */
function openStream(token: string): Promise<{ raw: () => string; events: () => any[]; waitFor(pred: (es: any[]) => boolean, ms: number): Promise<boolean>; close(): void; status: number; type: string }> {
  return new Promise((resolve, reject) => {
    let raw = '';
    const req = http.get(`${stack.url}/ui/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => (raw += c));
      const events = () => [...raw.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]));
      res.once('data', () => resolve({
        raw: () => raw, events, status: res.statusCode ?? 0, type: String(res.headers['content-type']),
        close: () => req.destroy(),
        async waitFor(pred, ms) {
          const deadline = Date.now() + ms;
          while (Date.now() < deadline) {
            if (pred(events())) return true;
            await new Promise((r) => setTimeout(r, 50));
          }
          return pred(events());
        },
      }));
    });
    req.on('error', reject);
  });
}

test('live updates: a subject event after new data, scoped to the reader, keys only', async () => {
  const obs = {
    resourceType: 'Observation', id: 'ui-live-tbil', status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '1975-2' }] }, subject: { reference: 'Patient/p-missed-partial-short-interval-pat-a' },
    effectiveDateTime: '2024-03-11T08:00:00+08:00', valueQuantity: { value: 5.2, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  };
  const mine = await openStream(USER_TOKENS.dm);
  const bea = await openStream(BEA);
  try {
    expect(mine.status).toBe(200);
    expect(mine.type).toMatch(/^text\/event-stream/);
    expect(mine.raw()).toContain(': connected');
    const put = await stack.fhir('PUT', '/Observation/ui-live-tbil', obs);
    expect(put.status).toBeLessThan(300);
    const isMine = (e: any) => e.type === 'subject' && e.subject === SUBJ && e.site === 'site-a' && e.trial === TRIAL;
    expect(await mine.waitFor((es) => es.some(isMine), 20_000)).toBe(true);
    expect(mine.events().find(isMine)).toEqual({ type: 'subject', trial: TRIAL, site: 'site-a', subject: SUBJ });
    expect(mine.raw()).not.toContain('5.2');
    // The site-b data manager's stream got nothing about site-a.
    await new Promise((r) => setTimeout(r, 1500));
    expect(bea.raw()).not.toContain(SUBJ);
  } finally {
    mine.close();
    bea.close();
  }
  // The page shows the new value in its visit cell once evaluated.
  await stack.evaluated();
  const r = await page(subjectPath(SUBJ));
  expect(r.text).toMatch(/data-testid="cell-W1-TBIL"><button[^>]*>5\.2 mg\/dL <span class="badge badge-auto">auto/);
}, 40_000);

async function post(path: string, body: unknown, token: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

test('after a data manager accepts a value, the grid shows it accepted and the audit trail names who did it', async () => {
  const before = await page(subjectPath(SUBJ));
  const id = /data-testid="cell-SCR-INR"><button class="cell-value" data-value-id="(\d+)"/.exec(before.text)![1];
  const acc = await post(`/api/crf-values/${id}/accept`, { note: `checked ${EVIL}` }, USER_TOKENS.dm);
  expect(acc.status).toBe(200);
  const after = await page(subjectPath(SUBJ));
  expect(after.text).toMatch(new RegExp(`data-value-id="${id}"[\\s\\S]*?<span class="badge badge-accepted">accepted</span>`));
  const audit = await page(subjectPath(SUBJ, 'site-a', '/audit'));
  expect(audit.text).toMatch(/Dora Data <span class="muted">\(dora\)<\/span><\/td><td class="nw">data-manager<\/td><td>accepted<\/td>/);
  // The note is shown as text.
  expect(audit.text).not.toContain(EVIL);
});

test('an answer to a judgement criterion shows on the checklist with who answered and the new verdict', async () => {
  const res = await post(`/api/subjects/${SUBJ}/answers`, { trial: TRIAL, site: 'site-a', criterion: 'I3', answer: 'met', note: 'consent on file' }, USER_TOKENS.inv);
  expect(res.status).toBe(200);
  const r = await page(subjectPath(SUBJ, 'site-a', '/eligibility'), USER_TOKENS.inv);
  expect(r.text).toMatch(/data-testid="criterion-I3"[\s\S]*?data-testid="verdict" class="verdict"><span class="badge badge-met">met<\/span>[\s\S]*?data-testid="answer">Answered <strong>met<\/strong> by Ivan Inv, <time[^>]*><span class="d">[^<]*<\/span> \(UTC\+08:00\)<\/time>: consent on file/);
  expect(r.text).toMatch(/id="c-I3-met" name="answer" value="met" required checked/);
});

test('signature status per visit: valid, then void with "sign again"', async () => {
  const ins = await stack.db.query<{ id: number }>(
    `INSERT INTO signatures (trial, site, subject, visit, meaning, signer_id, signer_role, printed_name, value_ids, signed_values, values_hash)
     VALUES ($1, 'site-a', $2, 'SCR', 'reviewed and approved', 'ivan', 'investigator', 'Ivan Inv', '{}', '[]', 'x') RETURNING id`,
    [TRIAL, SUBJ],
  );
  const valid = await page(subjectPath(SUBJ));
  expect(valid.text).toMatch(/data-testid="signature-SCR" data-status="valid"><span class="badge badge-valid">signed<\/span> Ivan Inv/);
  await stack.db.query(`UPDATE signatures SET voided_at = now(), void_reason = 'values changed' WHERE id = $1`, [ins.rows[0].id]);
  const voided = await page(subjectPath(SUBJ));
  expect(voided.text).toMatch(/data-testid="signature-SCR" data-status="void"><span class="badge badge-void">void<\/span> Signature voided, sign again/);
});

test('review queue lists an open review item with its source resource and a resolve form over the trial CRF items', async () => {
  const obs = {
    resourceType: 'Observation', id: 'ui-pt-no-unit', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '5902-2' }] },
    subject: { reference: 'Patient/p-missed-partial-short-interval-pat-a' }, effectiveDateTime: '2024-03-04T07:00:00+08:00', valueQuantity: { value: 14.2 },
  };
  expect((await stack.fhir('PUT', '/Observation/ui-pt-no-unit', obs)).status).toBeLessThan(300);
  await stack.evaluated();
  const r = await page('/ui/review');
  const m = /data-testid="review-item-(\d+)"[\s\S]*?<td class="nw">missing-unit<\/td>[\s\S]*?<td><span class="ref">Observation\/<wbr><span class="nw">ui-pt-no-unit<\/span><\/span><\/td>/.exec(r.text);
  expect(m).not.toBeNull();
  const id = m![1];
  expect(r.text).toContain(`<label for="ri-${id}-item">CRF item</label>`);
  expect(r.text).toMatch(new RegExp(`id="ri-${id}-item"[\\s\\S]*?<option value="LB.PT" data-unit="s">LB.PT \\(s\\)</option>`));
  expect(r.text).toContain(`Resolve item ${id}</button>`);
  expect(r.text).toContain(`Dismiss item ${id}</button>`);
  // Not for a data manager of site-b.
  expect((await page('/ui/review', BEA)).text).not.toContain(`review-item-${id}"`);
  const ov = await page('/ui/');
  expect(ov.text).toMatch(/data-testid="open-review-items">[1-9]/);
});

test('the subject list stays one fast query with 1,000 subjects', async () => {
  const inbound = await stack.db.query<{ id: number }>('SELECT min(id) AS id FROM inbound');
  await stack.db.query(
    `INSERT INTO enrollments (site, research_subject_id, trial, subject, status, arm, inbound_id)
     SELECT 'site-b', 'bulk-rs-' || g, $1, 'bulk-' || lpad(g::text, 4, '0'), CASE WHEN g % 3 = 0 THEN 'screening' ELSE 'on-study' END, 'MSC', $2
     FROM generate_series(1, 1000) g`,
    [TRIAL, inbound.rows[0].id],
  );
  await stack.db.query(
    `INSERT INTO flags (trial, subject, site, key, code, severity, message) SELECT $1, 'bulk-' || lpad(g::text, 4, '0'), 'site-b', 'k' || g, 'visit-missed', 'warning', 'm'
     FROM generate_series(1, 1000, 7) g`,
    [TRIAL],
  );
  const flagged = await stack.db.query<{ n: number }>(`SELECT count(DISTINCT subject)::int AS n FROM flags WHERE site = 'site-b' AND status = 'open'`);
  expect(flagged.rows[0].n).toBeGreaterThanOrEqual(143);
  const t0 = Date.now();
  const r = await page(`/ui/subjects?site=site-b&flags=1&page=2`);
  const ms = Date.now() - t0;
  expect(r.status).toBe(200);
  expect(r.text).toContain(`Page 2 of 3 (${flagged.rows[0].n} subjects)`);
  expect([...r.text.matchAll(/data-testid="subject-row-/g)]).toHaveLength(50);
  expect(r.text).toContain('rel="prev"');
  expect(ms).toBeLessThan(1500);
  const search = await page('/ui/subjects?q=bulk-099');
  expect(search.text).toContain('(10 subjects)');
});

test('error pages carry the reader\'s header: name, real roles and navigation', async () => {
  const r = await page(subjectPath('no-such-subject'));
  expect(r.status).toBe(404);
  expect(r.text).toContain('<h1>Not found</h1><p role="alert">no subject no-such-subject in NCT05985863 at site-a</p>');
  expect(r.text).toContain('<span class="roles">(data-manager)</span>');
  expect(r.text).not.toContain('<span class="roles">()</span>');
  expect(r.text).toContain('<nav aria-label="Main">');
  expect(r.text).toContain('href="/ui/review"');
  const refused = await page(subjectPath(SUBJ), BEA);
  expect(refused.status).toBe(403);
  expect(refused.text).toContain('<nav aria-label="Main">');
  // Every page links the icon, so browsers do not ask for /favicon.ico.
  expect(r.text).toContain('<link rel="icon" href="/ui/static/favicon.svg" type="image/svg+xml">');
  const icon = await fetch(`${stack.url}/ui/static/favicon.svg`);
  expect(icon.status).toBe(200);
  expect(icon.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
});

test('audit trail: a correction reads as values with units, the reason\'s label with its code, and the note', async () => {
  const before = await page(subjectPath(SUBJ));
  const id = /data-testid="cell-SCR-INR"><button class="cell-value" data-value-id="(\d+)"/.exec(before.text)![1];
  const res = await post(`/api/crf-values/${id}/correct`, { value: 1.9, reason: 'lab-amended', note: 'amended report of 2024-02-29' }, USER_TOKENS.dm);
  expect(res.status).toBe(200);
  const audit = await page(subjectPath(SUBJ, 'site-a', '/audit'));
  const row = new RegExp(`<td class="nw">Value LB\\.INR \\(#${id}\\)</td><td><span class="nw">1\\.8 INR \\(accepted\\)</span> → <span class="nw">1\\.9 INR \\(corrected\\)</span></td><td class="reason">The laboratory amended the result <code class="muted">lab-amended</code><span class="note">Note: amended report of 2024-02-29</span></td>`);
  expect(audit.text).toMatch(row);
});

test('eligibility checklist: summary first, criterion text once, reasons without internal code systems', async () => {
  const r = await page(subjectPath(SUBJ, 'site-a', '/eligibility'), USER_TOKENS.inv);
  expect(r.status).toBe(200);
  expect(r.text).toMatch(/data-testid="eligibility-summary"[\s\S]*?<dt>Inclusion<\/dt><dd>\d+ met, \d+ not met, \d+ unknown<\/dd>/);
  // I3 was answered above; E3 is a judgement criterion nobody has answered: highlighted and listed in the summary.
  expect(r.text).toMatch(/data-testid="needs-answer">\d+: [\s\S]*?<a href="#c-E3">E3<\/a>/);
  expect(r.text).not.toMatch(/<a href="#c-I3">/);
  expect(r.text).toMatch(/<tr id="c-E3" class="needs-answer" data-testid="criterion-E3"/);
  expect(r.text).not.toContain('urn:trialbridge:');
  expect(r.text).not.toContain('clinician judgement &quot;');
  expect(r.text).toMatch(/data-testid="criterion-E3"[\s\S]*?data-testid="reason">no answer yet \(investigator answer or EHR answer\)<\/span> <span class="muted cite">\(clinical-reference §1\.\d E3\)<\/span>/);
  expect(r.text).toMatch(/data-testid="criterion-I3"[\s\S]*?data-testid="reason">investigator answered yes/);
  // The criterion text once per criterion.
  expect(r.text.split('Willing to sign the informed consent form').length - 1).toBe(1);
});

test('a subject with two years of weekly labs: the page stays small', async () => {
  const labs = [['1975-2', 5.1, 'mg/dL'], ['6301-6', 1.6, '{INR}'], ['2160-0', 1.0, 'mg/dL'], ['2951-2', 137, 'mmol/L'], ['1751-7', 3.3, 'g/dL'], ['777-3', 150, '10*9/L'], ['1742-6', 40, 'U/L'], ['1920-8', 45, 'U/L']] as const;
  const entry: unknown[] = [
    { resource: { resourceType: 'Patient', id: 'ui-pat-long', identifier: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: 'MRN-ui-long' }], gender: 'male', birthDate: '1965-05-05' }, request: { method: 'PUT', url: 'Patient/ui-pat-long' } },
    {
      resource: {
        resourceType: 'ResearchSubject', id: 'ui-rs-long', status: 'on-study', identifier: [{ system: 'urn:trialbridge:subject', value: 'ui-long' }],
        individual: { reference: 'Patient/ui-pat-long' }, period: { start: '2024-03-01' }, study: { identifier: { system: 'https://clinicaltrials.gov', value: TRIAL } }, assignedArm: 'MSC',
      },
      request: { method: 'PUT', url: 'ResearchSubject/ui-rs-long' },
    },
  ];
  for (let week = -1; week < 104; week++) {
    const at = new Date(Date.parse('2024-03-04T07:00:00+08:00') + week * 7 * 86_400_000).toISOString();
    for (const [loinc, value, unit] of labs) {
      const id = `ui-long-${loinc}-w${week + 1}`;
      entry.push({
        resource: {
          resourceType: 'Observation', id, status: 'final', category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
          code: { coding: [{ system: 'http://loinc.org', code: loinc }] }, subject: { reference: 'Patient/ui-pat-long' }, effectiveDateTime: at,
          valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
        },
        request: { method: 'PUT', url: `Observation/${id}` },
      });
    }
  }
  await sendBundle(stack.url, SITE_TOKENS['site-a'], { resourceType: 'Bundle', type: 'batch', entry });
  await stack.evaluated();
  const r = await page(subjectPath('ui-long'));
  expect(r.status).toBe(200);
  const values = [...r.text.matchAll(/class="cell-value"/g)].length;
  expect(values).toBeGreaterThanOrEqual(800);
  const bytes = Buffer.byteLength(r.text);
  // About 200 bytes per value shown, all markup included (a value row is about 170).
  expect(bytes / values).toBeLessThan(220);
}, 120_000);
