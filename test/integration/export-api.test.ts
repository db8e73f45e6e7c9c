/**
 * The export API (README "Send data to the trial database") on the live stack:
 * who may export (action `export`: admin, data-manager, monitor; investigators
 * 403), unknown trial 404, unknown format 400 naming the field and the allowed
 * values; POST then the listing then the download (ETag = SHA-256 of the bytes,
 * the record's fileName as attachment), one audit row per download; a user with
 * grants for one site exports only that site and cannot fetch an export of all.
 * Data: fixtures/nct05985863-screening, sent as site-a (S-0001) and, renumbered,
 * as site-b (S-0002); their screening values accepted by a data manager.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { FIXTURES_DIR, listFixtures, sendBundle } from '../../scripts/fixtures-lib';
import { sha256Hex } from '../../src/http';
import { SITE_TOKENS, startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

const TRIAL = 'NCT05985863';
/** The official CDISC ODM 1.3.2 schema, beside the repository. */
const ODM_XSD = path.resolve(__dirname, '../../../shared/cdisc-odm-1.3.2/ODM1-3-2.xsd');
const TOKENS = { ...USER_TOKENS, siteBdm: 'token-dm-site-b-0123456789', monitor: 'token-monitor-0123456789' } as const;
let stack: TestStack;

/** A request to /api with a bearer token; the body is read as JSON when it is JSON, else kept as bytes. */
async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; headers: Headers; json: any; bytes: Buffer }> {
  const res = await fetch(`${stack.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const json = /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(bytes.toString('utf8')) : null;
  return { status: res.status, headers: res.headers, json, bytes };
}

const code = (oo: any) => oo?.issue?.[0]?.details?.coding?.[0]?.code;

/** The screening fixture renumbered (subject, MRN), for a second subject at another site. */
function renumbered(body: unknown, from: string, to: string): unknown {
  return JSON.parse(JSON.stringify(body).split(from).join(to).split('MRN-A001').join('MRN-B002'));
}

async function acceptScreening(subject: string, site: string): Promise<void> {
  const r = await call('POST', `/subjects/${subject}/visits/SCR/accept`, TOKENS.admin, { trial: TRIAL, site });
  expect(r.status).toBe(200);
  expect(r.json.accepted.length).toBeGreaterThan(0);
}

beforeAll(async () => {
  stack = await startStack('export-api', {
    TRIALBRIDGE_USERS: JSON.stringify([
      { id: 'ada', role: 'admin', tokenSha256: sha256Hex(USER_TOKENS.admin) },
      { id: 'dora', role: 'data-manager', name: 'Dora Data', tokenSha256: sha256Hex(USER_TOKENS.dm) },
      { id: 'ivan', role: 'investigator', tokenSha256: sha256Hex(USER_TOKENS.inv) },
      { id: 'bea', role: 'data-manager', name: 'Bea Site-B', tokenSha256: sha256Hex(TOKENS.siteBdm), sites: ['site-b'] },
      { id: 'mona', role: 'monitor', tokenSha256: sha256Hex(TOKENS.monitor) },
    ]),
  });
  const fixture = listFixtures(FIXTURES_DIR).find((c) => c.name === 'nct05985863-screening')!;
  for (const input of fixture.inputs) {
    await sendBundle(stack.url, SITE_TOKENS['site-a'], input.body);
    await sendBundle(stack.url, SITE_TOKENS['site-b'], renumbered(input.body, 'S-0001', 'S-0002'));
  }
  await stack.evaluated();
  await acceptScreening('S-0001', 'site-a');
  await acceptScreening('S-0002', 'site-b');
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

describe('refusals', () => {
  test('an investigator may not export: 403 naming the action, for the listing, a create and a download', async () => {
    for (const [method, path, body] of [['GET', `/trials/${TRIAL}/exports`], ['POST', `/trials/${TRIAL}/exports`, { format: 'odm' }], ['GET', `/trials/${TRIAL}/exports/EXP-1`]] as const) {
      const r = await call(method, path, TOKENS.inv, body);
      expect(r.status).toBe(403);
      expect(r.json.resourceType).toBe('OperationOutcome');
      expect(code(r.json)).toBe('forbidden');
      expect(r.json.issue[0].diagnostics).toMatch(/\bexport\b/);
    }
  });

  test('an unknown trial is 404 OperationOutcome', async () => {
    const r = await call('POST', '/trials/NCT00000000/exports', TOKENS.dm, { format: 'odm' });
    expect(r.status).toBe(404);
    expect(code(r.json)).toBe('not-found');
    expect(r.json.issue[0].diagnostics).toContain('NCT00000000');
  });

  test.each([
    ['an unknown format', { format: 'xlsx' }],
    ['no format', {}],
    ['a format that is not text', { format: ['odm'] }],
    ['a body that is not an object', [1, 2]],
  ])('%s is 400 invalid-export-request naming the field and the allowed values', async (_what, body) => {
    const r = await call('POST', `/trials/${TRIAL}/exports`, TOKENS.dm, body);
    expect(r.status).toBe(400);
    expect(code(r.json)).toBe('invalid-export-request');
    expect(r.json.issue[0].expression).toEqual(['format']);
    expect(r.json.issue[0].diagnostics).toContain('odm, odm-snapshot, redcap, lb, ex');
  });

  test('an id that is no export of the trial is 404', async () => {
    for (const id of ['EXP-999999', 'nope', '1']) {
      const r = await call('GET', `/trials/${TRIAL}/exports/${id}`, TOKENS.dm);
      expect(r.status).toBe(404);
      expect(code(r.json)).toBe('not-found');
    }
  });
});

describe('create, list, download', () => {
  let odm: any;

  test('POST {format: odm} answers 201 with the record and its Location', async () => {
    const r = await call('POST', `/trials/${TRIAL}/exports`, TOKENS.dm, { format: 'odm' });
    expect(r.status).toBe(201);
    odm = r.json;
    expect(odm).toMatchObject({ trial: TRIAL, format: 'odm', kind: 'transactional', since: null, sites: ['*'], createdBy: 'dora', contentType: 'application/xml' });
    expect(odm.id).toMatch(/^EXP-\d+$/);
    expect(odm.fileName).toBe(`${TRIAL}-odm-${odm.id}.xml`);
    expect(odm.counts.subjects).toBe(2);
    expect(odm.counts.values).toBeGreaterThan(0);
    expect(odm.counts.inserted).toBe(odm.counts.values);
    expect(odm.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.headers.get('location')).toBe(`/api/trials/${TRIAL}/exports/${odm.id}`);
    expect(odm.download).toBe(r.headers.get('location'));
  });

  test('the listing holds it, newest first, with its download link; a monitor sees it too', async () => {
    const snap = await call('POST', `/trials/${TRIAL}/exports`, TOKENS.admin, { format: 'odm-snapshot' });
    expect(snap.status).toBe(201);
    for (const token of [TOKENS.dm, TOKENS.monitor]) {
      const r = await call('GET', `/trials/${TRIAL}/exports`, token);
      expect(r.status).toBe(200);
      expect(r.json.trial).toBe(TRIAL);
      const ids = r.json.exports.map((x: any) => x.id);
      expect(ids.slice(0, 2)).toEqual([snap.json.id, odm.id]);
      expect(r.json.exports[1]).toEqual({ ...odm });
    }
  });

  test('the download is the file: type, attachment name, length, ETag = SHA-256 of the bytes; identifiers only', async () => {
    const r = await call('GET', odm.download.replace(/^\/api/, ''), TOKENS.dm);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/xml/);
    expect(r.headers.get('content-disposition')).toBe(`attachment; filename="${odm.fileName}"`);
    expect(Number(r.headers.get('content-length'))).toBe(r.bytes.length);
    expect(r.bytes.length).toBe(odm.bytes);
    const sha = crypto.createHash('sha256').update(r.bytes).digest('hex');
    expect(sha).toBe(odm.sha256);
    expect(r.headers.get('etag')).toBe(`"${sha}"`);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const xml = r.bytes.toString('utf8');
    expect(xml.startsWith('<?xml')).toBe(true);
    expect(xml).toContain('SubjectKey="S-0001"');
    expect(xml).toContain('SubjectKey="S-0002"');
    // What never leaves: record numbers and birth dates (README "Send data to the trial database").
    expect(xml).not.toContain('MRN-');
    expect(xml).not.toContain('1970-05-01');
    // The file as downloaded is valid against the official schema.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-export-api-'));
    try {
      fs.writeFileSync(path.join(dir, odm.fileName), r.bytes);
      expect(() => execFileSync('xmllint', ['--noout', '--schema', ODM_XSD, path.join(dir, odm.fileName)], { stdio: 'pipe' })).not.toThrow();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every download is audited (export.download), re-downloads too, as the user with the role that allowed it', async () => {
    const before = await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE action = 'export.download' AND entity_id = $1", [odm.id]);
    expect((await call('GET', odm.download.replace(/^\/api/, ''), TOKENS.dm)).status).toBe(200);
    expect((await call('GET', odm.download.replace(/^\/api/, ''), TOKENS.monitor)).status).toBe(200);
    const rows = await stack.db.query<{ actor: string; actor_role: string; trial: string; entity: string; new_value: any }>(
      "SELECT actor, actor_role, trial, entity, new_value FROM audit_log WHERE action = 'export.download' AND entity_id = $1 ORDER BY id", [odm.id]);
    expect(rows.rows.length).toBe(before.rows[0].n + 2);
    expect(rows.rows.slice(-2).map((x) => [x.actor, x.actor_role])).toEqual([['dora', 'data-manager'], ['mona', 'monitor']]);
    expect(rows.rows.at(-1)).toMatchObject({ trial: TRIAL, entity: 'export', new_value: { sha256: odm.sha256, fileName: odm.fileName } });
    // The creation is audited by the store (export.create), once.
    const created = await stack.db.query("SELECT actor FROM audit_log WHERE action = 'export.create' AND entity_id = $1", [odm.id]);
    expect(created.rows).toEqual([{ actor: 'dora' }]);
  });

  test('a second transactional export continues the first: nothing changed, nothing sent', async () => {
    const r = await call('POST', `/trials/${TRIAL}/exports`, TOKENS.dm, { format: 'odm' });
    expect(r.status).toBe(201);
    expect(r.json.since).toBe(odm.until);
    expect(r.json.counts).toMatchObject({ inserted: 0, updated: 0, removed: 0 });
  });

  test('REDCap: a zip of the project files; LB and EX: CSV', async () => {
    const redcap = await call('POST', `/trials/${TRIAL}/exports`, TOKENS.dm, { format: 'redcap' });
    expect(redcap.status).toBe(201);
    expect(redcap.json.fileName).toBe(`${TRIAL}-redcap-${redcap.json.id}.zip`);
    const zip = await call('GET', redcap.json.download.replace(/^\/api/, ''), TOKENS.dm);
    expect(zip.headers.get('content-type')).toMatch(/^application\/zip/);
    expect(zip.headers.get('etag')).toBe(`"${crypto.createHash('sha256').update(zip.bytes).digest('hex')}"`);
    const files = unzipSync(new Uint8Array(zip.bytes));
    expect(Object.keys(files).length).toBeGreaterThanOrEqual(4);
    const all = Object.values(files).map((f) => Buffer.from(f).toString('utf8')).join('\n');
    expect(all).toContain('S-0001');
    expect(all).not.toContain('MRN-');
    for (const format of ['lb', 'ex'] as const) {
      const made = await call('POST', `/trials/${TRIAL}/exports`, TOKENS.dm, { format });
      expect(made.status).toBe(201);
      const file = await call('GET', made.json.download.replace(/^\/api/, ''), TOKENS.dm);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(file.headers.get('content-disposition')).toBe(`attachment; filename="${TRIAL}-${format}-${made.json.id}.csv"`);
    }
  });
});

describe('scope', () => {
  test('a data manager of site-b exports site-b only, sees only exports of their scope, and cannot download an export of every site', async () => {
    const mine = await call('POST', `/trials/${TRIAL}/exports`, TOKENS.siteBdm, { format: 'odm-snapshot' });
    expect(mine.status).toBe(201);
    expect(mine.json).toMatchObject({ sites: ['site-b'], createdBy: 'bea' });
    expect(mine.json.counts.subjects).toBe(1);
    const file = await call('GET', mine.json.download.replace(/^\/api/, ''), TOKENS.siteBdm);
    expect(file.status).toBe(200);
    const xml = file.bytes.toString('utf8');
    expect(xml).toContain('SubjectKey="S-0002"');
    expect(xml).not.toContain('S-0001');
    // Audited with the site it covers, so the row carries that site's local time.
    const audit = await stack.db.query("SELECT site FROM audit_log WHERE action = 'export.download' AND entity_id = $1", [mine.json.id]);
    expect(audit.rows).toEqual([{ site: 'site-b' }]);

    const list = await call('GET', `/trials/${TRIAL}/exports`, TOKENS.siteBdm);
    expect(list.status).toBe(200);
    expect(list.json.exports.length).toBeGreaterThan(0);
    expect(list.json.exports.every((x: any) => x.sites.every((s: string) => s === 'site-b'))).toBe(true);
    const all = (await call('GET', `/trials/${TRIAL}/exports`, TOKENS.dm)).json.exports.find((x: any) => x.sites.includes('*'));
    const refused = await call('GET', `/trials/${TRIAL}/exports/${all.id}`, TOKENS.siteBdm);
    expect(refused.status).toBe(404);
    // A data manager of every site sees the site-b export as well.
    const dora = await call('GET', `/trials/${TRIAL}/exports`, TOKENS.dm);
    expect(dora.json.exports.map((x: any) => x.id)).toContain(mine.json.id);
  });
});
