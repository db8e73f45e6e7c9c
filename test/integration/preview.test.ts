/**
 * `trialbridge preview` as IT runs it on a new site's sample: the real command, with no
 * Redis and no database in its environment, on the public samples (../shared/fhir-samples)
 * as a Bundle and as NDJSON. It reports per trial and CRF item, the review reasons and
 * the unmapped codes by frequency with suggested analytes; it prints no names, birth
 * dates, ids or values.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sha256Hex } from '../../src/http';

const BIN = path.resolve(__dirname, '../../bin/trialbridge');
const SYNTHEA = path.resolve(__dirname, '../../../shared/fhir-samples/smart-on-fhir_generated-sample-data/R4/SYNTHEA');
const bundles = fs.existsSync(SYNTHEA) ? fs.readdirSync(SYNTHEA).filter((f) => f.endsWith('.json')).sort() : [];
const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
const LAB = 'http://lab.new-site.example/codes';

const run = (args: string[], env: Record<string, string> = {}) => spawnSync(BIN, ['preview', ...args], { env: { ...baseEnv, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-preview-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The names, birth dates and resource ids of a Bundle: none of them may appear in the output. */
function phiOf(bundle: any): string[] {
  const out: string[] = [];
  for (const e of bundle.entry ?? []) {
    const r = e.resource;
    if (r.resourceType === 'Patient') {
      out.push(r.birthDate, ...(r.name ?? []).flatMap((n: any) => [n.family, ...(n.given ?? [])]));
    }
    if (r.resourceType === 'Observation' && r.id) out.push(r.id);
  }
  return out.filter((x) => typeof x === 'string' && x.length > 3);
}

(bundles.length ? test : test.skip)('a Synthea Bundle, human-readable: CRF items with conversions, unmapped codes by frequency, no PHI', () => {
  const file = path.join(SYNTHEA, bundles[0]);
  const r = run(['--site', 'new-site', file]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('site not in TRIALBRIDGE_SITES: no site code map');
  expect(r.stdout).toMatch(/^NCT02812121$/m);
  expect(r.stdout).toMatch(/LB\.TBIL \[umol\/L\]: \d+ values? from LOINC 1975-2 in mg\/dL ×\d+ \(1 mg\/dL = 17\.1 umol\/L\)/);
  expect(r.stdout).toMatch(/Unmapped codes \(\d+; no review item/);
  expect(r.stdout).toMatch(/http:\/\/loinc\.org\|8302-2 {2}Body Height {2}\[cm\]/);
  for (const s of phiOf(JSON.parse(fs.readFileSync(file, 'utf8')))) expect(r.stdout).not.toContain(s);
}, 60_000);

(bundles.length ? test : test.skip)('NDJSON of several patients with --json: counts per item, review reasons, sorted unmapped codes with suggestions, the site code map applied', () => {
  const resources = bundles.slice(0, 5).flatMap((f) => (JSON.parse(fs.readFileSync(path.join(SYNTHEA, f), 'utf8')).entry as any[]).map((e) => e.resource));
  const obs = (id: string, code: string, display: string, value: number, unit: string) => ({
    resourceType: 'Observation', id, status: 'final', code: { coding: [{ system: LAB, code, display }] }, subject: { reference: 'Patient/local-1' },
    effectiveDateTime: '2024-03-01T08:00:00+08:00', valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  });
  const kelvin = { ...obs('l5', '26515-7', 'Platelets', 88, 'K/uL'), code: { coding: [{ system: 'http://loinc.org', code: '26515-7' }] } };
  const local = [obs('l1', 'BILT', 'Bilirubin, total', 2.5, 'mg/dL'), obs('l2', 'BILT', 'Bilirubin, total', 3.5, 'mg/dL'), obs('l3', 'PLTC', 'Platelet count', 120, 'K/uL'), obs('l4', 'GLU', 'Glucose', 5.5, 'mmol/L'), kelvin];
  const file = path.join(dir, 'sample.ndjson');
  fs.writeFileSync(file, [...resources, ...local].map((x) => JSON.stringify(x)).join('\n') + '\n');

  const r = run(['--site', 'new-site', '--trial', 'NCT05985863', '--json', file]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.trials.map((t: any) => t.trial)).toEqual(['NCT05985863']);
  const items = Object.fromEntries(report.trials[0].items.map((i: any) => [i.item, i]));
  expect(items.TBIL).toMatchObject({ form: 'LB', unit: 'mg/dL', sources: expect.arrayContaining([expect.objectContaining({ code: '1975-2', localCode: null, unit: 'mg/dL', factor: 1 })]) });
  expect(items.TBIL.values).toBe(items.TBIL.sources.reduce((a: number, s: any) => a + s.count, 0));
  expect(items.PLT.reviews).toContainEqual(expect.objectContaining({ reason: 'unit-not-convertible', example: expect.stringContaining('K/uL') }));
  const counts = report.unmapped.map((u: any) => u.count);
  expect(counts).toEqual([...counts].sort((a: number, b: number) => b - a));
  const byCode = Object.fromEntries(report.unmapped.map((u: any) => [`${u.system}|${u.code}`, u]));
  expect(byCode[`${LAB}|BILT`]).toMatchObject({ count: 2, display: 'Bilirubin, total', units: ['mg/dL'], suggestion: { analyte: 'TBIL', by: 'display' } });
  expect(byCode[`${LAB}|PLTC`]).toMatchObject({ count: 1, suggestion: { analyte: 'PLT' } });
  expect(byCode[`${LAB}|GLU`]).toMatchObject({ suggestion: null });
  expect(byCode['http://loinc.org|8302-2'].count).toBeGreaterThan(4);
  expect(r.stdout).not.toMatch(/"(value|effective|id|birthDate)"/);
  for (const v of ['2.5', '3.5', 'local-1', '2024-03-01']) expect(r.stdout).not.toContain(v);

  // With the site configured, its code map applies: the local bilirubin code now fills TBIL.
  const sites = JSON.stringify([{ id: 'new-site', tokenSha256: sha256Hex('t'), codeMap: { [`${LAB}|BILT`]: 'TBIL' } }]);
  const mapped = JSON.parse(run(['--site', 'new-site', '--trial', 'NCT05985863', '--json', file], { TRIALBRIDGE_SITES: sites }).stdout);
  const tbil = mapped.trials[0].items.find((i: any) => i.item === 'TBIL');
  expect(tbil.sources).toContainEqual({ code: '1975-2', localCode: `${LAB}|BILT`, unit: 'mg/dL', count: 2, factor: 1 });
  expect(tbil.values).toBe(items.TBIL.values + 2);
  expect(mapped.unmapped.map((u: any) => u.code)).not.toContain('BILT');
}, 60_000);

test('bad arguments and a bad site code map: exit 2 with a precise message', () => {
  expect(run([]).stderr).toMatch(/--site is required/);
  expect(run(['--site', 'x', '--trial', 'NOPE', 'f.json']).stderr).toMatch(/unknown trial "NOPE"; known: /);
  const sites = JSON.stringify([{ id: 'x', tokenSha256: sha256Hex('t'), codeMap: { [`${LAB}|A`]: 'NOPE' } }]);
  const bad = run(['--site', 'x', 'f.json'], { TRIALBRIDGE_SITES: sites });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain(`TRIALBRIDGE_SITES[0].codeMap["${LAB}|A"]: unknown analyte 'NOPE'`);
  const missing = run(['--site', 'x', path.join(dir, 'absent.json')]);
  expect(missing.status).toBe(1);
  expect(missing.stderr).toMatch(/preview: cannot read input/);
}, 60_000);
