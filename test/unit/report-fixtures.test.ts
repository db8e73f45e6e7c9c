/**
 * Protocol fixtures, offline: every fixtures/<case>/report.json is checked
 * against the report `trialbridge evaluate` builds from the case's input
 * Bundles, with no Redis or PostgreSQL. The live path runs the same cases in
 * test/integration/report-fixtures.test.ts.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { loadMappings, DEFAULT_MAPPINGS_DIR } from '../../src/mapping';
import { readResources } from '../../src/cli/evaluate';
import { buildSubjectReport } from '../../src/protocol/report/build';
import { subjectsFromResources } from '../../src/protocol/report/from-resources';
import { loadTrials } from '../../src/protocol/trials';
import Ajv from 'ajv';
import { diffFragment, listFixtures } from '../../scripts/fixtures-lib';

const validateReport = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../mappings/schema/subject-report.schema.json'), 'utf8')));

const cases = listFixtures().flatMap((c) => (c.report ? [{ ...c, report: c.report }] : []));
const trials = loadTrials();
const mappings = loadMappings(DEFAULT_MAPPINGS_DIR);

test('there are protocol fixture cases', () => {
  expect(cases.length).toBeGreaterThan(0);
});

describe.each(cases.map((c) => [c.name, c] as const))('offline %s', (_name, c) => {
  test(c.report.description, () => {
    // Through the CLI's own reader: the inputs concatenated as NDJSON of Bundles, in order.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tb-fx-')), 'input.ndjson');
    fs.writeFileSync(file, c.inputs.map((i) => JSON.stringify(i.body)).join('\n') + '\n');
    const { items } = readResources(file);
    const trial = trials.get(c.report.trial)!;
    const subjects = subjectsFromResources(trial, mappings, { id: 'offline', timeZone: c.report.timeZone }, items, c.report.asOf);
    const reports = new Map(subjects.map((s) => [s.subject, buildSubjectReport(s).report]));
    for (const r of reports.values()) {
      // Every report conforms to the published JSON schema.
      validateReport(r);
      expect(validateReport.errors ?? []).toEqual([]);
    }
    for (const [subject, fragment] of Object.entries(c.report.subjects)) {
      expect(reports.has(subject)).toBe(true);
      expect(diffFragment(reports.get(subject), fragment)).toEqual([]);
    }
  });
});
