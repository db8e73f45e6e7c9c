/**
 * Flag alerts end to end on real PostgreSQL, Redis, a real SMTP server, real
 * webhook receivers checking the HMAC signature, and the FHIR server harness
 * as the site's EHR: one alert per cause, resolution written back, retries
 * with backoff, failed deliveries kept for admins and re-sendable, the digest.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DetectedIssue, Flag } from '@medplum/fhirtypes';
import { sha256Hex } from '../../src/http';
import { saveFlags, type FlagInput, type SubjectKey } from '../../src/store/evaluation';
import { deliveryJobId } from '../../src/queue/notify';
import { startEhrServer, type EhrServer } from '../helpers/ehr-server';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp';
import { SITE_TOKENS, startStack, USER_TOKENS, type TestStack } from '../helpers/stack';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';

const SECRET = 'whsec-0123456789abcdef-test';
let stack: TestStack;
let ehr: EhrServer;
let smtp: SmtpSink;
let hook: WebhookReceiver;
let flaky: WebhookReceiver;
let dead: WebhookReceiver;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-notify-'));
const K: SubjectKey = { trial: 'NCT05985863', subject: 'NT-001', site: 'site-a' };
const flag = (code: string, visit: string | null = null): FlagInput => ({ code, severity: 'info', visit, criterion: null, message: `${code} message with bilirubin 123 umol/L`, evidence: ['Observation/nt-bili'] });

beforeAll(async () => {
  [ehr, smtp, hook, flaky, dead] = await Promise.all([startEhrServer(), startSmtpSink(), startWebhookReceiver(SECRET), startWebhookReceiver(SECRET), startWebhookReceiver(SECRET)]);
  const secretFile = path.join(dir, 'hook.secret');
  fs.writeFileSync(secretFile, SECRET);
  stack = await startStack('notify-alerts', {
    TRIALBRIDGE_PUBLIC_URL: 'https://tb.hospital.example',
    TRIALBRIDGE_SMTP_URL: smtp.url,
    TRIALBRIDGE_SMTP_TLS: 'none',
    TRIALBRIDGE_MAIL_FROM: 'alerts@tb.hospital.example',
    TRIALBRIDGE_NOTIFY_ATTEMPTS: '6',
    TRIALBRIDGE_NOTIFY_RETRY_MS: '20',
    TRIALBRIDGE_WEBHOOKS: JSON.stringify([
      { id: 'main', url: hook.url, secretFile, trials: ['NCT05985863'], codes: ['eligible'] },
      { id: 'flaky', url: flaky.url, secretFile, codes: ['visit-missed'] },
      { id: 'dead', url: dead.url, secretFile, codes: ['dose-missed'] },
    ]),
    TRIALBRIDGE_SITES: JSON.stringify([
      { id: 'site-a', tokenSha256: sha256Hex(SITE_TOKENS['site-a']), timeZone: 'Asia/Shanghai', fhir: { baseUrl: ehr.baseUrl, modes: ['poll'], pollIntervalMs: 86_400_000, writeBack: true } },
      { id: 'site-b', tokenSha256: sha256Hex(SITE_TOKENS['site-b']), timeZone: 'Asia/Shanghai' },
    ]),
    TRIALBRIDGE_USERS: JSON.stringify([
      { id: 'ada', role: 'admin', tokenSha256: sha256Hex(USER_TOKENS.admin) },
      { id: 'dora', role: 'data-manager', tokenSha256: sha256Hex(USER_TOKENS.dm) },
      { id: 'ivan', role: 'investigator', tokenSha256: sha256Hex(USER_TOKENS.inv), email: 'ivan@hospital.example', sites: ['site-a'] },
      { id: 'bob', role: 'investigator', tokenSha256: sha256Hex('token-bob-0123456789'), email: 'bob@hospital.example', sites: ['site-b'] },
      { id: 'mona', role: 'monitor', tokenSha256: sha256Hex('token-mona-0123456789'), email: 'mona@hospital.example' },
    ]),
  });
  // The enrollment that gives the flag its patient in the EHR.
  await stack.fhir('POST', '', {
    resourceType: 'Bundle', type: 'batch',
    entry: [
      { resource: { resourceType: 'Patient', id: 'nt-p1', birthDate: '1980-01-01', gender: 'male', identifier: [{ system: 'urn:mrn', value: 'MRN-778899' }] } },
      { resource: { resourceType: 'ResearchSubject', id: 'nt-rs', status: 'screening', identifier: [{ value: 'NT-001' }], period: { start: '2024-03-01' }, study: { identifier: { value: 'NCT05985863' } }, individual: { reference: 'Patient/nt-p1' } } },
    ].map((e) => ({ ...e, request: { method: 'PUT', url: `${e.resource.resourceType}/${e.resource.id}` } })),
  });
  await stack.evaluated();
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all([ehr?.close(), smtp?.close(), hook?.close(), flaky?.close(), dead?.close()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const openFlags = async () => (await stack.db.query<{ code: string; visit: string | null }>("SELECT code, visit FROM flags WHERE subject = 'NT-001' AND status = 'open'")).rows;
/** Raise exactly these causes (saveFlags resolves the others), as an evaluation would. */
const evaluate = (...flags: FlagInput[]) => stack.db.transaction((tx) => saveFlags(tx, K, flags));
const ehrFlags = async () => (await ehr.repo.search({ resourceType: 'Flag' })).entry?.map((e) => e.resource as Flag) ?? [];
const until = async (what: string, pred: () => Promise<boolean> | boolean, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};
const deliveries = async (code: string) =>
  (await stack.db.query<{ channel: string; target: string; event: string; mode: string; status: string; attempts: number }>(
    'SELECT d.channel, d.target, d.event, d.mode, d.status, d.attempts FROM notify_deliveries d JOIN flags f ON f.id = d.flag_id WHERE f.code = $1 ORDER BY d.id', [code])).rows;
const PHI = ['MRN-778899', 'nt-p1', '1980-01-01', 'bilirubin', '123', 'umol'];

test('a raised eligible flag: one email without PHI, one signed webhook, a Flag on the patient in the EHR; no second alert while open', async () => {
  await evaluate(flag('eligible'));
  const [mail] = await smtp.waitFor(1);
  expect(mail.to).toEqual(['ivan@hospital.example']);
  expect(mail.from).toBe('alerts@tb.hospital.example');
  expect(mail.subject).toBe('[trialbridge] eligible: NCT05985863 at site-a, subject NT-001');
  expect(mail.text).toContain('https://tb.hospital.example/ui/subjects/NCT05985863/site-a/NT-001');
  for (const s of PHI) expect(mail.raw).not.toContain(s);

  const [got] = await hook.waitFor((a) => a.length >= 1);
  expect(got.valid).toBe(true);
  expect(got.body).toEqual({ delivery: expect.any(Number), event: 'raised', code: 'eligible', severity: 'info', trial: 'NCT05985863', site: 'site-a', subject: 'NT-001', visit: null, link: 'https://tb.hospital.example/ui/subjects/NCT05985863/site-a/NT-001' });
  expect(got.headers['idempotency-key']).toBe(String(got.body.delivery));
  expect(Math.abs(Number(got.headers['x-trialbridge-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
  for (const s of PHI) expect(got.raw).not.toContain(s);

  await until('the EHR Flag', async () => (await ehrFlags()).length === 1);
  const [f] = await ehrFlags();
  expect(f).toMatchObject({
    status: 'active', subject: { reference: 'Patient/nt-p1' },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/flag-category', code: 'research' }] }],
    code: { coding: [{ system: 'urn:trialbridge:flag-code', code: 'eligible' }] },
    extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/workflow-researchStudy', valueReference: { identifier: { value: 'NCT05985863' } } }],
  });
  for (const s of ['MRN-778899', 'bilirubin']) expect(JSON.stringify(f)).not.toContain(s);

  // Mona (monitor) and Bob (site-b only) get nothing: scope and role decide.
  await until('every delivery sent', async () => (await deliveries('eligible')).every((d) => d.status === 'sent'));
  expect(await deliveries('eligible')).toEqual([
    { channel: 'email', target: 'ivan', event: 'raised', mode: 'immediate', status: 'sent', attempts: 1 },
    { channel: 'webhook', target: 'main', event: 'raised', mode: 'immediate', status: 'sent', attempts: 1 },
    { channel: 'fhir', target: 'site-a', event: 'raised', mode: 'immediate', status: 'sent', attempts: 1 },
  ]);

  // Re-evaluated with the cause still there: nothing new.
  await evaluate(flag('eligible'));
  await stack.workers!.notifier!.tick();
  expect(await deliveries('eligible')).toHaveLength(3);
  expect(smtp.messages).toHaveLength(1);
  expect(hook.requests).toHaveLength(1);
}, 60_000);

test('resolve → the EHR Flag inactive and a resolved webhook; raised again → alerts again', async () => {
  await evaluate();
  await hook.waitFor((a) => a.length >= 2);
  expect(hook.accepted()[1].body).toMatchObject({ event: 'resolved', code: 'eligible' });
  expect(hook.accepted()[1].valid).toBe(true);
  await until('the EHR Flag inactive', async () => (await ehrFlags())[0]?.status === 'inactive');
  expect((await ehrFlags())[0].period?.end).toEqual(expect.any(String));
  expect(smtp.messages).toHaveLength(1);

  await evaluate(flag('eligible'));
  await smtp.waitFor(2);
  await hook.waitFor((a) => a.length >= 3);
  expect(hook.accepted()[2].body).toMatchObject({ event: 'raised', code: 'eligible' });
  await until('a second EHR Flag', async () => (await ehrFlags()).filter((x) => x.status === 'active').length === 1);
  expect(await ehrFlags()).toHaveLength(2);
}, 60_000);

test('a receiver failing three times then recovering gets exactly one successful delivery', async () => {
  flaky.failNext(3);
  await evaluate(flag('eligible'), flag('visit-missed', 'W4'));
  await flaky.waitFor((a) => a.length >= 1);
  await until('the delivery marked sent', async () => (await deliveries('visit-missed')).some((d) => d.channel === 'webhook' && d.status === 'sent'));
  expect(flaky.requests.map((r) => r.status)).toEqual([503, 503, 503, 204]);
  expect(new Set(flaky.requests.map((r) => r.headers['idempotency-key'])).size).toBe(1);
  expect(flaky.accepted()).toHaveLength(1);
  expect(flaky.accepted()[0].body).toMatchObject({ code: 'visit-missed', visit: 'W4', event: 'raised' });
  expect((await deliveries('visit-missed')).find((d) => d.channel === 'webhook')).toMatchObject({ status: 'sent', attempts: 4 });
  // Not urgent: Ivan's email waits for the digest.
  expect((await deliveries('visit-missed')).find((d) => d.channel === 'email')).toMatchObject({ target: 'ivan', mode: 'digest', status: 'pending' });
}, 60_000);

test('after the last retry a delivery is failed, listed for admins, and a resend delivers it; a dose problem is a DetectedIssue', async () => {
  dead.failNext(1000);
  await evaluate(flag('eligible'), flag('visit-missed', 'W4'), flag('dose-missed', 'W2'));
  await until('the delivery failed', async () => (await deliveries('dose-missed')).some((d) => d.channel === 'webhook' && d.status === 'failed'), 30_000);
  expect(dead.requests).toHaveLength(6);
  const listed = await stack.api('/notifications/deliveries?status=failed', USER_TOKENS.admin);
  expect(listed.status).toBe(200);
  const row = listed.body.rows.find((r: any) => r.target === 'dead');
  expect(row).toMatchObject({ channel: 'webhook', status: 'failed', attempts: 6, lastError: 'webhook dead: answered 503', flag: { code: 'dose-missed', subject: 'NT-001', visit: 'W2' } });
  expect(JSON.stringify(listed.body)).not.toContain('bilirubin');
  expect((await stack.api('/notifications/deliveries?status=failed', USER_TOKENS.dm)).status).toBe(403);
  expect((await stack.api('/notifications/deliveries?status=lost', USER_TOKENS.admin)).body.issue[0]).toMatchObject({ code: 'invalid', expression: ['status'] });

  const resend = (id: number, token: string) => fetch(`${stack.url}/api/notifications/deliveries/${id}/resend`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  expect((await resend(row.id, USER_TOKENS.inv)).status).toBe(403);
  dead.failNext(0);
  const r = await resend(row.id, USER_TOKENS.admin);
  expect(r.status).toBe(202);
  await dead.waitFor((a) => a.length === 1);
  await until('the resent delivery sent', async () => (await deliveries('dose-missed')).some((d) => d.channel === 'webhook' && d.status === 'sent'));
  expect(dead.accepted()[0].valid).toBe(true);
  const again = await resend(row.id, USER_TOKENS.admin);
  expect(again.status).toBe(409);
  expect(((await again.json()) as any).issue[0].code).toBe('conflict');

  await until('the DetectedIssue', async () => ((await ehr.repo.search({ resourceType: 'DetectedIssue' })).entry?.length ?? 0) === 1);
  const di = (await ehr.repo.search({ resourceType: 'DetectedIssue' })).entry![0].resource as DetectedIssue;
  expect(di).toMatchObject({ status: 'final', patient: { reference: 'Patient/nt-p1' }, code: { coding: [{ code: 'dose-missed' }] } });
  await evaluate(flag('eligible'), flag('visit-missed', 'W4'));
  await until('the DetectedIssue cancelled', async () => ((await ehr.repo.readResource('DetectedIssue', di.id!)) as DetectedIssue).status === ('cancelled' as DetectedIssue['status']));
}, 90_000);

test('the digest groups the non-urgent flags into one email per user, once', async () => {
  const before = smtp.messages.length;
  const sent = await stack.workers!.notifier!.digest(new Date());
  expect(sent.users).toBe(1);
  expect(sent.flags).toBeGreaterThanOrEqual(2);
  const [mail] = (await smtp.waitFor(before + 1)).slice(before);
  expect(mail.to).toEqual(['ivan@hospital.example']);
  expect(mail.subject).toMatch(/^\[trialbridge\] digest \d{4}-\d{2}-\d{2}: \d+ flags$/);
  expect(mail.text).toContain('visit-missed: NCT05985863 at site-a, subject NT-001, visit W4');
  expect(mail.text).toContain('dose-missed: NCT05985863 at site-a, subject NT-001, visit W2');
  expect(mail.text).not.toContain('eligible:');
  for (const s of PHI) expect(mail.raw).not.toContain(s);
  expect(await stack.workers!.notifier!.digest(new Date())).toEqual({ users: 0, flags: 0 });
  expect(await openFlags()).toEqual(expect.arrayContaining([{ code: 'visit-missed', visit: 'W4' }]));
}, 30_000);

test('preferences: GET/PUT /api/me/notifications; codes [] stops email, bad input is a precise 400', async () => {
  const put = (body: unknown, token = USER_TOKENS.inv) => fetch(`${stack.url}/api/me/notifications`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect((await stack.api('/me/notifications', USER_TOKENS.inv)).body).toMatchObject({ user: 'ivan', email: 'ivan@hospital.example', codes: ['*'], mode: 'default', saved: false });
  const bad = await put({ codes: 'eligible' });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as any).issue[0]).toMatchObject({ code: 'invalid', expression: ['codes'] });
  expect((await put({ mode: 'hourly' })).status).toBe(400);
  expect((await put({ email: 'not an address' })).status).toBe(400);
  const ok = await put({ codes: [], mode: 'immediate' });
  expect(ok.status).toBe(200);
  expect(await ok.json()).toMatchObject({ codes: [], mode: 'immediate', saved: true });
  const before = smtp.messages.length;
  await evaluate(flag('visit-missed', 'W4'));
  await evaluate(flag('eligible'), flag('visit-missed', 'W4'));
  await hook.waitFor((a) => a.length >= 5);
  await stack.workers!.notifier!.tick();
  expect(smtp.messages).toHaveLength(before);
}, 30_000);

test('a queued delivery whose job was lost (Redis restarted without its data) is queued again and sent', async () => {
  const d = (await stack.db.query<{ id: string; round: number }>(
    `SELECT d.id, d.round FROM notify_deliveries d JOIN flags f ON f.id = d.flag_id WHERE f.code = 'eligible' AND d.channel = 'webhook' AND d.status = 'sent' ORDER BY d.id LIMIT 1`)).rows[0];
  const id = Number(d.id);
  // The state a lost job leaves: queued in the store, nothing in Redis, last touched long ago.
  await stack.workers!.notifier!.queue.remove(deliveryJobId(id, d.round));
  await stack.db.query(`UPDATE notify_deliveries SET status = 'queued', updated_at = now() - interval '1 hour' WHERE id = $1`, [id]);
  const before = hook.accepted().length;
  await stack.workers!.notifier!.tick();
  await until('the delivery sent again', async () => (await stack.db.query<{ status: string }>('SELECT status FROM notify_deliveries WHERE id = $1', [id])).rows[0].status === 'sent');
  const again = hook.accepted().slice(before);
  expect(again).toHaveLength(1);
  expect(again[0].headers['idempotency-key']).toBe(String(id));
  expect(again[0].valid).toBe(true);
}, 60_000);

test('a burst of alerts to one recipient within one poll is one email listing each, and every delivery is sent once', async () => {
  const before = smtp.messages.length;
  // Two subjects of site-b become eligible in one evaluation batch (bob's site); the poll takes both at once.
  await stack.db.transaction(async (tx) => {
    for (const subject of ['NB-101', 'NB-102', 'NB-103']) await saveFlags(tx, { trial: 'NCT05985863', subject, site: 'site-b' }, [flag('eligible')]);
  });
  // The poller's own next tick (a second, concurrent tick could split the burst between two polls).
  await until('the deliveries to bob sent', async () => {
    const r = await stack.db.query<{ status: string }>(`SELECT d.status FROM notify_deliveries d JOIN flags f ON f.id = d.flag_id WHERE d.target = 'bob' AND f.subject LIKE 'NB-10%'`);
    return r.rows.length === 3 && r.rows.every((x) => x.status === 'sent');
  });
  const mails = smtp.messages.slice(before).filter((m) => m.to.includes('bob@hospital.example'));
  expect(mails).toHaveLength(1);
  expect(mails[0].subject).toBe('[trialbridge] 3 alerts: eligible');
  for (const s of ['NB-101', 'NB-102', 'NB-103']) expect(mails[0].text).toContain(`https://tb.hospital.example/ui/subjects/NCT05985863/site-b/${s}`);
  for (const s of PHI) expect(mails[0].raw).not.toContain(s);
  const attempts = await stack.db.query<{ attempts: number }>(`SELECT d.attempts FROM notify_deliveries d JOIN flags f ON f.id = d.flag_id WHERE d.target = 'bob' AND f.subject LIKE 'NB-10%'`);
  expect(attempts.rows.map((x) => x.attempts)).toEqual([1, 1, 1]);
}, 30_000);
