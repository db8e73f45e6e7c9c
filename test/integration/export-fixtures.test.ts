/**
 * Export fixtures, live: every seed trial's fixture cases (and two dosing cases,
 * for EX) are sent over HTTP as their own site, mapped and evaluated by the
 * workers, reviewed by a data manager through the review API (one correction
 * with a reason, a visit accepted at once, the rest value by value), then
 * exported as that site's data manager:
 *  - the ODM Snapshot and Transactional files validate against the official
 *    CDISC ODM 1.3.2 schema (xmllint);
 *  - the REDCap data dictionary and records and the LB / EX CSV equal
 *    fixtures/<case>/expected-export/<file> (the reference, read by a person;
 *    UPDATE_EXPORT_FIXTURES=1 writes them). No export time enters those files.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { sha256Hex } from '../../src/http';
import { scopeSql, type Principal } from '../../src/http/scope';
import { loadTrialPackages } from '../../src/protocol/package';
import { runExport, type ExportDeps, type ExportFormat } from '../../src/store/exports';
import { listFixtures, sendBundle } from '../../scripts/fixtures-lib';
import { startStack, type TestStack, USER_TOKENS } from '../helpers/stack';

const SEED_CASE = /^(nct05985863|nct02812121|nct03945487|esld)-/;
/** Dosing cases: the seed cases carry no study-drug administrations, these do (EX, EXADJ). */
const DOSING_CASES = ['p-esld-per-kg-dose', 'p-missed-partial-short-interval'];
const cases = listFixtures().filter((c) => SEED_CASE.test(c.name) || DOSING_CASES.includes(c.name));
const XSD = path.resolve(__dirname, '../../../shared/cdisc-odm-1.3.2/ODM1-3-2.xsd');
const UPDATE = process.env.UPDATE_EXPORT_FIXTURES === '1';
const token = (name: string) => `export-fixture-token-${name}`;
const siteOf = (name: string) => `xf-${name}`.slice(0, 64);
const trialOf = (c: (typeof cases)[number]): string => c.report?.trial ?? Object.values(c.expected?.crf ?? {})[0]?.[0]?.trial ?? '';
let stack: TestStack;
let deps: ExportDeps;
let tmp: string;

async function post(p: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.url}/api${p}`, { method: 'POST', headers: { authorization: `Bearer ${USER_TOKENS.dm}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  const sites = cases.map((c) => ({ id: siteOf(c.name), tokenSha256: sha256Hex(token(c.name)), timeZone: c.report?.timeZone ?? 'Asia/Shanghai' }));
  stack = await startStack('export-fixtures', { TRIALBRIDGE_SITES: JSON.stringify(sites) });
  const packages = loadTrialPackages({ trialsDir: stack.config.trialsDir, mappingsDir: stack.config.mappingsDir });
  deps = { trials: packages.trials, mappings: packages.mappings, sites, version: 'fixtures' };
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'export-fixtures-'));
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('every seed trial has an export fixture case', () => {
  expect(new Set(cases.map(trialOf))).toEqual(new Set(['NCT05985863', 'NCT02812121', 'NCT03945487', 'ESLD-UCMSC-DOSE']));
});

/** A data manager's review of one site's values: one correction with a reason, each assigned visit accepted at once, the rest value by value. */
async function review(site: string, trial: string): Promise<void> {
  const subjects = (await stack.db.query<{ subject: string }>('SELECT DISTINCT subject FROM enrollments WHERE site = $1 AND trial = $2 ORDER BY subject', [site, trial])).rows.map((r) => r.subject);
  expect(subjects.length).toBeGreaterThan(0);
  let corrected = false;
  for (const subject of subjects) {
    const list = async () => ((await stack.api(`/subjects/${encodeURIComponent(subject)}/crf`, USER_TOKENS.dm)).body.values as any[]).filter((v) => v.site === site && v.trial === trial);
    const first = (await list()).filter((v) => v.status === 'auto' && typeof v.value === 'number').sort((a, b) => a.id - b.id)[0];
    if (!corrected && first) {
      const res = await post(`/crf-values/${first.id}/correct`, { value: first.value + 1, reason: 'transcription-error', note: 'checked against the lab report' });
      expect(res.status).toBe(200);
      corrected = true;
    }
    const visits = (await stack.db.query<{ visit: string }>('SELECT DISTINCT visit FROM visit_assignments WHERE site = $1 AND trial = $2 AND subject = $3 ORDER BY visit', [site, trial, subject])).rows;
    for (const { visit } of visits) expect((await post(`/subjects/${encodeURIComponent(subject)}/visits/${visit}/accept`, { trial, site })).status).toBe(200);
    for (const v of (await list()).filter((x) => x.status === 'auto' && !x.pendingReview)) expect((await post(`/crf-values/${v.id}/accept`, {})).status).toBe(200);
  }
  expect(corrected).toBe(true);
}

function xmllint(file: string): void {
  try {
    execFileSync('xmllint', ['--noout', '--schema', XSD, file], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`${path.basename(file)} does not validate against ODM1-3-2.xsd:\n${String((e as { stderr?: Buffer }).stderr ?? e).slice(0, 4000)}`);
  }
}

/** The file equals the reference in the case (or becomes it, with UPDATE_EXPORT_FIXTURES=1). */
function expectReference(dir: string, file: string, content: string): void {
  const ref = path.join(dir, 'expected-export', file);
  if (UPDATE) {
    fs.mkdirSync(path.dirname(ref), { recursive: true });
    fs.writeFileSync(ref, content);
  }
  expect(fs.existsSync(ref) ? `${file}:\n${content}` : `${file}: no reference`).toBe(`${file}:\n${fs.existsSync(ref) ? fs.readFileSync(ref, 'utf8') : content}`);
}

describe.each(cases.map((c) => [c.name, c] as const))('export %s', (name, c) => {
  test('reviewed, exported: ODM files schema-valid, REDCap and LB/EX equal the reference', async () => {
    const site = siteOf(name);
    const trial = trialOf(c);
    for (const input of c.inputs) {
      await sendBundle(stack.url, token(name), input.body);
      await stack.settle();
    }
    await stack.evaluated();
    await review(site, trial);
    await stack.evaluated();
    // The site's data manager: the files hold this case's data only.
    const dm: Principal = { id: 'dora', name: 'dora', via: 'token', grants: [{ role: 'data-manager', trial, site }] };
    const exp = (format: ExportFormat) => runExport(stack.db, deps, { trial, format, actor: { id: 'dora', role: 'data-manager', name: 'dora' }, scope: (p, a) => scopeSql(dm, p, a, 'export'), sites: [site] });

    const files = unzipSync(new Uint8Array((await exp('redcap')).body));
    const named = (kind: string) => {
      const key = Object.keys(files).find((f) => f.endsWith(`_${kind}.csv`));
      expect(key).toBeDefined();
      return Buffer.from(files[key!]).toString('utf8');
    };
    expectReference(c.dir, 'redcap-dictionary.csv', named('DataDictionary'));
    expectReference(c.dir, 'redcap-records.csv', named('Records'));
    expectReference(c.dir, 'lb.csv', (await exp('lb')).body.toString('utf8'));
    expectReference(c.dir, 'ex.csv', (await exp('ex')).body.toString('utf8'));
    const snapshot = await exp('odm-snapshot');
    expect(snapshot.record.counts.values).toBeGreaterThan(0);
    const transactional = await exp('odm');
    expect(transactional.record.counts).toMatchObject({ inserted: snapshot.record.counts.values, updated: 0, removed: 0 });
    for (const [kind, body] of [['snapshot', snapshot.body], ['transactional', transactional.body]] as const) {
      const file = path.join(tmp, `${name}-${kind}.xml`);
      fs.writeFileSync(file, body);
      xmllint(file);
    }
  }, 90_000);
});
