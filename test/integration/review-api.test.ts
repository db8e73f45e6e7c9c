/**
 * The review API through the live stack (README "Review API"): real PostgreSQL,
 * Redis and workers; fixtures sent over HTTP as an EHR would. Accept, correct
 * and reject with their audit rows (who, role, old and new value, reason,
 * site-local time); a correction survives a redelivery of the same version; a
 * new version waits for re-review while the person's decision keeps counting;
 * a visit accepted at once; review items resolved by hand and dismissed;
 * validation errors as OperationOutcomes naming the field; scope by trial and
 * site; the audit trail as CSV.
 */
import { FIXTURES_DIR, listFixtures, sendBundle } from '../../scripts/fixtures-lib';
import { sha256Hex } from '../../src/http';
import { startStack, type TestStack, SITE_TOKENS, USER_TOKENS } from '../helpers/stack';

const BEA = 'token-bea-site-b-only-0123456789';
const MONA = 'token-mona-monitor-0123456789';
let stack: TestStack;

const fixture = (name: string) => {
  const c = listFixtures(FIXTURES_DIR).find((x) => x.name === name);
  if (!c) throw new Error(`no fixture ${name}`);
  return c;
};

async function send(name: string, token: string = SITE_TOKENS['site-a'], only?: string): Promise<void> {
  for (const input of fixture(name).inputs.filter((i) => !only || i.file === only)) {
    await sendBundle(stack.url, token, input.body);
    await stack.settle();
  }
  await stack.evaluated();
}

async function post(path: string, body: unknown, token: string = USER_TOKENS.dm): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.url}/api${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function crf(subject: string, token: string = USER_TOKENS.dm, extra = ''): Promise<any[]> {
  const res = await stack.api(`/subjects/${subject}/crf?includeSuperseded=true${extra}`, token);
  expect(res.status).toBe(200);
  return res.body.values;
}

async function valueOf(subject: string, item: string): Promise<any> {
  const v = (await crf(subject)).filter((x) => x.item === item && x.status !== 'superseded');
  expect(v).toHaveLength(1);
  return v[0];
}

/** The OperationOutcome's catalogue code and expression. */
const outcome = (body: any) => ({ code: body.issue[0].details.coding[0].code, expression: body.issue[0].expression });

beforeAll(async () => {
  stack = await startStack('review-api', {
    TRIALBRIDGE_USERS: JSON.stringify([
      { id: 'ada', role: 'admin', tokenSha256: sha256Hex(USER_TOKENS.admin) },
      { id: 'dora', role: 'data-manager', name: 'Dora Data', tokenSha256: sha256Hex(USER_TOKENS.dm) },
      { id: 'ivan', role: 'investigator', tokenSha256: sha256Hex(USER_TOKENS.inv) },
      { id: 'bea', role: 'data-manager', sites: ['site-b'], tokenSha256: sha256Hex(BEA) },
      { id: 'mona', role: 'monitor', tokenSha256: sha256Hex(MONA) },
    ]),
  });
  await send('superseding-version', SITE_TOKENS['site-a'], 'input.json');
  await send('review-reasons');
  await send('p-control-arm-week4');
  await send('redelivered-resource', SITE_TOKENS['site-b'], 'input.json');
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

test('GET /api/review-reasons lists the controlled reasons; other is among each list', async () => {
  const res = await stack.api('/review-reasons', MONA);
  expect(res.status).toBe(200);
  for (const k of ['correct', 'reject', 'dismiss']) {
    expect(res.body[k].length).toBeGreaterThan(1);
    expect(res.body[k]).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'other' })]));
  }
});

describe('a correction, its redelivery and a new source version', () => {
  let old: any;

  test('correct in another unit: converted to the CRF unit, the source kept as original, the pipeline value as auto, audited as dora (data-manager) at site-local time', async () => {
    old = await valueOf('SV-001', 'TBIL');
    expect(old).toMatchObject({ value: 100, unit: 'umol/L', status: 'auto', pendingReview: false });
    const res = await post(`/crf-values/${old.id}/correct`, { value: 6, unit: 'mg/dL', reason: 'transcription-error', note: 'CRF page 3' });
    expect(res.status).toBe(200);
    expect(res.body.value).toMatchObject({
      id: old.id, value: 102.6, unit: 'umol/L', status: 'corrected', originalValue: 100, originalUnit: 'umol/L',
      review: { by: 'dora', reason: 'transcription-error', note: 'CRF page 3', autoValue: 100, autoUnit: 'umol/L' },
      localDate: '2024-03-01', localDateTime: '2024-03-01T08:00:00+08:00',
    });
    expect(res.body.provenance).toMatchObject({ source: { reference: 'Observation/sv-tbil', version: '1' }, originalValue: 100, ruleId: 'NCT02812121.LB.TBIL', code: '14631-6', conversion: null });
    const h = res.body.history;
    expect(h.map((x: any) => [x.action, x.actor, x.actorRole])).toEqual([['insert', 'trialbridge', 'system'], ['correct', 'dora', 'data-manager'], ['entered', 'dora', 'data-manager']]);
    expect(h[1]).toMatchObject({
      actorName: 'Dora Data', field: 'LB.TBIL', oldValue: { value: 100, unit: 'umol/L', status: 'auto' },
      newValue: { value: 102.6, unit: 'umol/L', status: 'corrected' }, reason: 'transcription-error: CRF page 3', site: 'site-a', subject: 'SV-001',
    });
    expect(h[1].atLocal).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    expect(h[2].newValue).toEqual({ value: 6, unit: 'mg/dL', convertedTo: { value: 102.6, unit: 'umol/L' } });
    // The report counts the person's value.
    const report = await stack.api('/subjects/SV-001/report?asOf=2024-03-02', USER_TOKENS.inv);
    expect(report.body.crf).toEqual(expect.arrayContaining([expect.objectContaining({ item: 'TBIL', value: 102.6 })]));
  });

  test('a redelivery of the same version changes nothing: the correction stands, no new value, no new audit row', async () => {
    const before = (await stack.db.query('SELECT count(*)::int AS n FROM audit_log')).rows[0] as { n: number };
    await send('superseding-version', SITE_TOKENS['site-a'], 'input.json');
    const values = await crf('SV-001');
    expect(values).toHaveLength(1);
    expect(values[0]).toMatchObject({ id: old.id, value: 102.6, status: 'corrected' });
    const after = (await stack.db.query("SELECT count(*)::int AS n FROM audit_log WHERE entity = 'crf_value' AND entity_id = $1", [String(old.id)])).rows[0] as { n: number };
    const afterAll = (await stack.db.query('SELECT count(*)::int AS n FROM audit_log')).rows[0] as { n: number };
    expect(afterAll.n).toBe(before.n);
    expect(after.n).toBe(3);
  });

  test('a new version: stored as auto, pending re-review, a review item raised; the correction keeps counting', async () => {
    await send('superseding-version', SITE_TOKENS['site-a'], 'input-2.json');
    const values = await crf('SV-001');
    expect(values).toHaveLength(2);
    const fresh = values.find((v) => v.id !== old.id);
    expect(values.find((v) => v.id === old.id)).toMatchObject({ value: 102.6, status: 'corrected' });
    expect(fresh).toMatchObject({ value: 120, status: 'auto', pendingReview: true, rereviewOf: old.id, source: { version: '2' } });
    const items = await stack.api('/review-items?reason=source-changed-after-review&subject=SV-001');
    expect(items.body.rows).toEqual([expect.objectContaining({ status: 'open', resource: 'Observation/sv-tbil', site: 'site-a', version: '2', trial: 'NCT02812121' })]);
    const report = await stack.api('/subjects/SV-001/report?asOf=2024-03-02', USER_TOKENS.inv);
    const tbil = report.body.crf.filter((c: any) => c.item === 'TBIL');
    expect(tbil.map((c: any) => c.value)).toEqual([102.6]);
  });

  test('accepting the new value supersedes the correction (audited as the person) and resolves the review item', async () => {
    const fresh = (await crf('SV-001')).find((v) => v.id !== old.id);
    const res = await post(`/crf-values/${fresh.id}/accept`, { note: 'lab amended the result' });
    expect(res.status).toBe(200);
    expect(res.body.value).toMatchObject({ status: 'accepted', pendingReview: false, review: { by: 'dora', note: 'lab amended the result' } });
    expect(await crf('SV-001')).toEqual(expect.arrayContaining([expect.objectContaining({ id: old.id, status: 'superseded' })]));
    const oldHistory = (await stack.api(`/crf-values/${old.id}`)).body.history;
    expect(oldHistory[oldHistory.length - 1]).toMatchObject({ action: 'supersede', actor: 'dora', oldValue: { status: 'corrected' }, newValue: { status: 'superseded' } });
    const items = await stack.api('/review-items?reason=source-changed-after-review&subject=SV-001');
    expect(items.body.rows).toEqual([expect.objectContaining({ status: 'resolved', resolvedBy: 'dora', crfValueId: fresh.id })]);
    const report = await stack.api('/subjects/SV-001/report?asOf=2024-03-02', USER_TOKENS.inv);
    expect(report.body.crf.filter((c: any) => c.item === 'TBIL').map((c: any) => c.value)).toEqual([120]);
    // Accepting it again is a conflict, precisely worded.
    const again = await post(`/crf-values/${fresh.id}/accept`, {});
    expect(again.status).toBe(409);
    expect(outcome(again.body)).toEqual({ code: 'review-conflict', expression: ['status'] });
    const superseded = await post(`/crf-values/${old.id}/accept`, {});
    expect(superseded.status).toBe(409);
    expect(superseded.body.issue[0].diagnostics).toMatch(/superseded by a newer version/);
  });

  test('rejecting a value that waits for re-review keeps the reviewed one counting', async () => {
    const v2 = await valueOf('SV-001', 'TBIL');
    expect(v2).toMatchObject({ value: 120, status: 'accepted' });
    const input2 = fixture('superseding-version').inputs.find((i) => i.file === 'input-2.json')!.body as any;
    const obs = structuredClone(input2.entry[0].resource);
    obs.valueQuantity.value = 130;
    obs.meta = { versionId: '3', lastUpdated: '2024-03-01T12:00:00+08:00' };
    expect((await stack.fhir('PUT', '/Observation/sv-tbil', obs)).status).toBeLessThan(300);
    await stack.evaluated();
    const v3 = (await crf('SV-001')).find((v) => v.source.version === '3');
    expect(v3).toMatchObject({ value: 130, status: 'auto', pendingReview: true, rereviewOf: v2.id });
    const res = await post(`/crf-values/${v3.id}/reject`, { reason: 'specimen-problem' });
    expect(res.status).toBe(200);
    expect(res.body.value).toMatchObject({ status: 'rejected', pendingReview: false });
    expect((await stack.api(`/crf-values/${v2.id}`)).body.value.status).toBe('accepted');
    const items = (await stack.api('/review-items?reason=source-changed-after-review&subject=SV-001')).body.rows;
    expect(items.find((i: any) => i.version === '3')).toMatchObject({ status: 'resolved', resolutionReason: 'reject', crfValueId: v3.id });
    const report = await stack.api('/subjects/SV-001/report?asOf=2024-03-02', USER_TOKENS.inv);
    expect(report.body.crf.filter((c: any) => c.item === 'TBIL').map((c: any) => c.value)).toEqual([120]);
  });
});

describe('reject, and what a body must say', () => {
  test('reject needs a reason from the list; other needs a note; unknown reasons are 400 naming reason', async () => {
    const alb = await valueOf('RV-001', 'ALB');
    for (const [body, expression] of [
      [{}, ['reason']],
      [{ reason: 'because' }, ['reason']],
      [{ reason: 'other' }, ['note']],
      [{ reason: 'other', note: '   ' }, ['note']],
      [{ reason: 'duplicate', note: 5 }, ['note']],
    ] as const) {
      const res = await post(`/crf-values/${alb.id}/reject`, body);
      expect([res.status, outcome(res.body)]).toEqual([400, { code: 'invalid-review', expression }]);
    }
    const res = await post(`/crf-values/${alb.id}/reject`, { reason: 'other', note: 'sample from the wrong visit' });
    expect(res.status).toBe(200);
    expect(res.body.value).toMatchObject({ status: 'rejected', review: { by: 'dora', reason: 'other', note: 'sample from the wrong visit' } });
    expect(res.body.history[res.body.history.length - 1]).toMatchObject({ action: 'reject', actorRole: 'data-manager', oldValue: { status: 'auto' }, newValue: { status: 'rejected' }, reason: 'other: sample from the wrong visit' });
    const accept = await post(`/crf-values/${alb.id}/accept`, {});
    expect(accept.status).toBe(409);
    expect(accept.body.issue[0].diagnostics).toMatch(/rejected/);
    // A rejected value counts nowhere.
    const report = await stack.api('/subjects/RV-001/report?asOf=2024-03-02', USER_TOKENS.inv);
    expect(report.body.crf.filter((c: any) => c.item === 'ALB')).toEqual([]);
  });

  test('correct checks the value against the CRF item', async () => {
    const inr = await valueOf('RD-001', 'INR');
    for (const [body, expression] of [
      [{ value: '1.2', reason: 'transcription-error' }, ['value']],
      [{ value: Number.NaN, reason: 'transcription-error' }, ['value']],
      [{ value: 1.2, unit: 'kg', reason: 'transcription-error' }, ['unit']],
      [{ value: 1.2, reason: 'wrong' }, ['reason']],
    ] as const) {
      const res = await post(`/crf-values/${inr.id}/correct`, body, USER_TOKENS.admin);
      expect([res.status, outcome(res.body)]).toEqual([400, { code: 'invalid-review', expression }]);
    }
    const res = await fetch(`${stack.url}/api/crf-values/${inr.id}/correct`, { method: 'POST', headers: { authorization: `Bearer ${USER_TOKENS.admin}`, 'content-type': 'application/json' }, body: '{"value":' });
    expect(res.status).toBe(400);
    expect((await stack.api('/crf-values/999999999')).status).toBe(404);
  });
});

describe('scope and roles', () => {
  test('a data manager of site-b cannot read or change site-a values and sees none of site-a in listings', async () => {
    const a = (await crf('SV-001'))[0];
    expect((await stack.api(`/crf-values/${a.id}`, BEA)).status).toBe(403);
    for (const action of ['accept', 'reject', 'correct']) {
      const res = await post(`/crf-values/${a.id}/${action}`, { reason: 'duplicate', value: 1 }, BEA);
      expect([action, res.status, outcome(res.body).code]).toEqual([action, 403, 'forbidden']);
    }
    expect((await stack.api('/subjects/SV-001/crf', BEA)).status).toBe(403);
    expect((await stack.api('/subjects/SV-001/report', BEA)).status).toBe(403);
    const own = await stack.api('/subjects/RD-001/crf', BEA);
    expect(own.status).toBe(200);
    expect(own.body.values.length).toBeGreaterThan(0);
    const lists = {
      items: (await stack.api('/review-items?limit=1000', BEA)).body.rows,
      inbound: (await stack.api('/inbound?limit=1000', BEA)).body.rows,
      flags: (await stack.api('/flags?limit=1000', BEA)).body.rows,
      audit: (await stack.api('/audit?limit=1000', BEA)).body.rows,
      sites: (await stack.api('/sites', BEA)).body.sites,
    };
    expect(lists.inbound.length).toBeGreaterThan(0);
    expect(lists.audit.length).toBeGreaterThan(0);
    for (const [k, rows] of Object.entries(lists)) expect([k, (rows as any[]).filter((x) => (x.site ?? x.id) !== 'site-b')]).toEqual([k, []]);
    // Dora (all sites) sees site-a's.
    expect((await stack.api('/review-items?limit=1000')).body.rows.some((x: any) => x.site === 'site-a')).toBe(true);
    const review = (await stack.api('/review-items?subject=RV-001', BEA)).body.rows;
    expect(review).toEqual([]);
  });

  test('a monitor and an investigator read but change nothing (403)', async () => {
    const v = await valueOf('RD-001', 'INR');
    expect((await stack.api(`/crf-values/${v.id}`, MONA)).status).toBe(200);
    for (const token of [MONA, USER_TOKENS.inv]) {
      expect((await post(`/crf-values/${v.id}/accept`, {}, token)).status).toBe(403);
      expect((await post(`/crf-values/${v.id}/correct`, { value: 1.1, reason: 'transcription-error' }, token)).status).toBe(403);
      expect((await post(`/crf-values/${v.id}/reject`, { reason: 'duplicate' }, token)).status).toBe(403);
      expect((await post('/subjects/RD-001/visits/W1/accept', { trial: 'NCT05985863', site: 'site-b' }, token)).status).toBe(403);
      expect((await stack.api('/review-items', token)).status).toBe(403);
    }
    expect((await stack.api(`/crf-values/${v.id}`)).body.value.status).toBe('auto');
  });

  test('bea, data manager at site-b, may review site-b values', async () => {
    const v = await valueOf('RD-001', 'INR');
    const res = await post(`/crf-values/${v.id}/accept`, {}, BEA);
    expect(res.status).toBe(200);
    expect(res.body.history[res.body.history.length - 1]).toMatchObject({ action: 'accept', actor: 'bea', actorRole: 'data-manager', site: 'site-b' });
  });
});

describe('a visit accepted at once', () => {
  const subject = 'p-control-arm-week4-1';
  const body = { trial: 'NCT05985863', site: 'site-a' };

  test('every auto value assigned to W4 becomes accepted, one audit row each; others stay auto', async () => {
    const values = await crf(subject);
    const assigned = await stack.db.query<{ crf_value_id: number }>("SELECT crf_value_id FROM visit_assignments WHERE subject = $1 AND visit = 'W4'", [subject]);
    expect(assigned.rows.length).toBeGreaterThan(0);
    const ids = [...new Set(assigned.rows.map((r) => Number(r.crf_value_id)))].sort((a, b) => a - b);
    const res = await post(`/subjects/${subject}/visits/W4/accept`, { ...body, note: 'source verified' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...body, subject, visit: 'W4', accepted: ids });
    const after = await crf(subject);
    for (const v of after) expect([v.id, v.status]).toEqual([v.id, ids.includes(v.id) ? 'accepted' : values.find((x) => x.id === v.id).status]);
    const audit = (await stack.api(`/audit?subject=${subject}&entity=crf_value&limit=1000`)).body.rows.filter((r: any) => r.action === 'accept');
    expect(audit.map((r: any) => Number(r.entityId)).sort((a: number, b: number) => a - b)).toEqual(ids);
    expect(audit.every((r: any) => r.actor === 'dora' && r.reason === 'visit W4: source verified')).toBe(true);
    // Again: nothing left to accept.
    expect((await post(`/subjects/${subject}/visits/W4/accept`, body)).body.accepted).toEqual([]);
  });

  test('a visit the trial does not define, or no trial, is 400 naming the field', async () => {
    const bad = await post(`/subjects/${subject}/visits/W99/accept`, body);
    expect([bad.status, outcome(bad.body)]).toEqual([400, { code: 'invalid-review', expression: ['visit'] }]);
    const none = await post(`/subjects/${subject}/visits/W4/accept`, { site: 'site-a' });
    expect([none.status, outcome(none.body)]).toEqual([400, { code: 'invalid-review', expression: ['trial'] }]);
  });
});

describe('review items by hand', () => {
  test('resolve: a corrected value with rule manual, provenance to the source resource, converted from the unit typed; the item resolved', async () => {
    const items = (await stack.api('/review-items?subject=RV-001&reason=missing-unit')).body.rows;
    expect(items).toEqual([expect.objectContaining({ resource: 'Observation/rv-tbil-nounit', site: 'site-a', status: 'open' })]);
    const it = items[0];
    const badForm = await post(`/review-items/${it.id}/resolve`, { form: 'XX', item: 'TBIL', value: 2, reason: 'wrong-unit' });
    expect([badForm.status, outcome(badForm.body)]).toEqual([400, { code: 'invalid-review', expression: ['form'] }]);
    const badItem = await post(`/review-items/${it.id}/resolve`, { form: 'LB', item: 'NOPE', value: 2, reason: 'wrong-unit' });
    expect(outcome(badItem.body).expression).toEqual(['item']);
    const badTime = await post(`/review-items/${it.id}/resolve`, { form: 'LB', item: 'TBIL', value: 2, reason: 'wrong-unit', effective: '2024-03-01T08:00' });
    expect(outcome(badTime.body).expression).toEqual(['effective']);
    expect((await post(`/review-items/${it.id}/resolve`, { form: 'LB', item: 'TBIL', value: 2, reason: 'wrong-unit' }, BEA)).status).toBe(403);

    const res = await post(`/review-items/${it.id}/resolve`, { form: 'LB', item: 'TBIL', value: 34.2, unit: 'umol/L', reason: 'wrong-unit', note: 'unit on the lab report' });
    expect(res.status).toBe(201);
    expect(res.body.item).toMatchObject({ status: 'resolved', resolvedBy: 'dora', resolutionReason: 'wrong-unit', resolutionNote: 'unit on the lab report', crfValueId: res.body.value.id });
    expect(res.body.value).toMatchObject({
      trial: 'NCT05985863', subject: 'RV-001', site: 'site-a', form: 'LB', item: 'TBIL', value: 2, unit: 'mg/dL', status: 'corrected', ruleId: 'manual',
      originalValue: 2, originalUnit: null, effective: '2024-03-01T00:00:00.000Z', code: '1975-2',
      source: { reference: 'Observation/rv-tbil-nounit', inboundId: it.inboundId },
    });
    expect(res.body.history.map((h: any) => [h.action, h.actor])).toEqual([['resolve', 'dora'], ['entered', 'dora']]);
    const itemAudit = (await stack.api(`/audit?entity=review_item&entityId=${it.id}`)).body.rows;
    expect(itemAudit).toEqual([expect.objectContaining({ action: 'resolve', actor: 'dora', actorRole: 'data-manager', oldValue: { status: 'open' }, newValue: { status: 'resolved', crfValueId: res.body.value.id } })]);
    const report = await stack.api('/subjects/RV-001/report?asOf=2024-03-02', USER_TOKENS.inv);
    expect(report.body.crf).toEqual(expect.arrayContaining([expect.objectContaining({ item: 'TBIL', value: 2 })]));
    const again = await post(`/review-items/${it.id}/resolve`, { form: 'LB', item: 'TBIL', value: 2, reason: 'wrong-unit' });
    expect([again.status, outcome(again.body)]).toEqual([409, { code: 'review-conflict', expression: ['status'] }]);
  });

  test('dismiss needs a reason; the item dismissed and audited', async () => {
    const it = (await stack.api('/review-items?subject=RV-001&reason=missing-value')).body.rows[0];
    const none = await post(`/review-items/${it.id}/dismiss`, {});
    expect([none.status, outcome(none.body)]).toEqual([400, { code: 'invalid-review', expression: ['reason'] }]);
    const res = await post(`/review-items/${it.id}/dismiss`, { reason: 'not-relevant' });
    expect(res.status).toBe(200);
    expect(res.body.item).toMatchObject({ status: 'dismissed', resolvedBy: 'dora', resolutionReason: 'not-relevant' });
    const audit = (await stack.api(`/audit?entity=review_item&entityId=${it.id}`)).body.rows;
    expect(audit).toEqual([expect.objectContaining({ action: 'dismiss', actor: 'dora', reason: 'not-relevant', newValue: { status: 'dismissed' } })]);
    expect((await post(`/review-items/${it.id}/dismiss`, { reason: 'not-relevant' })).status).toBe(409);
  });
});

test('GET /api/audit?format=csv downloads the scoped trail as text/csv', async () => {
  const res = await fetch(`${stack.url}/api/audit?format=csv&subject=SV-001`, { headers: { authorization: `Bearer ${USER_TOKENS.admin}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
  expect(res.headers.get('content-disposition')).toBe('attachment; filename="audit.csv"');
  const lines = (await res.text()).split('\r\n').filter(Boolean);
  expect(lines[0]).toBe('id,at,atLocal,actor,actorRole,actorName,trial,site,subject,entity,entityId,action,field,oldValue,newValue,reason');
  expect(lines.some((l) => /,dora,data-manager,Dora Data,NCT02812121,site-a,SV-001,crf_value,\d+,correct,LB\.TBIL,/.test(l))).toBe(true);
  const bea = await fetch(`${stack.url}/api/audit?format=csv&subject=SV-001`, { headers: { authorization: `Bearer ${BEA}` } });
  expect((await bea.text()).split('\r\n').filter(Boolean)).toHaveLength(1);
  const bad = await stack.api('/audit?limit=-1');
  expect([bad.status, outcome(bad.body)]).toEqual([400, { code: 'invalid-query', expression: ['limit'] }]);
});
