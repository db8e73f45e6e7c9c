/**
 * `trialbridge validate-mappings`: summary and exit 0 on the shipped files, every problem
 * of the mapping files, the trial files and their pairing (design.md "A trial is a
 * package") and exit 1 otherwise.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_MAPPINGS_DIR } from '../mapping';
import { validateMappingsCommand } from './validate-mappings';

/** A private copy of the shipped mappings/ (with trials/), changed by `edit`. */
function shippedCopy(edit: (dir: string) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-validate-'));
  fs.cpSync(DEFAULT_MAPPINGS_DIR, dir, { recursive: true });
  edit(dir);
  return dir;
}

async function problemsOf(dir: string): Promise<{ code: number; errors: string[] }> {
  const { lines, out } = capture();
  try {
    return { code: await validateMappingsCommand([dir], out), errors: lines.error };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function capture() {
  const lines = { log: [] as string[], error: [] as string[] };
  return { lines, out: { log: (s: string) => lines.log.push(s), error: (s: string) => lines.error.push(s) } };
}

test('shipped mappings: summary of trials, rules and codes, exit 0', async () => {
  const { lines, out } = capture();
  expect(await validateMappingsCommand([], out)).toBe(0);
  expect(lines.error).toEqual([]);
  expect(lines.log.join('\n')).toMatch(/trials: 4 \(ESLD-UCMSC-DOSE, NCT02812121, NCT03945487, NCT05985863\), each with its trial definition in /);
  expect(lines.log.join('\n')).toMatch(/NCT02812121: \d+ rules, 14 criteria/);
  expect(lines.log.join('\n')).toMatch(/rules: +\d+/);
  expect(lines.log.join('\n')).toMatch(/LOINC codes watched: \d+/);
});

test('broken directory: one `file#pointer: message` line per problem, exit 1', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-validate-'));
  try {
    fs.mkdirSync(path.join(dir, 'crf'));
    fs.writeFileSync(path.join(dir, 'analytes.json'), JSON.stringify({ kind: 'analytes', analytes: [] }));
    fs.writeFileSync(path.join(dir, 'crf', 'X.json'), '{');
    const { lines, out } = capture();
    expect(await validateMappingsCommand([dir], out)).toBe(1);
    expect(lines.error).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^analytes\.json#\/analytes: /),
        expect.stringMatching(/^crf\/X\.json#: not valid JSON/),
        "crf/X.json#/trial: CRF rules of 'X' have no trial definition trials/X.json: its subjects would get no report",
        expect.stringMatching(/^trials\/\.#: cannot read trials directory .*: ENOENT/),
        expect.stringMatching(/^4 problems in /),
      ]),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('a trial is a package: both files, checked against each other', () => {
  test('a trial file without its CRF file is named (its enrollments would be unknown-study)', async () => {
    const { code, errors } = await problemsOf(shippedCopy((d) => fs.rmSync(path.join(d, 'crf', 'NCT03945487.json'))));
    expect(code).toBe(1);
    expect(errors).toEqual([
      "trials/NCT03945487.json#/key: trial 'NCT03945487' has no CRF rule file crf/NCT03945487.json: every enrollment in it would be refused as unknown-study",
      expect.stringMatching(/^1 problem in /),
    ]);
  });

  test('a CRF file without its trial file is named (its subjects would get no report)', async () => {
    const { code, errors } = await problemsOf(shippedCopy((d) => fs.rmSync(path.join(d, 'trials', 'NCT03945487.json'))));
    expect(code).toBe(1);
    expect(errors[0]).toBe("crf/NCT03945487.json#/trial: CRF rules of 'NCT03945487' have no trial definition trials/NCT03945487.json: its subjects would get no report");
  });

  test('criteria, protocol CRF units and per-kg weights must fit the CRF file; every problem of both files at once', async () => {
    const dir = shippedCopy((d) => {
      const crfFile = path.join(d, 'crf', 'NCT02812121.json');
      const crf = JSON.parse(fs.readFileSync(crfFile, 'utf8'));
      crf.rules = crf.rules.filter((r: { item: string }) => r.item !== 'CREA' && r.item !== 'PTA');
      crf.rules.find((r: { item: string }) => r.item === 'TBIL').unit = 'mg/dL';
      fs.writeFileSync(crfFile, JSON.stringify(crf));
      const esldFile = path.join(d, 'crf', 'ESLD-UCMSC-DOSE.json');
      const esld = JSON.parse(fs.readFileSync(esldFile, 'utf8'));
      esld.rules = esld.rules.filter((r: { item: string }) => r.item !== 'WEIGHT');
      fs.writeFileSync(esldFile, JSON.stringify(esld));
      const trialFile = path.join(d, 'trials', 'NCT05985863.json');
      const trial = JSON.parse(fs.readFileSync(trialFile, 'utf8'));
      trial.defaults.meld = { unrecordedDialysis: 'sometimes' };
      fs.writeFileSync(trialFile, JSON.stringify(trial));
    });
    const { code, errors } = await problemsOf(dir);
    expect(code).toBe(1);
    expect(errors).toEqual(expect.arrayContaining([
      expect.stringMatching(/^trials\/ESLD-UCMSC-DOSE\.json#\/arms\/\d+: arm \S+ doses per kg of body weight LOINC 29463-7, which no rule of crf\/ESLD-UCMSC-DOSE\.json maps$/),
      'trials/NCT02812121.json#/crfUnits/TBIL: the protocol asks for TBIL in umol/L; crf/NCT02812121.json stores mg/dL',
      expect.stringMatching(/^trials\/NCT02812121\.json#\/eligibility\/\d+\/rule\/score: criterion I3a \(MELD\) reads CREA, which is not a CRF item of crf\/NCT02812121\.json: it could never be evaluated$/),
      expect.stringMatching(/^trials\/NCT02812121\.json#\/eligibility\/\d+\/rule\/rules\/1\/item: criterion I1b reads PTA, which is not a CRF item/),
      'trials/NCT05985863.json#/defaults/meld/unrecordedDialysis: must be equal to one of the allowed values: "assume-none", "unknown"',
    ]));
    expect(errors[errors.length - 1]).toMatch(new RegExp(`^${errors.length - 1} problems in `));
  });
});
