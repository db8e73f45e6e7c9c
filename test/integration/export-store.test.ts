/**
 * Exports through the store (README "Send data to the trial database"), on the
 * live stack: data arrive over FHIR, a data manager reviews them through the
 * review API, and runExport / listExports / readExport are called as the API
 * and the CLI call them. Covers the ODM transactional sequence (insert ->
 * correction -> rejection -> nothing), snapshots, the trial's value selection,
 * scope, the stored file and its SHA-256, the audit rows and two transactional
 * exports at once.
 */
import { createHash } from 'node:crypto';
import { sha256Hex } from '../../src/http';
import { scopeSql, type Principal } from '../../src/http/scope';
import { loadTrialPackages } from '../../src/protocol/package';
import type { TrialSet } from '../../src/protocol/trials';
import { listAudit } from '../../src/store/audit';
import { listExports, loadExportDataset, readExport, runExport, type ExportDeps, type ExportFormat } from '../../src/store/exports';
import type { ScopeFn } from '../../src/store/views';
import { startStack, SITE_TOKENS, type TestStack, USER_TOKENS } from '../helpers/stack';

const TRIAL = 'NCT05985863';
const SAM_TOKEN = 'token-sam-site-a-0123456789';
let stack: TestStack;
let deps: ExportDeps;

const dora: Principal = { id: 'dora', name: 'Dora Data', via: 'token', grants: [{ role: 'data-manager', trial: '*', site: '*' }] };
const sam: Principal = { id: 'sam', name: 'Sam Site-A', via: 'token', grants: [{ role: 'data-manager', trial: '*', site: 'site-a' }] };
const scopeOf = (p: Principal): ScopeFn => (params, alias) => scopeSql(p, params, alias, 'export');
const actorOf = (p: Principal) => ({ id: p.id, role: p.grants[0].role, name: p.name });

function run(p: Principal, format: ExportFormat, sites: string[] = p === sam ? ['site-a'] : ['*'], d: ExportDeps = deps) {
  return runExport(stack.db, d, { trial: TRIAL, format, actor: actorOf(p), scope: scopeOf(p), sites });
}

async function post(path: string, body: unknown, token: string = USER_TOKENS.dm): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.url}/api${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const lab = (patient: string, loinc: string, value: number, unit: string, at: string) => ({
  resource: {
    resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: loinc }] }, subject: { reference: `Patient/${patient}` },
    effectiveDateTime: at, valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
    interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: value > 5 ? 'H' : 'N' }] }],
  },
  request: { method: 'POST', url: 'Observation' },
});

function enrolment(patient: string, subject: string) {
  return [
    { resource: { resourceType: 'Patient', id: patient }, request: { method: 'PUT', url: `Patient/${patient}` } },
    {
      resource: {
        resourceType: 'ResearchSubject', id: `rs-${patient}`, status: 'screening', identifier: [{ system: 'urn:trialbridge:subject', value: subject }],
        individual: { reference: `Patient/${patient}` }, period: { start: '2024-03-01' }, study: { identifier: { system: 'https://clinicaltrials.gov', value: TRIAL } },
      },
      request: { method: 'PUT', url: `ResearchSubject/rs-${patient}` },
    },
  ];
}

async function crfOf(subject: string): Promise<any[]> {
  const res = await stack.api(`/subjects/${subject}/crf`, USER_TOKENS.dm);
  expect(res.status).toBe(200);
  return res.body.values;
}

beforeAll(async () => {
  stack = await startStack('export-store', {
    TRIALBRIDGE_USERS: JSON.stringify([
      { id: 'ada', role: 'admin', tokenSha256: sha256Hex(USER_TOKENS.admin) },
      { id: 'dora', role: 'data-manager', name: 'Dora Data', tokenSha256: sha256Hex(USER_TOKENS.dm) },
      { id: 'ivan', role: 'investigator', tokenSha256: sha256Hex(USER_TOKENS.inv) },
      { id: 'sam', role: 'data-manager', name: 'Sam Site-A', tokenSha256: sha256Hex(SAM_TOKEN), sites: ['site-a'] },
    ]),
  });
  const packages = loadTrialPackages({ trialsDir: stack.config.trialsDir, mappingsDir: stack.config.mappingsDir });
  deps = { trials: packages.trials, mappings: packages.mappings, sites: stack.config.sites.map((s) => ({ id: s.id, timeZone: s.timeZone })), userName: () => undefined, version: 'test' };
  const a = await stack.fhir('POST', '', {
    resourceType: 'Bundle', type: 'batch',
    entry: [...enrolment('pa', 'A-001'), lab('pa', '14631-6', 85.5, 'umol/L', '2024-03-01T08:00:00+08:00'), lab('pa', '6301-6', 1.49, '{INR}', '2024-03-01T08:00:00+08:00'), lab('pa', '1751-7', 3.2, 'g/dL', '2024-03-01T08:00:00+08:00')],
  });
  expect(a.status).toBe(200);
  const b = await stack.fhir('POST', '', {
    resourceType: 'Bundle', type: 'batch',
    entry: [...enrolment('pb', 'B-001'), lab('pb', '14631-6', 34.2, 'umol/L', '2024-03-02T09:00:00+08:00'), lab('pb', '6301-6', 1.2, '{INR}', '2024-03-02T09:00:00+08:00')],
  }, SITE_TOKENS['site-b']);
  expect(b.status).toBe(200);
  await stack.evaluated();
  // site-a: every value accepted by the data manager; site-b: one accepted, one left automatic.
  for (const v of await crfOf('A-001')) expect((await post(`/crf-values/${v.id}/accept`, {})).status).toBe(200);
  const [b1] = (await crfOf('B-001')).filter((v) => v.item === 'TBIL');
  expect((await post(`/crf-values/${b1.id}/accept`, {})).status).toBe(200);
  await stack.evaluated();
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

describe('odm transactional', () => {
  test('insert -> correction (update) -> rejection (remove) -> nothing changed (empty); each continues the previous one', async () => {
    const first = await run(dora, 'odm');
    expect(first.record).toMatchObject({ kind: 'transactional', since: null, sites: ['*'], counts: { subjects: 2, values: 4, inserted: 4, updated: 0, removed: 0 } });
    expect(first.record.fileName).toBe(`${TRIAL}-odm-${first.record.id}.xml`);
    const xml1 = first.body.toString('utf8');
    expect(xml1.match(/TransactionType="Insert"/g)?.length).toBeGreaterThanOrEqual(4);
    expect(xml1).not.toMatch(/TransactionType="(Update|Remove)"/);

    const inr = (await crfOf('A-001')).find((v) => v.item === 'INR');
    expect((await post(`/crf-values/${inr.id}/correct`, { value: 1.5, reason: 'transcription-error', note: 'lab report page 2' })).status).toBe(200);
    const second = await run(dora, 'odm');
    expect(second.record).toMatchObject({ since: first.record.until, counts: { values: 1, inserted: 0, updated: 1, removed: 0 } });
    const xml2 = second.body.toString('utf8');
    expect(xml2).toContain(`PriorFileOID="${first.record.id}"`);
    expect(xml2).toMatch(/TransactionType="Update"/);
    expect(xml2).toContain('Value="1.50"');

    const alb = (await crfOf('A-001')).find((v) => v.item === 'ALB');
    expect((await post(`/crf-values/${alb.id}/reject`, { reason: 'specimen-problem' })).status).toBe(200);
    const third = await run(dora, 'odm');
    expect(third.record.counts).toMatchObject({ values: 1, inserted: 0, updated: 0, removed: 1 });
    const xml3 = third.body.toString('utf8');
    expect(xml3).toMatch(/TransactionType="Remove"/);
    // The Remove names the cell as it was sent: its item group and item.
    expect(xml3).toContain('ItemOID="IT.LB.ALB"');

    const fourth = await run(dora, 'odm');
    expect(fourth.record.counts).toMatchObject({ values: 0, inserted: 0, updated: 0, removed: 0 });
    expect(fourth.body.toString('utf8')).not.toMatch(/TransactionType=/);
  });

  test('the state is kept per (trial, sites): a site-a exporter starts from nothing and sees only site-a', async () => {
    const mine = await run(sam, 'odm');
    expect(mine.record).toMatchObject({ sites: ['site-a'], since: null, counts: { subjects: 1, inserted: 2, removed: 0 } });
    expect(mine.body.toString('utf8')).not.toContain('B-001');
  });

  test('two transactional exports of one scope at once never both send the same changes', async () => {
    const [b2] = (await crfOf('B-001')).filter((v) => v.item === 'INR');
    expect((await post(`/crf-values/${b2.id}/accept`, {})).status).toBe(200);
    const both = await Promise.all([run(dora, 'odm'), run(dora, 'odm')]);
    const inserted = both.map((x) => x.record.counts.inserted).sort();
    expect(inserted).toEqual([0, 1]);
    const [early, late] = [...both].sort((x, y) => Number(x.record.id.slice(4)) - Number(y.record.id.slice(4)));
    expect(late.record.since).toBe(early.record.until);
  });
});

describe('snapshots', () => {
  test('odm-snapshot carries every exportable value and never a Remove; it moves no transactional state', async () => {
    const snap = await run(dora, 'odm-snapshot');
    const xml = snap.body.toString('utf8');
    expect(snap.record).toMatchObject({ kind: 'snapshot', since: null, counts: { values: 4, inserted: 0, updated: 0, removed: 0 } });
    expect(xml).not.toContain('Remove');
    // The rejected ALB is defined in the metadata but carries no data.
    expect(xml).not.toContain('<ItemData ItemOID="IT.LB.ALB"');
    expect(xml.match(/<ItemData /g)).toHaveLength(4);
    const next = await run(dora, 'odm');
    expect(next.record.counts.values).toBe(0);
  });

  test('reviewed-only (the default) vs all (export.values: all): automatic values go only with all', async () => {
    const reviewed = await loadExportDataset(stack.db, deps, { trial: TRIAL, scope: scopeOf(dora) });
    expect(reviewed.values.every((v) => v.status === 'accepted' || v.status === 'corrected')).toBe(true);
    expect(reviewed.values.some((v) => v.status === 'corrected' && v.audit.user === 'dora' && v.audit.reason === 'transcription-error: lab report page 2')).toBe(true);
    const base = deps.trials;
    const all: TrialSet = { keys: base.keys, has: (k) => base.has(k), get: (k) => { const t = base.get(k); return t && { ...t, export: { ...t.export, values: 'all' } }; } };
    // A value only the pipeline has seen: a new lab at site-b, not reviewed.
    const c = await stack.fhir('POST', '', { resourceType: 'Bundle', type: 'batch', entry: [lab('pb', '1751-7', 3.0, 'g/dL', '2024-03-02T09:00:00+08:00')] }, SITE_TOKENS['site-b']);
    expect(c.status).toBe(200);
    await stack.evaluated();
    const withAuto = await loadExportDataset(stack.db, { ...deps, trials: all }, { trial: TRIAL, scope: scopeOf(dora) });
    const auto = withAuto.values.filter((v) => v.status === 'auto');
    expect(auto.map((v) => [v.subject, v.item, v.audit.user])).toEqual([['B-001', 'ALB', 'trialbridge']]);
    expect(withAuto.values.length).toBe(reviewed.values.length + 1);
    expect(withAuto.values.some((v) => v.status === 'rejected' || v.status === 'superseded')).toBe(false);
    // The dataset places and describes each value: site-local time with offset, interpretation, versioned source.
    const tbil = withAuto.values.find((v) => v.subject === 'A-001' && v.item === 'TBIL')!;
    expect(tbil).toMatchObject({ site: 'site-a', visit: 'SCR', visitRepeat: '1', value: 5, unit: 'mg/dL', originalValue: 85.5, originalUnit: 'umol/L', localDateTime: '2024-03-01T08:00:00+08:00', localDate: '2024-03-01', interpretation: 'H', loinc: '14631-6' });
    expect(tbil.source).toMatch(/^Observation\/[^/]+\/_history\/.+$/);
  });
});

describe('scope, stored files and audit', () => {
  test('a site-a user never sees site-b values or exports of every site', async () => {
    const ds = await loadExportDataset(stack.db, deps, { trial: TRIAL, scope: scopeOf(sam) });
    expect(new Set(ds.subjects.map((s) => s.site))).toEqual(new Set(['site-a']));
    expect(ds.values.every((v) => v.site === 'site-a')).toBe(true);
    const everything = await listExports(stack.db, { trial: TRIAL, scope: scopeOf(dora) });
    const hers = await listExports(stack.db, { trial: TRIAL, scope: scopeOf(sam) });
    expect(hers.length).toBeGreaterThan(0);
    expect(hers.every((r) => r.sites.length === 1 && r.sites[0] === 'site-a')).toBe(true);
    expect(everything.length).toBeGreaterThan(hers.length);
    // Newest first.
    expect(everything.map((r) => Number(r.id.slice(4)))).toEqual([...everything.map((r) => Number(r.id.slice(4)))].sort((x, y) => y - x));
    const star = everything.find((r) => r.sites[0] === '*')!;
    expect(await readExport(stack.db, star.id, scopeOf(sam))).toBeNull();
    expect(await readExport(stack.db, 'EXP-999999', scopeOf(dora))).toBeNull();
    expect(await readExport(stack.db, 'not-an-id', scopeOf(dora))).toBeNull();
  });

  test.each(['redcap', 'lb', 'ex', 'odm-snapshot'] as const)('%s: the re-downloaded file is byte-identical and its SHA-256 is the recorded one', async (format) => {
    const made = await run(dora, format);
    const again = await readExport(stack.db, made.record.id, scopeOf(dora));
    expect(again).not.toBeNull();
    expect(again!.record).toEqual(made.record);
    expect(Buffer.compare(again!.body, made.body)).toBe(0);
    expect(createHash('sha256').update(again!.body).digest('hex')).toBe(made.record.sha256);
    expect(again!.record.bytes).toBe(made.body.length);
  });

  test('every export is audited as export.create by its exporter, with the site of its scope', async () => {
    const rows = await listAudit(stack.db, { entity: 'export', limit: 1000 });
    const exports = await listExports(stack.db, { trial: TRIAL, scope: scopeOf(dora) });
    expect(rows.map((r) => r.entityId).sort()).toEqual(exports.map((r) => r.id).sort());
    for (const r of rows) {
      const rec = exports.find((x) => x.id === r.entityId)!;
      expect(r).toMatchObject({ action: 'export.create', trial: TRIAL, actor: rec.createdBy, actorRole: 'data-manager', site: rec.sites.length === 1 ? rec.sites[0] : '*' });
      expect(r.newValue).toMatchObject({ format: rec.format, sha256: rec.sha256, bytes: rec.bytes });
    }
  });

  test('an unknown trial or format is a precise 4xx error naming the field', async () => {
    await expect(runExport(stack.db, deps, { trial: 'NCT00000000', format: 'odm', actor: actorOf(dora), scope: scopeOf(dora), sites: ['*'] }))
      .rejects.toMatchObject({ code: 'invalid-export-request', status: 400, expression: ['trial'] });
    await expect(runExport(stack.db, deps, { trial: TRIAL, format: 'pdf' as ExportFormat, actor: actorOf(dora), scope: scopeOf(dora), sites: ['*'] }))
      .rejects.toMatchObject({ code: 'invalid-export-request', status: 400, expression: ['format'] });
  });
});
