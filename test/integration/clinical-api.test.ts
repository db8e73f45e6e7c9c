/**
 * The clinical API on the real stack (README "Clinical API"): an NCT05985863
 * screening subject (fixture nct05985863-screening) with the date of onset of
 * liver failure and pre-onset values of fixture p-ctp-9-vs-10 (subject a, so
 * E2 is decided), answered by an investigator; e-signatures from browser
 * sessions that did or did not re-authenticate; flags acknowledged and resolved.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sendBundle } from '../../scripts/fixtures-lib';
import { sha256Hex } from '../../src/http';
import { sessionCookieName } from '../../src/http/session';
import { asActor, listAudit } from '../../src/store/audit';
import { listFlags, resolveFlag, saveFlags } from '../../src/store/evaluation';
import { createSession, markReauthenticated } from '../../src/store/sessions';
import { SITE_TOKENS, startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

const TRIAL = 'NCT05985863';
const SITE = 'site-a';
const SUBJECT = 'S-0001';
/** An investigator whose grants cover site-b only. */
const OTHER_SITE_TOKEN = 'token-inv-site-b-0123456789';
const USERS = [
  { id: 'ada', role: 'admin', tokenSha256: sha256Hex(USER_TOKENS.admin) },
  { id: 'dora', role: 'data-manager', tokenSha256: sha256Hex(USER_TOKENS.dm) },
  { id: 'ivan', role: 'investigator', tokenSha256: sha256Hex(USER_TOKENS.inv) },
  { id: 'bea', role: 'investigator', sites: ['site-b'], tokenSha256: sha256Hex(OTHER_SITE_TOKEN) },
];
const fixture = (name: string) => JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures', name, 'input.json'), 'utf8'));

let stack: TestStack;
let patientId: string;

async function post(p: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.url}/api${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const answer = (criterion: string, a: string, note?: string, token: string = USER_TOKENS.inv) =>
  post(`/subjects/${SUBJECT}/answers`, { trial: TRIAL, site: SITE, criterion, answer: a, ...(note ? { note } : {}) }, bearer(token));
const eligibility = async () => (await stack.api(`/subjects/${SUBJECT}/eligibility?trial=${TRIAL}`, USER_TOKENS.inv)).body;
const criterionOf = (e: any, id: string) => e.criteria.find((c: any) => c.id === id);
/** Re-evaluation through the real queue and worker (processEvaluateJob). */
async function reevaluate(): Promise<void> {
  await stack.evaluateQueue.enqueue([{ trial: TRIAL, subject: SUBJECT, site: SITE }]);
  await stack.evaluated();
}
const code = (body: any) => body?.issue?.[0]?.details?.coding?.[0]?.code;

/** A browser session of the investigator, stored as the sign-in would store it; returns the headers its requests carry. */
async function investigatorSession(reauth: boolean): Promise<{ headers: Record<string, string>; id: string }> {
  const cookie = `test-session-${Math.random().toString(36).slice(2)}`;
  const csrf = `csrf-${Math.random().toString(36).slice(2)}`;
  const id = await createSession(stack.db, {
    tokenSha256: sha256Hex(cookie), userId: 'ivan', userName: 'Ivan Investigator', grants: [{ role: 'investigator', trial: '*', site: '*' }],
    via: 'oidc', csrfToken: csrf, idleMs: 15 * 60_000, absoluteMs: 8 * 3600_000, reauthNow: reauth,
  });
  return { id, headers: { cookie: `${sessionCookieName(stack.config)}=${cookie}`, 'x-csrf-token': csrf, origin: stack.url } };
}

beforeAll(async () => {
  stack = await startStack('clinical-api', { TRIALBRIDGE_USERS: JSON.stringify(USERS) });
  await sendBundle(stack.url, SITE_TOKENS[SITE], fixture('nct05985863-screening'));
  await stack.settle();
  const en = await stack.db.query<{ patient_id: string }>('SELECT patient_id FROM enrollments WHERE subject = $1', [SUBJECT]);
  patientId = en.rows[0].patient_id;
  // The onset of liver failure and the pre-onset values of p-ctp-9-vs-10 subject a (Child-Pugh 9, PLT 120: E2 not met), for this patient.
  const ctp = fixture('p-ctp-9-vs-10');
  const entries = ctp.entry
    .filter((e: any) => /^p-ctp-(onset|pre-.*)-a$/.test(e.resource.id))
    .map((e: any) => ({ ...e, resource: { ...e.resource, subject: { reference: `Patient/${patientId}` } } }));
  expect(entries).toHaveLength(7);
  await sendBundle(stack.url, SITE_TOKENS[SITE], { ...ctp, entry: entries });
  await stack.evaluated();
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe('eligibility and judgement answers', () => {
  test('before any answer: needs review, judgement criteria unknown, computable ones decided with CRF-linked evidence', async () => {
    const e = await eligibility();
    expect(e).toMatchObject({ trial: TRIAL, site: SITE, subject: SUBJECT, verdict: 'needs-review' });
    expect(criterionOf(e, 'I3')).toMatchObject({ kind: 'inclusion', type: 'judgement', text: 'Willing to sign the informed consent form', verdict: 'unknown', answer: null });
    expect(criterionOf(e, 'E2')).toMatchObject({ kind: 'exclusion', type: 'computable', verdict: 'not-met' });
    const tbil = criterionOf(e, 'I2a');
    expect(tbil).toMatchObject({ type: 'computable', verdict: 'met' });
    const crf = (await stack.api(`/subjects/${SUBJECT}/crf?trial=${TRIAL}`, USER_TOKENS.inv)).body.values;
    const stored = crf.find((v: any) => v.item === 'TBIL' && v.value === 5);
    expect(tbil.evidence).toEqual([{ crfValueId: stored.id, reference: stored.source.reference, label: 'LB.TBIL 5 mg/dL' }]);
  });

  test('only an investigator answers (403 for a data manager and an admin); nothing is stored', async () => {
    for (const token of [USER_TOKENS.dm, USER_TOKENS.admin]) {
      const r = await answer('I3', 'met', undefined, token);
      expect(r.status).toBe(403);
      expect(code(r.body)).toBe('forbidden');
    }
    expect((await stack.db.query('SELECT 1 FROM clinician_answers')).rows).toHaveLength(0);
  });

  test('an unknown criterion is named; a lab-computable one cannot be answered; a bad answer value is refused', async () => {
    const unknown = await answer('E99', 'met');
    expect(unknown.status).toBe(400);
    expect(code(unknown.body)).toBe('unknown-criterion');
    expect(unknown.body.issue[0].diagnostics).toContain('"E99"');
    const computable = await answer('I2a', 'met');
    expect(computable.status).toBe(400);
    expect(code(computable.body)).toBe('criterion-not-answerable');
    expect(computable.body.issue[0].diagnostics).toContain('lab-computable');
    const bad = await answer('I3', 'yes');
    expect(bad.status).toBe(400);
    expect(code(bad.body)).toBe('invalid-clinical-request');
    expect(bad.body.issue[0].expression).toEqual(['answer']);
  });

  test('answering every judgement criterion makes the subject eligible, at once and in GET /report; not applicable does not block', async () => {
    const e0 = await eligibility();
    const judgement = e0.criteria.filter((c: any) => c.type === 'judgement');
    expect(judgement.map((c: any) => c.id)).toEqual(['I2c', 'I3', 'E1', 'E3', 'E4', 'E5', 'E6', 'E7', 'E8', 'E9', 'E10', 'E11', 'E12', 'E13', 'E14']);
    let last: any;
    for (const c of judgement) {
      const a = c.id === 'E7' ? 'not-applicable' : c.kind === 'inclusion' ? 'met' : 'not-met';
      last = await answer(c.id, a, c.id === 'E7' ? 'male patient' : undefined);
      expect(last.status).toBe(200);
    }
    expect(last.body.verdict).toBe('eligible');
    expect(criterionOf(last.body, 'E7')).toMatchObject({ verdict: 'not-met', reason: 'not applicable (investigator)', answer: { answer: 'not-applicable', note: 'male patient', by: 'ivan' } });
    expect(criterionOf(last.body, 'I3').reason).toMatch(/^investigator answered yes on \d{4}-\d{2}-\d{2} \(ivan\)/);
    const report = await stack.api(`/subjects/${SUBJECT}/report?trial=${TRIAL}`, USER_TOKENS.inv);
    expect(report.body.eligibility.overall).toBe('eligible');
    // The live evaluation ran too: the stored report and the flags say eligible.
    const stored = await stack.db.query<{ report: any }>('SELECT report FROM subject_reports WHERE subject = $1', [SUBJECT]);
    expect(stored.rows[0].report.eligibility.overall).toBe('eligible');
    const flags = (await stack.api(`/flags?subject=${SUBJECT}&status=open`, USER_TOKENS.inv)).body.rows.map((f: any) => f.code);
    expect(flags).toContain('eligible');
    expect(flags).not.toContain('eligibility-needs-review');
  });

  test('a not-met inclusion makes the subject ineligible; not applicable counts an inclusion as met; every answer audited', async () => {
    const no = await answer('I3', 'not-met', 'declined consent');
    expect(no.body.verdict).toBe('ineligible');
    expect(criterionOf(no.body, 'I3')).toMatchObject({ verdict: 'not-met', answer: { answer: 'not-met', note: 'declined consent' } });
    const na = await answer('I3', 'not-applicable');
    expect(na.body.verdict).toBe('eligible');
    expect(criterionOf(na.body, 'I3')).toMatchObject({ verdict: 'met', reason: 'not applicable (investigator)' });
    const audit = await listAudit(stack.db, { entity: 'eligibility_answer', entityId: `${SUBJECT}/I3`, limit: 10 });
    expect(audit.map((a) => [a.actor, a.actorRole, a.field, a.oldValue, a.newValue, a.reason])).toEqual([
      ['ivan', 'investigator', 'I3', null, 'met', null],
      ['ivan', 'investigator', 'I3', 'met', 'not-met', 'declined consent'],
      ['ivan', 'investigator', 'I3', 'not-met', 'not-applicable', null],
    ]);
    expect(audit[0]).toMatchObject({ trial: TRIAL, site: SITE, subject: SUBJECT });
    // Rows are never changed: the history stays in clinician_answers too.
    await expect(stack.db.query(`UPDATE clinician_answers SET answer = 'met'`)).rejects.toThrow(/never changed/);
  });
});

describe('electronic signatures', () => {
  const sign = (headers: Record<string, string>, visit: string | null = 'SCR') =>
    post(`/subjects/${SUBJECT}/signatures`, { trial: TRIAL, site: SITE, visit, meaning: 'reviewed and approved' }, headers);

  test('a bearer token cannot sign: an interactive sign-in is required', async () => {
    const r = await sign(bearer(USER_TOKENS.inv));
    expect(r.status).toBe(403);
    expect(code(r.body)).toBe('reauthentication-required');
    expect(r.body.issue[0].diagnostics).toContain('interactive sign-in');
  });

  test('a session that did not re-authenticate recently cannot sign', async () => {
    const s = await investigatorSession(false);
    const r = await sign(s.headers);
    expect(r.status).toBe(403);
    expect(code(r.body)).toBe('reauthentication-required');
    expect((await stack.db.query('SELECT 1 FROM signatures')).rows).toHaveLength(0);
  });

  test('a data manager cannot sign, re-authenticated or not', async () => {
    const r = await sign(bearer(USER_TOKENS.dm));
    expect(r.status).toBe(403);
    expect(code(r.body)).toBe('forbidden');
  });

  let signatureId: number;
  test('a re-authenticated investigator signs SCR: printed name, times, meaning, value ids and their hash; audited', async () => {
    const s = await investigatorSession(false);
    await markReauthenticated(stack.db, s.id, null);
    const r = await sign(s.headers);
    expect(r.status).toBe(201);
    const assigned = await stack.db.query<{ crf_value_id: string }>(
      `SELECT crf_value_id FROM visit_assignments WHERE subject = $1 AND visit = 'SCR' AND placement <> 'not-selected' ORDER BY crf_value_id`, [SUBJECT],
    );
    expect(r.body).toMatchObject({
      visit: 'SCR', signer: 'ivan', printedName: 'Ivan Investigator', meaning: 'reviewed and approved', status: 'valid', voidedAt: null,
      valueIds: assigned.rows.map((x) => Number(x.crf_value_id)),
    });
    expect(r.body.valueIds.length).toBeGreaterThan(0);
    expect(r.body.valuesHash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.body.signedAtLocal).toMatch(/\+08:00$/);
    expect(Math.abs(Date.parse(r.body.signedAt) - Date.now())).toBeLessThan(60_000);
    signatureId = r.body.id;
    const list = await stack.api(`/subjects/${SUBJECT}/signatures?trial=${TRIAL}`, USER_TOKENS.dm);
    expect(list.body).toEqual([expect.objectContaining({ id: signatureId, status: 'valid', valuesHash: r.body.valuesHash })]);
    const audit = await listAudit(stack.db, { entity: 'signature', entityId: String(signatureId), limit: 10 });
    expect(audit).toEqual([expect.objectContaining({ actor: 'ivan', actorRole: 'investigator', action: 'sign', field: 'SCR' })]);
  });

  test('a correction of a signed value voids the signature after evaluation and raises signature-void; signing again clears it', async () => {
    const tbil = await stack.db.query<{ id: string }>(`SELECT id FROM crf_values WHERE subject = $1 AND item = 'TBIL' AND value = '5'::jsonb`, [SUBJECT]);
    await asActor(stack.db, { actor: { id: 'dora', role: 'data-manager', name: 'Dora' }, action: 'correct', reason: 'transcription error' }, (tx) =>
      tx.query(`UPDATE crf_values SET value = '5.2'::jsonb, status = 'corrected' WHERE id = $1`, [tbil.rows[0].id]),
    );
    await reevaluate();
    const list = (await stack.api(`/subjects/${SUBJECT}/signatures?trial=${TRIAL}`, USER_TOKENS.inv)).body;
    expect(list[0]).toMatchObject({ id: signatureId, status: 'void', voidReason: 'signed values changed: TBIL' });
    const audit = await listAudit(stack.db, { entity: 'signature', entityId: String(signatureId), limit: 10 });
    expect(audit[1]).toMatchObject({ actor: 'trialbridge', actorRole: 'system', action: 'void', reason: 'signed values changed: TBIL' });
    const flag = (await stack.api(`/flags?subject=${SUBJECT}&code=signature-void&status=open`, USER_TOKENS.inv)).body.rows;
    expect(flag).toEqual([expect.objectContaining({ code: 'signature-void', severity: 'warning', visit: 'SCR' })]);
    // Evaluating again keeps the flag (the signature stays void until signed again).
    await reevaluate();
    expect((await stack.api(`/flags?subject=${SUBJECT}&code=signature-void&status=open`, USER_TOKENS.inv)).body.rows).toHaveLength(1);
    const s = await investigatorSession(true);
    const again = await post(`/subjects/${SUBJECT}/signatures`, { trial: TRIAL, site: SITE, visit: 'SCR', meaning: 'reviewed and approved' }, s.headers);
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(signatureId);
    expect((await stack.api(`/flags?subject=${SUBJECT}&code=signature-void&status=open`, USER_TOKENS.inv)).body.rows).toHaveLength(0);
  });

  test('a visit the trial does not define is refused', async () => {
    const s = await investigatorSession(true);
    const r = await post(`/subjects/${SUBJECT}/signatures`, { trial: TRIAL, site: SITE, visit: 'W99', meaning: 'reviewed and approved' }, s.headers);
    expect(r.status).toBe(400);
    expect(r.body.issue[0].expression).toEqual(['visit']);
  });
});

describe('flags: acknowledge and resolve', () => {
  let flagId: number;

  test('acknowledge (who, when, note) and resolve with a note, both audited; resolve needs a note', async () => {
    const open = (await stack.api(`/flags?subject=${SUBJECT}&code=eligible&status=open`, USER_TOKENS.inv)).body.rows;
    expect(open).toHaveLength(1);
    flagId = open[0].id;
    const ack = await post(`/flags/${flagId}/acknowledge`, { note: 'seen' }, bearer(USER_TOKENS.dm));
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ id: flagId, status: 'open', acknowledgedBy: 'dora', acknowledgeNote: 'seen' });
    expect(Date.parse(ack.body.acknowledgedAt)).toBeGreaterThan(Date.now() - 60_000);
    const noNote = await post(`/flags/${flagId}/resolve`, {}, bearer(USER_TOKENS.inv));
    expect(noNote.status).toBe(400);
    expect(noNote.body.issue[0].expression).toEqual(['note']);
    const done = await post(`/flags/${flagId}/resolve`, { note: 'eligibility confirmed at the screening visit' }, bearer(USER_TOKENS.inv));
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'resolved', resolvedBy: 'ivan', resolutionNote: 'eligibility confirmed at the screening visit' });
    const again = await post(`/flags/${flagId}/resolve`, { note: 'twice' }, bearer(USER_TOKENS.inv));
    expect(again.status).toBe(409);
    expect(code(again.body)).toBe('flag-not-open');
    const audit = await listAudit(stack.db, { entity: 'flag', entityId: String(flagId), limit: 10 });
    expect(audit.map((a) => [a.actor, a.actorRole, a.action, a.reason])).toEqual([
      ['dora', 'data-manager', 'acknowledge', 'seen'],
      ['ivan', 'investigator', 'resolve', 'eligibility confirmed at the screening visit'],
    ]);
  });

  test('a resolved flag whose cause is unchanged stays resolved after re-evaluation; a cause gone and back is raised again', async () => {
    await reevaluate();
    await reevaluate();
    const rows = (await stack.api(`/flags?subject=${SUBJECT}&code=eligible`, USER_TOKENS.inv)).body.rows;
    expect(rows.find((f: any) => f.id === flagId)).toMatchObject({ status: 'resolved', resolvedBy: 'ivan' });
    expect(rows.filter((f: any) => f.status === 'open')).toEqual([]);
    await answer('I3', 'not-met');
    await answer('I3', 'met');
    const after = (await stack.api(`/flags?subject=${SUBJECT}&code=eligible&status=open`, USER_TOKENS.inv)).body.rows;
    expect(after).toEqual([expect.objectContaining({ code: 'eligible', resolvedBy: null })]);
    expect(after[0].id).toBeGreaterThan(flagId);
  });

  test('a resolved flag is raised again when its evidence changes while the cause persists', async () => {
    const k = { trial: TRIAL, subject: 'S-FLAG', site: SITE };
    const flag = (evidence: string[]) => ({ code: 'visit-missed', severity: 'warning', visit: 'W1', criterion: null, message: 'no result within the window of W1', evidence });
    expect(await saveFlags(stack.db, k, [flag(['Observation/a'])])).toEqual({ raised: 1, resolved: 0 });
    const [row] = await listFlags(stack.db, { subject: 'S-FLAG', limit: 10 });
    await stack.db.transaction((tx) => resolveFlag(tx, row.id, { id: 'dora', role: 'data-manager', name: 'Dora' }, 'visit done elsewhere'));
    expect(await saveFlags(stack.db, k, [flag(['Observation/a'])])).toEqual({ raised: 0, resolved: 0 });
    expect(await saveFlags(stack.db, k, [flag(['Observation/a', 'Observation/b'])])).toEqual({ raised: 1, resolved: 0 });
    expect((await listFlags(stack.db, { subject: 'S-FLAG', limit: 10 })).map((f) => [f.status, f.resolvedBy])).toEqual([['resolved', 'dora'], ['open', null]]);
  });

  test('a user scoped to another site sees none of these flags and may not act on them, answer, or read the subject', async () => {
    expect((await stack.api(`/flags?subject=${SUBJECT}`, OTHER_SITE_TOKEN)).body.rows).toEqual([]);
    const r = await post(`/flags/${flagId}/acknowledge`, {}, bearer(OTHER_SITE_TOKEN));
    expect(r.status).toBe(403);
    expect((await answer('I3', 'met', undefined, OTHER_SITE_TOKEN)).status).toBe(403);
    // Reads out of scope are not found: the subject's existence at another site is not revealed.
    expect((await stack.api(`/subjects/${SUBJECT}/eligibility?trial=${TRIAL}`, OTHER_SITE_TOKEN)).status).toBe(404);
    expect((await stack.api(`/subjects/${SUBJECT}/signatures?trial=${TRIAL}`, OTHER_SITE_TOKEN)).status).toBe(404);
    expect((await post('/flags/999999/acknowledge', {}, bearer(USER_TOKENS.inv))).status).toBe(404);
  });
});
