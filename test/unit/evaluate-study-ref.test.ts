/**
 * `trialbridge evaluate` on enrollment as EHRs send it: ResearchStudy named by
 * reference (any order in the file), the study drug named by the
 * workflow-researchStudy extension, per-site aliases from TRIALBRIDGE_SITES,
 * and the server's TRIALBRIDGE_TRIALS_DIR / TRIALBRIDGE_MAPPINGS_DIR.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = path.resolve(__dirname, '../../bin/trialbridge');
const FIXTURES = path.resolve(__dirname, '../../fixtures');
const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
const run = (args: string[], env: Record<string, string> = {}) => spawnSync(BIN, ['evaluate', ...args], { env: { ...baseEnv, ...env }, encoding: 'utf8' });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tb-evref-'));
const WORKFLOW = 'http://hl7.org/fhir/StructureDefinition/workflow-researchStudy';

test('the standard shape (ResearchStudy by reference, last in the Bundle) yields the subject and the same verdicts', () => {
  const r = run(['--trial', 'NCT05985863', '--as-of', '2024-03-05', '--time-zone', 'Asia/Shanghai', path.join(FIXTURES, 'study-by-reference-screening/input.json')]);
  expect(r.status).toBe(0);
  const reports = JSON.parse(r.stdout);
  expect(reports.map((x: any) => x.subject)).toEqual(['S-REF-0001']);
  const byId = Object.fromEntries(reports[0].eligibility.criteria.map((c: any) => [c.id, c.verdict]));
  // As for the identifier shape: 85.5 umol/L meets jaundice, PTA 39 % meets coagulopathy (clinical-reference §1.1).
  expect(byId).toMatchObject({ I1: 'met', I2a: 'met', I2b: 'met' });
});

test('without its ResearchStudy the reference names no trial: no report, and the reason on stderr', () => {
  const bundle = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'study-by-reference-screening/input.json'), 'utf8'));
  bundle.entry = bundle.entry.filter((e: any) => e.resource.resourceType !== 'ResearchStudy');
  const file = path.join(tmp(), 'no-study.json');
  fs.writeFileSync(file, JSON.stringify(bundle));
  const r = run(['--trial', 'NCT05985863', file]);
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual([]);
  expect(r.stderr).toContain('no ResearchSubject of NCT05985863');
});

test('NDJSON, ResearchStudy on the last line: the extension-named infusion sets Day 0', () => {
  const lines = [
    { resourceType: 'MedicationAdministration', id: 'ma1', status: 'completed', subject: { reference: 'Patient/p1' }, effectiveDateTime: '2024-03-04T09:00:00+08:00',
      medicationCodeableConcept: { coding: [{ system: 'urn:oid:1.2.156.302.formulary', code: 'UCMSC-INF' }] }, extension: [{ url: WORKFLOW, valueReference: { reference: 'ResearchStudy/st-1' } }] },
    { resourceType: 'Patient', id: 'p1', gender: 'male', birthDate: '1970-05-01' },
    { resourceType: 'ResearchSubject', id: 'rs1', status: 'on-study', assignedArm: 'MSC', identifier: [{ value: 'S-ND-1' }], period: { start: '2024-03-01' },
      study: { reference: 'ResearchStudy/st-1' }, individual: { reference: 'Patient/p1' } },
    { resourceType: 'ResearchStudy', id: 'st-1', status: 'active', identifier: [{ system: 'https://clinicaltrials.gov', value: 'NCT05985863' }] },
  ];
  const file = path.join(tmp(), 'in.ndjson');
  fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const r = run(['--trial', 'NCT05985863', '--as-of', '2024-03-06', '--time-zone', 'Asia/Shanghai', file]);
  expect(r.status).toBe(0);
  const [report] = JSON.parse(r.stdout);
  expect(report).toMatchObject({ subject: 'S-ND-1', day0: '2024-03-04' });
  expect(report.doses).toEqual(expect.arrayContaining([expect.objectContaining({ visit: 'W0', status: 'given', source: 'MedicationAdministration/ma1' })]));
});

describe('site aliases from TRIALBRIDGE_SITES', () => {
  const hex = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
  const sites = (aliases: unknown) => JSON.stringify([{ id: 'site-a', tokenSha256: hex('t'), timeZone: 'Asia/Shanghai', studyAliases: aliases }]);
  const irbOnly = () => {
    const bundle = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'study-by-reference-screening/input.json'), 'utf8'));
    const st = bundle.entry.find((e: any) => e.resource.resourceType === 'ResearchStudy').resource;
    st.identifier = [{ system: 'urn:oid:1.2.156.302.irb', value: 'IRB-2023-19' }];
    const file = path.join(tmp(), 'irb.json');
    fs.writeFileSync(file, JSON.stringify(bundle));
    return file;
  };

  test('--site with an alias resolves the local protocol number; another site does not', () => {
    const file = irbOnly();
    const env = { TRIALBRIDGE_SITES: sites({ NCT05985863: ['IRB-2023-19'] }) };
    const withAlias = run(['--trial', 'NCT05985863', '--as-of', '2024-03-05', '--site', 'site-a', file], env);
    expect(withAlias.status).toBe(0);
    expect(JSON.parse(withAlias.stdout).map((x: any) => x.subject)).toEqual(['S-REF-0001']);
    const without = run(['--trial', 'NCT05985863', '--as-of', '2024-03-05', '--site', 'site-b', file], env);
    expect(JSON.parse(without.stdout)).toEqual([]);
  });

  test('an alias for an unknown trial is a configuration error (exit 2, the entry named)', () => {
    const r = run(['--trial', 'NCT05985863', '--site', 'site-a', irbOnly()], { TRIALBRIDGE_SITES: sites({ NCT00000000: ['IRB-2023-19'] }) });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('TRIALBRIDGE_SITES[0].studyAliases.NCT00000000: no trial "NCT00000000" is configured');
  });
});

test('TRIALBRIDGE_TRIALS_DIR and TRIALBRIDGE_MAPPINGS_DIR are the directories read', () => {
  const input = path.join(FIXTURES, 'study-by-reference-screening/input.json');
  const trials = run(['--trial', 'NCT05985863', input], { TRIALBRIDGE_TRIALS_DIR: '/nonexistent/trials' });
  expect(trials.status).not.toBe(0);
  expect(trials.stderr).toContain('/nonexistent/trials');
  const rules = run(['--trial', 'NCT05985863', input], { TRIALBRIDGE_MAPPINGS_DIR: '/nonexistent/mappings' });
  expect(rules.status).not.toBe(0);
  expect(rules.stderr).toContain('/nonexistent/mappings');
  // A copy of the shipped trials with one trial left out: that trial is unknown.
  const dir = tmp();
  for (const f of fs.readdirSync(path.resolve(__dirname, '../../mappings/trials')).filter((f) => f.endsWith('.json') && f !== 'NCT03945487.json'))
    fs.copyFileSync(path.resolve(__dirname, '../../mappings/trials', f), path.join(dir, f));
  const fewer = run(['--trial', 'NCT03945487', input], { TRIALBRIDGE_TRIALS_DIR: dir });
  expect(fewer.status).not.toBe(0);
  expect(fewer.stderr).toMatch(/NCT03945487/);
});
