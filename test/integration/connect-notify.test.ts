/**
 * Subscriptions and notifications against a real FHIR server
 * (test/helpers/ehr-server.ts, static bearer auth): `trialbridge subscribe`,
 * every notification form, event-number gaps, repeats, scope changes, the
 * published Inferno (Backport IG) notification Bundles replayed as they are.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, ResearchSubject, Subscription } from '@medplum/fhirtypes';
import { startEhrServer, type EhrServer } from '../helpers/ehr-server';
import { SITE_TOKENS, startStack, testEnv, type TestStack } from '../helpers/stack';
import { bilirubin, notificationBundle, patient, researchSubject, sitesEnv, waitFor } from '../helpers/connect';
import { connectCommand } from '../../src/cli/connect';
import { SUBSCRIPTION_TAG } from '../../src/connect/subscriptions';
import { pruneNotifications } from '../../src/store/purge';

jest.setTimeout(60_000);

const INFERNO = path.resolve(__dirname, '../../../shared/fhir-samples/inferno-framework_subscriptions-test-kit');
let ehr: EhrServer;
let stack: TestStack;
let env: NodeJS.ProcessEnv;
let p1: string;
let rs: ResearchSubject;

const ourSubs = async () =>
  (await ehr.repo.searchResources<Subscription>({ resourceType: 'Subscription', filters: [] })).filter((s) => s.meta?.tag?.some((t) => t.system === SUBSCRIPTION_TAG));
const subIdOf = async (key: string) =>
  (await stack.db.query<{ subscription_id: string }>(`SELECT subscription_id FROM site_subscriptions WHERE site = 'site-a' AND key = $1`, [key])).rows[0]?.subscription_id;
const storedIds = async () => new Set((await stack.db.query<{ resource_id: string }>(`SELECT resource_id FROM inbound WHERE site = 'site-a'`)).rows.map((r) => r.resource_id));
const notifications = async () =>
  (await stack.db.query<{ id: number; state: string; type: string | null; problem: string | null; body: string | null }>('SELECT id, state, type, problem, body FROM notifications ORDER BY id')).rows;
const reads = (type: string, id: string) => ehr.requests.filter((r) => r.method === 'GET' && r.path === `/fhir/${type}/${id}`).length;

function cli(cmd: 'subscribe' | 'subscriptions', ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  return connectCommand(cmd, ['--site', 'site-a', ...args], { log: (s) => out.push(s), error: (s) => err.push(s) }, env).then((code) => ({ code, out: out.join('\n'), err: err.join('\n') }));
}

beforeAll(async () => {
  ehr = await startEhrServer({ auth: { type: 'bearer', token: 'ehr-static-token' } });
  const sites = sitesEnv({
    baseUrl: ehr.baseUrl, auth: { type: 'bearer', token: 'ehr-static-token' }, modes: ['subscription'], pollIntervalMs: 3_600_000,
    notificationUrl: 'https://trialbridge.example.org/fhir', notificationToken: SITE_TOKENS['site-a'], payload: 'id-only',
  });
  stack = await startStack('connect-notify', { TRIALBRIDGE_SITES: sites });
  env = testEnv('connect-notify', { TRIALBRIDGE_SITES: sites, TRIALBRIDGE_DB_SCHEMA: stack.schema, LOG_LEVEL: 'silent' });
  p1 = (await ehr.create(patient('MRN-N1'))).id;
});

afterAll(async () => {
  await stack?.stop();
  await ehr?.close();
});

it('subscribe creates our Subscriptions idempotently and lists them', async () => {
  const first = await cli('subscribe', '--json');
  expect(first.code).toBe(0);
  // The worker's first scheduled sync may have reconciled already: either way there is exactly one.
  const r = JSON.parse(first.out);
  expect([...r.created, ...r.unchanged]).toEqual(['ResearchSubject']);
  expect(r).toMatchObject({ updated: [], deleted: [] });
  const subs = await ourSubs();
  expect(subs).toHaveLength(1);
  expect(subs[0]).toMatchObject({ criteria: 'ResearchSubject', channel: { type: 'rest-hook', endpoint: 'https://trialbridge.example.org/fhir', header: [`Authorization: Bearer ${SITE_TOKENS['site-a']}`] } });
  expect(JSON.parse((await cli('subscribe', '--json')).out)).toMatchObject({ created: [], updated: [], unchanged: ['ResearchSubject'] });
  expect(await ourSubs()).toHaveLength(1);
  const list = await cli('subscriptions');
  expect(list.code).toBe(0);
  expect(list.out).toContain(subs[0].id);
  expect(ehr.requests.every((r) => r.authorization === 'Bearer ehr-static-token')).toBe(true);
});

it('a handshake marks the subscription active', async () => {
  const id = await subIdOf('ResearchSubject');
  const res = await stack.fhir('POST', '', notificationBundle({ subscription: `${ehr.baseUrl}/Subscription/${id}`, type: 'handshake' }));
  expect(res.status).toBe(200);
  expect(res.body.issue[0].diagnostics).toBe('handshake acknowledged');
  expect((await stack.api('/sites')).body.sites[0].subscriptions[0]).toMatchObject({ status: 'active' });
});

it('an R4 rest-hook with payload (PUT) enrolls the patient, which widens the Subscriptions to the patient\'s labs', async () => {
  rs = await ehr.create(researchSubject(p1, 'S-0201'));
  const put = await stack.fhir('PUT', `/ResearchSubject/${rs.id}`, rs);
  expect(put.status).toBe(201);
  await waitFor('scoped subscriptions', async () => (await ourSubs()).length === 4);
  const obs = (await ourSubs()).find((s) => s.criteria!.startsWith('Observation'))!;
  expect(obs.criteria).toContain(`patient=Patient/${p1}`);
  expect(obs.criteria).toMatch(/[?&]code=([^&]*,)?http:\/\/loinc\.org\|14631-6[,&]/);
});

it('an id-only notification is resolved by reading the resource; repeated five times it is applied once', async () => {
  await stack.settle();
  const sub = await subIdOf('Observation-1');
  const o = await ehr.create(bilirubin(p1, 3, 40));
  const bundle = notificationBundle({ subscription: `${ehr.baseUrl}/Subscription/${sub}`, events: [{ n: 1, focus: `${ehr.baseUrl}/Observation/${o.id}` }] });
  const first = await stack.fhir('POST', '', bundle);
  expect(first.status).toBe(200);
  expect(first.body.issue[0].diagnostics).toMatch(/1 resource\(s\) to read/);
  await waitFor('id-only resource stored', async () => (await storedIds()).has(o.id));
  for (let i = 0; i < 5; i++) {
    const again = await stack.fhir('POST', '', bundle);
    expect(again.status).toBe(200);
    expect(again.body.issue[0].diagnostics).toMatch(/already applied/);
  }
  expect(reads('Observation', o.id)).toBe(1);
  const states = (await notifications()).filter((n) => n.type === 'event-notification').map((n) => n.state);
  expect(states.filter((s) => s === 'processed')).toHaveLength(1);
  expect(states.filter((s) => s === 'duplicate')).toHaveLength(5);
});

it('a gap in event numbers triggers a catch-up that fetches the lost notification\'s resource', async () => {
  await stack.settle();
  const sub = await subIdOf('Observation-1');
  const [a, lost, c] = [await ehr.create(bilirubin(p1, 4, 41)), await ehr.create(bilirubin(p1, 5, 42)), await ehr.create(bilirubin(p1, 6, 43))];
  const send = (n: number, id: string, full: boolean) =>
    stack.fhir('POST', '', notificationBundle({ subscription: `${ehr.baseUrl}/Subscription/${sub}`, events: [{ n, focus: `${ehr.baseUrl}/Observation/${id}`, resource: full ? (a.id === id ? a : c) : undefined }] }));
  expect((await send(2, a.id, true)).body.issue[0].diagnostics).toMatch(/1 resource\(s\) stored/);
  // Event 3 (about `lost`) never arrives: the EHR gave up delivering it.
  const r = await send(4, c.id, true);
  expect(r.status).toBe(200);
  expect(r.body.issue[0].diagnostics).toMatch(/events 3-3 not received, catching up/);
  await waitFor('the lost resource fetched by the catch-up sync', async () => (await storedIds()).has(lost.id));
  expect(reads('Observation', lost.id)).toBe(0); // found by the search, not by a read
});

it('a heartbeat reporting more events than received triggers a catch-up', async () => {
  const sub = await subIdOf('Observation-1');
  const missed = await ehr.create(bilirubin(p1, 7, 44));
  const r = await stack.fhir('POST', '', notificationBundle({ subscription: `${ehr.baseUrl}/Subscription/${sub}`, type: 'heartbeat', eventsSince: 5 }));
  expect(r.status).toBe(200);
  expect(r.body.issue[0].diagnostics).toMatch(/1 event\(s\) not received, catching up/);
  await waitFor('missed resource fetched', async () => (await storedIds()).has(missed.id));
});

it('an R4 rest-hook without payload (empty POST) fetches changes since the cursor', async () => {
  const o = await ehr.create(bilirubin(p1, 8, 45));
  const res = await fetch(`${stack.url}/fhir`, { method: 'POST', headers: { authorization: `Bearer ${SITE_TOKENS['site-a']}` } });
  expect(res.status).toBe(200);
  await waitFor('resource fetched after the empty notification', async () => (await storedIds()).has(o.id));
  // A push-only site cannot be asked: the sender is told why.
  const b = await fetch(`${stack.url}/fhir`, { method: 'POST', headers: { authorization: `Bearer ${SITE_TOKENS['site-b']}` } });
  expect(b.status).toBe(422);
  expect(((await b.json()) as { issue: { details: { coding: { code: string }[] } }[] }).issue[0].details.coding[0].code).toBe('site-not-connected');
});

it('an unparseable notification gets a precise OperationOutcome and is kept for inspection', async () => {
  const bad = notificationBundle({ subscription: `${ehr.baseUrl}/Subscription/x`, events: [{ n: 1, focus: `${ehr.baseUrl}/Observation/y` }] });
  ((bad.entry![0].resource as { parameter: { name: string; valueString?: string; part?: { name: string; valueString?: string }[] }[] }).parameter[4].part![0]).valueString = 'seven';
  const r = await stack.fhir('POST', '', bad);
  expect(r.status).toBe(400);
  expect(r.body.issue[0].details.coding[0].code).toBe('invalid-notification');
  expect(r.body.issue.slice(1)).toEqual(expect.arrayContaining([expect.objectContaining({ expression: [expect.stringMatching(/parameter\[4\]\.part\[0\]\.valueString/)] })]));
  const raw = await stack.fhir('POST', '', '{"resourceType": "Bundle", "type": "history", ');
  expect(raw.status).toBe(400);
  const kept = (await notifications()).filter((n) => n.state === 'rejected');
  expect(kept).toHaveLength(2);
  // Only a masked head is kept, and the problem names where, not what.
  expect(kept[0].problem).toMatch(/parameter\[4\]\.part\[0\]\.valueString: value/);
  expect(kept[0].problem).not.toContain('seven');
  expect(kept[1].body).toBe('{"resourceType": "Bundle", "type": "history", ');
  expect((await stack.api('/sites')).body.sites[0].rejectedNotifications).toBe(2);
});

(fs.existsSync(INFERNO) ? it : it.skip)('replays the published Backport IG notification Bundles as they are', async () => {
  const read = (f: string) => JSON.parse(fs.readFileSync(path.join(INFERNO, f), 'utf8')) as Bundle;
  const expectations: [string, RegExp][] = [
    ['handshake_bundle_example.json', /handshake acknowledged/],
    ['heartbeat_bundle_example.json', /heartbeat received/],
    ['empty_notification_bundle_example.json', /event\(s\) received/],
    // The three examples describe event 1 of Subscription/123 in its three payload forms: one event, applied once.
    ['id_only_notification_bundle_example.json', /already applied/],
    ['full_resource_notification_bundle_example.json', /already applied/],
  ];
  for (const [file, text] of expectations) {
    const r = await stack.fhir('POST', '', read(file));
    expect([file, r.status]).toEqual([file, 200]);
    expect(r.body.issue[0].diagnostics).toMatch(text);
  }
  // The id-only and full-resource examples are about an Encounter on another server: nothing is read or stored.
  expect(ehr.requests.some((r) => r.path.includes('Encounter'))).toBe(false);
});

it('withdrawal narrows the Subscriptions back to the enrollments only', async () => {
  const withdrawn = await ehr.update({ ...rs, status: 'withdrawn' });
  expect((await stack.fhir('PUT', `/ResearchSubject/${rs.id}`, withdrawn)).status).toBe(200);
  await waitFor('subscriptions narrowed', async () => (await ourSubs()).length === 1);
  expect((await ourSubs())[0].criteria).toBe('ResearchSubject');
  const a = (await stack.api('/sites')).body.sites[0];
  expect(a).toMatchObject({ mode: ['subscription'], scopedPatients: 0, lastError: null });
  expect(a.lastNotificationAt).not.toBeNull();
});

it('an id-only ResearchSubject naming its ResearchStudy by reference brings the study along in the same job', async () => {
  await stack.settle();
  const sub = await subIdOf('ResearchSubject');
  const p2 = (await ehr.create(patient('MRN-N2'))).id!;
  const study = await ehr.create({ resourceType: 'ResearchStudy', status: 'active', identifier: [{ system: 'https://clinicaltrials.gov', value: 'NCT05985863' }] });
  const subject = await ehr.create({ ...researchSubject(p2, 'S-0299'), study: { reference: `ResearchStudy/${study.id}` } });
  const last = await stack.db.query<{ n: number | null }>('SELECT max(event_number)::int AS n FROM notification_events WHERE subscription_id LIKE $1', [`%${sub}`]);
  const n = (last.rows[0]?.n ?? 0) + 1;
  const res = await stack.fhir('POST', '', notificationBundle({ subscription: `${ehr.baseUrl}/Subscription/${sub}`, events: [{ n, focus: `${ehr.baseUrl}/ResearchSubject/${subject.id}` }] }));
  expect(res.status).toBe(200);
  await waitFor('subject and its study stored', async () => {
    const ids = await storedIds();
    return ids.has(subject.id!) && ids.has(study.id!);
  });
  expect(reads('ResearchStudy', study.id!)).toBe(1);
  await stack.settle();
  const enrolled = await stack.db.query<{ trial: string }>("SELECT trial FROM enrollments WHERE site = 'site-a' AND subject = 'S-0299'");
  expect(enrolled.rows.map((r) => r.trial)).toEqual(['NCT05985863']);
});

it('prunes applied and rejected notifications past the retention but keeps each subscription\'s last event', async () => {
  // The subscription of the gap test (its Subscription was since removed by the narrowing; its events remain).
  const top = await stack.db.query<{ subscription_id: string; n: number; c: number }>(
    `SELECT subscription_id, max(event_number)::int AS n, count(*)::int AS c FROM notification_events GROUP BY subscription_id ORDER BY c DESC LIMIT 1`);
  const sub = top.rows[0].subscription_id;
  expect(top.rows[0].c).toBeGreaterThan(1);
  const before = { rows: [{ n: top.rows[0].n }] };
  await stack.db.query(`UPDATE notifications SET received_at = now() - interval '31 days'`);
  const pruned = await pruneNotifications(stack.db, 30);
  expect(pruned).toBeGreaterThan(5);
  const left = await notifications();
  expect(left.filter((n) => n.state === 'rejected')).toHaveLength(0);
  const events = await stack.db.query<{ event_number: number }>(`SELECT event_number::int FROM notification_events WHERE subscription_id = $1`, [sub]);
  expect(events.rows.map((r) => r.event_number)).toEqual([before.rows[0].n]);
  // Gap detection still knows where the subscription stands.
  const r = await stack.fhir('POST', '', notificationBundle({ subscription: `${ehr.baseUrl}/Subscription/${sub}`, type: 'heartbeat', eventsSince: before.rows[0].n }));
  expect(r.body.issue[0].diagnostics).toBe('heartbeat received');
});
