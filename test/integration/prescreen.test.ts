/**
 * Pre-screening of pushed routine labs on the real stack (README "Pre-screening
 * and alerts"). Thresholds of NCT05985863 (clinical-reference §1.1, §3):
 * TBIL >= 5 mg/dL = 85.5 umol/L (factor 17.1; 84.9 umol/L = 4.96 mg/dL fails),
 * INR >= 1.5 or PTA < 40 %, age 18-70. Labs are dated today: the screening
 * date of a pre-screen is today, with the 7-day screening lookback.
 */
import { sha256Hex } from '../../src/http';
import { listAudit } from '../../src/store/audit';
import { startStack, SITE_TOKENS, type TestStack, USER_TOKENS } from '../helpers/stack';

const TRIAL = 'NCT05985863';
const BEA = 'token-bea-site-b-0123456789';
const MONITOR = 'token-mo-0123456789';
let stack: TestStack;

beforeAll(async () => {
  stack = await startStack('prescreen', {
    TRIALBRIDGE_SITES: JSON.stringify(Object.entries(SITE_TOKENS).map(([id, t]) => ({
      id, tokenSha256: sha256Hex(t), timeZone: 'Asia/Shanghai', prescreen: { trials: [TRIAL, 'NCT03945487'], scope: 'all' },
    }))),
    TRIALBRIDGE_USERS: JSON.stringify([
      { id: 'ada', role: 'admin', tokenSha256: sha256Hex(USER_TOKENS.admin) },
      { id: 'dora', role: 'data-manager', tokenSha256: sha256Hex(USER_TOKENS.dm) },
      { id: 'ivan', role: 'investigator', tokenSha256: sha256Hex(USER_TOKENS.inv) },
      { id: 'bea', role: 'investigator', tokenSha256: sha256Hex(BEA), sites: ['site-b'] },
      { id: 'mo', role: 'monitor', tokenSha256: sha256Hex(MONITOR) },
    ]),
  });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

/** A birth date that makes the patient `years` old today (and for the next days). */
function bornYearsAgo(years: number): string {
  const d = new Date(Date.now() - 20 * 86_400_000);
  return `${d.getUTCFullYear() - years}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
}
const recent = (hoursAgo = 2) => new Date(Date.now() - hoursAgo * 3_600_000).toISOString();

const patient = (id: string, birthDate: string) => ({ resourceType: 'Patient', id, birthDate, gender: 'male', identifier: [{ system: 'urn:mrn', value: `MRN-${id}` }] });
const lab = (id: string, pid: string, loinc: string, value: number, unit: string, effective = recent()) => ({
  resourceType: 'Observation', id, status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: loinc }] }, subject: { reference: `Patient/${pid}` },
  effectiveDateTime: effective, valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
});
const tbil = (id: string, pid: string, v: number) => lab(id, pid, '14631-6', v, 'umol/L');
const inr = (id: string, pid: string, v: number) => lab(id, pid, '6301-6', v, '{INR}');

async function put(...resources: { resourceType: string; id: string }[]): Promise<void> {
  for (const r of resources) {
    const res = await stack.fhir('PUT', `/${r.resourceType}/${r.id}`, r);
    expect([200, 201]).toContain(res.status);
  }
}

/** Intake, then every pre-screen and evaluation job done. */
async function prescreened(): Promise<void> {
  await stack.settle();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const counts = await Promise.all([stack.prescreenQueue.queue, stack.evaluateQueue.queue, stack.mapQueue.queue].map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
    if (counts.every((c) => Object.values(c).every((n) => n === 0))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('pre-screen jobs did not finish');
}

async function candidateOf(pid: string, trial = TRIAL) {
  const r = await stack.db.query<{ id: string; status: string; reason: string | null; evidence: any; age_years: number }>(
    'SELECT id, status, reason, evidence, age_years FROM prescreen_candidates WHERE patient_id = $1 AND trial = $2', [pid, trial]);
  return r.rows;
}
async function flagsOf(id: string) {
  const r = await stack.db.query<{ status: string; code: string; severity: string; message: string; evidence: string[] }>('SELECT status, code, severity, message, evidence FROM flags WHERE subject = $1 ORDER BY id', [id]);
  return r.rows;
}
async function post(path: string, body: unknown, token: string = USER_TOKENS.inv) {
  const res = await fetch(`${stack.url}/api${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

describe('pushed labs of a patient with no enrollment', () => {
  test('bilirubin above the threshold with INR 1.6 at 45 years: a potential candidate with evidence and one flag; a second qualifying lab adds nothing; INR falling withdraws it', async () => {
    await put(patient('ps1', bornYearsAgo(45)), tbil('ps1-tbil', 'ps1', 90), inr('ps1-inr', 'ps1', 1.6));
    await prescreened();
    const [c] = await candidateOf('ps1');
    expect(c).toMatchObject({ status: 'potential', age_years: 45 });
    expect(c.id).toMatch(/^PS-[A-Z2-7]{10}$/);
    const i2a = c.evidence.criteria.find((e: any) => e.criterion === 'I2a');
    expect(i2a).toMatchObject({ verdict: 'met', values: [expect.objectContaining({ item: 'TBIL', unit: 'mg/dL', ref: 'Observation/ps1-tbil', inbound: expect.any(Number), localDate: expect.any(String) })] });
    expect(i2a.values[0].value).toBeCloseTo(90 / 17.1, 1);
    expect(c.evidence.criteria.find((e: any) => e.criterion === 'I2b').values.map((v: any) => [v.item, v.value])).toEqual([['INR', 1.6]]);
    const flags = await flagsOf(c.id);
    expect(flags).toEqual([{ status: 'open', code: 'potential-candidate', severity: 'info', message: 'potential candidate: every lab-computable criterion met; 16 criteria to check', evidence: [c.id, 'Observation/ps1-inr', 'Observation/ps1-tbil'] }]);
    // NCT03945487 is pre-screened at the site too, and nothing auto-passes (clinical-reference §1.4).
    expect(await candidateOf('ps1', 'NCT03945487')).toEqual([]);

    // A second qualifying lab: the same candidate, new evidence, no second flag (one alert per cause).
    await put(tbil('ps1-tbil-2', 'ps1', 120));
    await prescreened();
    const again = await candidateOf('ps1');
    expect(again.map((x) => [x.id, x.status])).toEqual([[c.id, 'potential']]);
    expect((await flagsOf(c.id)).map((f) => f.status)).toEqual(['open']);

    // INR falls (a new version of the result): withdrawn with the reason, flag resolved.
    await put({ ...inr('ps1-inr', 'ps1', 1.2), meta: { versionId: '2' } } as any);
    await prescreened();
    const [w] = await candidateOf('ps1');
    expect(w).toMatchObject({ id: c.id, status: 'withdrawn' });
    // INR 1.2 < 1.5 and no PTA result: I2b is no longer met (unknown), which is not potential (clinical-reference §0).
    expect(w.reason).toMatch(/^I2b unknown: .*INR 1\.2 .*< 1\.5/);
    expect((await flagsOf(c.id)).map((f) => f.status)).toEqual(['resolved']);
  }, 90_000);

  test('84.9 umol/L raises nothing', async () => {
    await put(patient('ps2', bornYearsAgo(45)), tbil('ps2-tbil', 'ps2', 84.9), inr('ps2-inr', 'ps2', 1.6));
    await prescreened();
    expect(await candidateOf('ps2')).toEqual([]);
    const r = await stack.db.query("SELECT count(*)::int AS n FROM flags WHERE code = 'potential-candidate' AND evidence ? 'Observation/ps2-tbil'");
    expect(r.rows[0].n).toBe(0);
  }, 60_000);

  test('pre-screen jobs carry ids only', async () => {
    const jobs = await stack.prescreenQueue.queue.getJobs(['completed']);
    expect(jobs.length).toBeGreaterThan(0);
    for (const j of jobs) {
      expect(Object.keys(j.data).sort()).toEqual(['patientIds', 'site']);
      expect(j.id).not.toMatch(/ps\d/);
      expect(JSON.stringify(j.data)).not.toMatch(/MRN|19\d\d-|20\d\d-|umol/);
    }
  });
});

describe('the investigator acts on a potential candidate', () => {
  let screenId = '';
  let dismissId = '';
  beforeAll(async () => {
    await put(patient('ps3', bornYearsAgo(45)), tbil('ps3-tbil', 'ps3', 100), inr('ps3-inr', 'ps3', 1.7));
    await put(patient('ps4', bornYearsAgo(50)), tbil('ps4-tbil', 'ps4', 95), inr('ps4-inr', 'ps4', 1.8));
    await prescreened();
    screenId = (await candidateOf('ps3'))[0].id;
    dismissId = (await candidateOf('ps4'))[0].id;
  }, 60_000);

  test('the list shows age, qualifying values with dates and what to check; every read is in the access log', async () => {
    const list = await stack.api(`/prescreen?trial=${TRIAL}&site=site-a&status=potential`, USER_TOKENS.inv);
    expect(list.status).toBe(200);
    const row = list.body.rows.find((x: any) => x.id === screenId);
    expect(row).toMatchObject({ trial: TRIAL, site: 'site-a', status: 'potential', ageYears: 45, firstQualifiedAt: expect.any(String) });
    expect(row.toCheck.map((t: any) => t.id)).toContain('I2c');
    expect(row.evidence.find((e: any) => e.criterion === 'I2a').values[0]).toMatchObject({ item: 'TBIL', effective: expect.any(String), ref: 'Observation/ps3-tbil' });
    // Never the patient id, a name, a birth date or an MRN.
    expect(JSON.stringify(list.body)).not.toMatch(/Patient\/|ps3"|MRN|birthDate/);
    const one = await stack.api(`/prescreen/${screenId}`, MONITOR);
    expect(one.status).toBe(200);
    const log = await stack.db.query<{ user_id: string; user_role: string; access: string }>('SELECT user_id, user_role, access FROM prescreen_access_log WHERE candidate_id = $1 ORDER BY id', [screenId]);
    expect(log.rows).toEqual([{ user_id: 'ivan', user_role: 'investigator', access: 'list' }, { user_id: 'mo', user_role: 'monitor', access: 'view' }]);
    await expect(stack.db.query('DELETE FROM prescreen_access_log')).rejects.toThrow(/never changed/);
  });

  test('a site-b user sees nothing of site-a, and a monitor cannot act', async () => {
    expect((await stack.api('/prescreen', BEA)).body.rows).toEqual([]);
    expect((await stack.api(`/prescreen/${screenId}`, BEA)).status).toBe(404);
    expect((await post(`/prescreen/${dismissId}/dismiss`, { reason: 'declined' }, BEA)).status).toBe(404);
    const m = await post(`/prescreen/${dismissId}/dismiss`, { reason: 'declined' }, MONITOR);
    expect(m.status).toBe(403);
    expect(m.body.resourceType).toBe('OperationOutcome');
  });

  test('dismiss: reason required, audited, flag resolved; a second dismiss is a conflict', async () => {
    const bad = await post(`/prescreen/${dismissId}/dismiss`, { note: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.issue[0].expression).toEqual(['reason']);
    const ok = await post(`/prescreen/${dismissId}/dismiss`, { reason: 'declined', note: 'prefers not to join' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: dismissId, status: 'dismissed', reason: 'declined', dismissedBy: 'ivan' });
    expect((await flagsOf(dismissId)).map((f) => f.status)).toEqual(['resolved']);
    const audit = await listAudit(stack.db, { entity: 'prescreen', entityId: dismissId, limit: 10 });
    expect(audit.map((a) => [a.actor, a.actorRole, a.action, a.oldValue, a.newValue, a.reason])).toEqual([['ivan', 'investigator', 'dismiss', 'potential', 'dismissed', 'declined: prefers not to join']]);
    expect((await post(`/prescreen/${dismissId}/dismiss`, { reason: 'declined' })).status).toBe(409);
  });

  test('start screening: the ResearchSubject is stored through the front door, the enrollment exists and the parked labs become CRF values', async () => {
    const bad = await post(`/prescreen/${screenId}/start-screening`, { subject: 'has space' });
    expect(bad.status).toBe(400);
    const r = await post(`/prescreen/${screenId}/start-screening`, { subject: 'S-PS-003' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ id: screenId, status: 'screening', screeningSubject: 'S-PS-003', ehr: { status: 'not-configured' } });
    expect((await flagsOf(screenId)).map((f) => f.status)).toEqual(['resolved']);
    await prescreened();
    const en = await stack.db.query('SELECT trial, status, patient_id FROM enrollments WHERE subject = $1', ['S-PS-003']);
    expect(en.rows).toEqual([{ trial: TRIAL, status: 'candidate', patient_id: 'ps3' }]);
    const crf = await stack.api('/subjects/S-PS-003/crf', USER_TOKENS.dm);
    expect(crf.body.values.map((v: any) => v.item).sort()).toEqual(['INR', 'TBIL']);
    const audit = await listAudit(stack.db, { entity: 'prescreen', entityId: screenId, limit: 10 });
    expect(audit.map((a) => [a.actor, a.action])).toEqual([['ivan', 'start-screening']]);
    // Enrolled now: a new lab is mapped, not pre-screened, and the candidate stays in screening.
    await put(tbil('ps3-tbil-2', 'ps3', 130));
    await prescreened();
    expect((await candidateOf('ps3')).map((x) => x.status)).toEqual(['screening']);
  }, 60_000);
});

describe('retention (minimum necessary)', () => {
  const parked = async (pid: string) => Number((await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM inbound WHERE site = 'site-a' AND (patient_id = $1 OR (resource_type = 'Patient' AND resource_id = $1))", [pid])).rows[0].n);

  test('patients who raised nothing go on the unenrolled retention; candidates are kept until their own retention after dismissal, then purged with their data', async () => {
    const { purgeUnenrolled } = await import('../../src/store/purge');
    expect(await parked('ps2')).toBeGreaterThan(0);
    expect(await parked('ps4')).toBeGreaterThan(0);
    // An unenrolled retention of 0 days: everything parked is due, unless a candidate keeps it.
    await purgeUnenrolled(stack.db, 0);
    expect(await parked('ps2')).toBe(0);
    // ps1 (withdrawn today) and ps4 (dismissed today) are within the pre-screen retention.
    expect(await parked('ps1')).toBeGreaterThan(0);
    expect(await parked('ps4')).toBeGreaterThan(0);
    await stack.db.query("UPDATE prescreen_candidates SET updated_at = now() - interval '31 days' WHERE patient_id = 'ps4'");
    const counts = await purgeUnenrolled(stack.db, 0);
    expect(await parked('ps4')).toBe(0);
    expect(await candidateOf('ps4')).toEqual([]);
    expect(counts.get('site-a')).toMatchObject({ PrescreenCandidate: 1, Patient: 1 });
    // The screened patient is enrolled: nothing of it is purged.
    expect(await parked('ps3')).toBeGreaterThan(0);
    expect((await candidateOf('ps3')).map((x) => x.status)).toEqual(['screening']);
  });
});
