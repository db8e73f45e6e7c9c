/**
 * loadTrials: the shipped mappings/trials load with zero problems and say what
 * clinical-reference §1 and §6 say; a directory of broken files reports EVERY problem
 * with file and JSON pointer (design.md habits 1-2).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_MAPPINGS_DIR, loadMappings } from '../../mapping';
import { findArm, isComputable, loadTrials, TRIAL_DEFAULTS, trialFromJson, TrialLoadError, type Criterion, type TrialLoadProblem, type VisitDef } from './index';

function problemsOf(fn: () => unknown): readonly TrialLoadProblem[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof TrialLoadError) return err.problems;
    throw err;
  }
  throw new Error('expected TrialLoadError');
}

const windowOf = (visits: readonly VisitDef[], code: string) => {
  const v = visits.find((x) => x.code === code);
  return v?.kind === 'week' ? v.window.before : v ? 'SCR' : undefined;
};

describe('shipped mappings/trials', () => {
  const set = loadTrials();
  const get = (key: string) => set.get(key)!;

  test('four trials load with zero problems; the trial set is immutable', () => {
    expect(set.keys).toEqual(['ESLD-UCMSC-DOSE', 'NCT02812121', 'NCT03945487', 'NCT05985863']);
    const t = get('NCT05985863');
    expect(Object.isFrozen(t) && Object.isFrozen(t.arms[0].doses[0]) && Object.isFrozen(t.eligibility[3].rule)).toBe(true);
    expect(set.has('NCT00000000')).toBe(false);
  });

  test.each([
    ['NCT05985863', ['I1', 'I2a', 'I2b', 'I2c', 'I3', ...Array.from({ length: 14 }, (_, i) => `E${i + 1}`)]],
    ['ESLD-UCMSC-DOSE', ['I1', 'I2', 'I3', ...Array.from({ length: 11 }, (_, i) => `E${i + 1}`)]],
    ['NCT02812121', ['I1a', 'I1b', 'I1c', 'I2', 'I3a', 'I3b', ...Array.from({ length: 8 }, (_, i) => `E${i + 1}`)]],
  ])('%s criteria ids as in clinical-reference §1', (key, ids) => {
    expect(get(key).eligibility.map((c) => c.id)).toEqual(ids);
  });

  test.each([
    ['NCT05985863', ['SCR', 'W0', 'W1', 'W2', 'W3', 'W4', 'W5', 'W8', 'W12', 'W24', 'W48']],
    ['ESLD-UCMSC-DOSE', ['SCR', 'W0', 'W1', 'W4', 'W8', 'W12', 'W24', 'W48']],
    ['NCT02812121', ['SCR', 'W0', 'W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W8', 'W12', 'W24', 'W36', 'W52']],
    ['NCT03945487', ['SCR']],
  ])('%s visits per §6', (key, codes) => {
    expect(get(key).visits.map((v) => v.code)).toEqual(codes);
  });

  test.each([
    // §6 [A]: infusion weeks and weeks 1-3 +/-2, weeks 4-11 +/-3, week >= 12 +/-7.
    ['NCT05985863', 'W3', 2], ['NCT05985863', 'W4', 2], ['NCT05985863', 'W5', 2], ['NCT05985863', 'W8', 3], ['NCT05985863', 'W12', 7],
    ['ESLD-UCMSC-DOSE', 'W1', 2], ['ESLD-UCMSC-DOSE', 'W4', 3], ['ESLD-UCMSC-DOSE', 'W48', 7],
    ['NCT02812121', 'W7', 2], ['NCT02812121', 'W8', 3], ['NCT02812121', 'W52', 7],
  ])('%s %s window +/-%i', (key, code, days) => {
    expect(windowOf(get(key).visits, code)).toBe(days);
  });

  test('adapter defaults are explicit in every file and equal TRIAL_DEFAULTS [A]', () => {
    for (const key of set.keys) expect(get(key).defaults).toEqual(TRIAL_DEFAULTS);
  });

  test('NCT05985863 doses: fixed 1.5x10^8 cells; control none at weeks 4/5; stage 2 from MSC at Day 28', () => {
    const t = get('NCT05985863');
    const weeks = (id: string) => findArm(t, id)!.doses.map((d) => `${d.week}:${d.product}`);
    expect(weeks('control')).toEqual(['0:placebo', '1:placebo', '2:placebo']);
    expect(weeks('Group MSC-1')).toEqual(['0:active', '1:active', '2:active', '4:placebo', '5:placebo']);
    expect(weeks('hUC-MSC_Prolonged')).toEqual(['0:active', '1:active', '2:active', '4:active', '5:active']);
    expect(findArm(t, 'MSC')!.rerandomisation).toEqual({ week: 4, into: ['MSC-short', 'MSC-prolonged'] });
    expect(findArm(t, 'msc-prolonged')!.doses[0]).toEqual({ week: 0, product: 'active', amount: { kind: 'fixed', value: 1.5e8, unit: '{cells}' }, tolerance: 0.1 });
  });

  test('ESLD doses: 1x10^6 and 3x10^6 cells/kg with body weight 29463-7 within 7 days', () => {
    const t = get('ESLD-UCMSC-DOSE');
    expect(t.arms.map((a) => a.doses.map((d) => d.amount))).toEqual([
      [{ kind: 'per-kg', value: 1e6, unit: '{cells}/kg', weightLoinc: '29463-7', weightWithinDaysBefore: 7 }],
      [{ kind: 'per-kg', value: 3e6, unit: '{cells}/kg', weightLoinc: '29463-7', weightWithinDaysBefore: 7 }],
    ]);
  });

  test('NCT03945487: arms only, no dose, no schedule, nothing computable (so nothing can auto-pass)', () => {
    const t = get('NCT03945487');
    expect(t.unknowns).toEqual(['schedule', 'dose', 'eligibility']);
    expect(t.arms.map((a) => [a.id, a.doses.length])).toEqual([['UC-MSC+CT', 0], ['CT', 0]]);
    expect(t.eligibility.filter((c: Criterion) => isComputable(c.rule))).toEqual([]);
    expect(JSON.stringify(t.eligibility)).not.toMatch(/lab-threshold|score-range|age-range/);
  });

  test('rules carry the clinical-reference thresholds', () => {
    const rule = (key: string, id: string) => get(key).eligibility.find((c) => c.id === id)!.rule;
    expect(rule('NCT05985863', 'I2a')).toMatchObject({ kind: 'lab-threshold', item: 'TBIL', op: '>=', value: 5, unit: 'mg/dL' });
    expect(rule('NCT05985863', 'I2b')).toMatchObject({ kind: 'any-of', rules: [{ item: 'INR', op: '>=', value: 1.5 }, { item: 'PTA', op: '<', value: 40 }] });
    expect(rule('NCT05985863', 'E2')).toMatchObject({ kind: 'pre-onset', rule: { kind: 'any-of', rules: [{ item: 'PLT', op: '<', value: 50 }, { score: 'CTP', min: 10 }] } });
    expect(rule('NCT02812121', 'I1a')).toMatchObject({ kind: 'tbil-uln-multiple', multiple: 10, defaultUln: { value: 17.1, unit: 'umol/L' } });
    expect(rule('NCT02812121', 'I2')).toMatchObject({ kind: 'hbsag-duration', minDays: 183, conditionCodes: [{ code: 'B18.0' }, { code: 'B18.1' }] });
    expect(rule('NCT02812121', 'I3a')).toEqual({ kind: 'score-range', score: 'MELD', min: 17, max: 30, integer: true, note: expect.any(String) });
    expect(rule('ESLD-UCMSC-DOSE', 'I1')).toEqual({ kind: 'age-range', min: 18, max: 80 });
  });

  test('CRF units agree with the mapping rule files (mappings/crf/<key>.json)', () => {
    const mappings = loadMappings(DEFAULT_MAPPINGS_DIR);
    for (const key of set.keys) {
      for (const [item, unit] of Object.entries(get(key).crfUnits)) expect([key, item, mappings.rulesFor(key).find((r) => r.item === item)?.unit]).toEqual([key, item, unit]);
    }
  });
});

describe('broken trial files: every problem, with file and pointer', () => {
  let dir: string;
  const shipped = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'mappings', 'trials', 'NCT05985863.json'), 'utf8'));
  const write = (file: string, json: unknown) => fs.writeFileSync(path.join(dir, file), typeof json === 'string' ? json : JSON.stringify(json, null, 2));

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-trials-'));
    write('trial.schema.json', '{ "ignored": "schemas are skipped" }');
    write('BROKEN-JSON.json', '{ "key": ');
    const schemaBroken = structuredClone(shipped);
    schemaBroken.key = 'SCHEMA-BROKEN';
    schemaBroken.colour = 'blue';
    schemaBroken.eligibility[1].rule.unit = undefined;
    schemaBroken.eligibility[2].rule.rules[0].op = '=>';
    schemaBroken.eligibility[3].rule.kind = 'vibes';
    schemaBroken.arms[1].doses[0].dose.unit = 'cells';
    schemaBroken.visits[2].code = 'WEEK1';
    write('SCHEMA-BROKEN.json', schemaBroken);
    const crossBroken = structuredClone(shipped);
    crossBroken.key = 'CROSS-BROKEN';
    crossBroken.arms[2].id = 'MSC';
    crossBroken.arms[3].aliases.push('group msc-1');
    crossBroken.arms[0].doses[0].weeks = [0, 1, 3];
    crossBroken.visits[4].week = 4;
    crossBroken.visits.push({ code: 'W8', week: 8 });
    crossBroken.visits[6].arms = ['MSC', 'nobody'];
    crossBroken.eligibility[5].id = 'I1';
    crossBroken.eligibility[0].rule = { kind: 'age-range', min: 70, max: 18 };
    write('CROSS-BROKEN.json', crossBroken);
    write('WRONG-NAME.json', { ...shipped, key: 'NCT05985863' });
    write('NCT05985863.json', shipped);
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('one TrialLoadError lists them all, grouped by file', () => {
    const problems = problemsOf(() => loadTrials(dir)).map((p) => [p.file, p.pointer, p.message]);
    expect(problems[0]).toEqual(['BROKEN-JSON.json', '', expect.stringMatching(/^not valid JSON/)]);
    expect([...new Set(problems.map((p) => p[0]))]).toEqual(['BROKEN-JSON.json', 'CROSS-BROKEN.json', 'SCHEMA-BROKEN.json', 'WRONG-NAME.json']);
    const at = (file: string) => problems.filter((p) => p[0] === file).map((p) => `${p[1]}: ${p[2]}`);
    expect(at('SCHEMA-BROKEN.json')).toEqual(
      expect.arrayContaining([
        ": unknown property 'colour'",
        "/eligibility/1/rule: schema: must have required property 'unit'",
        '/eligibility/2/rule/rules/0/op: must be equal to one of the allowed values: ">=", ">", "<=", "<"',
        '/eligibility/3/rule: \'kind\' "vibes" is not a known kind',
        '/arms/1/doses/0/dose: \'unit\' "cells" is not a known unit',
        '/visits/2/code: schema: must match pattern "^(SCR|W[0-9]{1,3})$"',
      ]),
    );
    // Schema-valid, so every cross-check runs (a file with schema errors is not cross-checked).
    expect(at('CROSS-BROKEN.json')).toEqual([
      '/eligibility/0/rule: min 70 is above max 18',
      "/eligibility/5/id: criterion id 'I1' is already defined",
      "/eligibility/5/id: an exclusion criterion id starts with 'E'",
      "/arms/2/id: arm id or alias 'MSC' already names arm 'MSC'",
      "/arms/3/aliases/3: arm id or alias 'group msc-1' already names arm 'MSC'",
      "/arms/1/rerandomisation/into/0: unknown arm 'MSC-short'",
      "/arms/2/from: arm 'MSC' does not list 'MSC' in rerandomisation.into",
      "/arms/3/from: arm 'MSC' does not list 'MSC-prolonged' in rerandomisation.into",
      "/visits/4/week: visit 'W3' must have week 3, not 4",
      "/visits/6/arms/1: unknown arm 'nobody'",
      "/visits/11/code: visit code 'W8' is already defined",
      '/arms/0/doses/0/weeks/2: dose week 3 has no visit W3',
      "/arms/3/doses/0/weeks/4: visit W5 does not list arm 'MSC-prolonged'",
    ]);
    // Files are read in name order: NCT05985863.json first, so the copy is the duplicate.
    expect(at('WRONG-NAME.json')).toEqual(["/key: key 'NCT05985863' must match the file name 'WRONG-NAME.json'", "/key: trial 'NCT05985863' is already defined in NCT05985863.json"]);
  });

  test('an empty or missing directory is a problem, not an empty trial set', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-trials-empty-'));
    expect(problemsOf(() => loadTrials(empty))).toEqual([{ file: '.', pointer: '', message: 'no trial definition (<key>.json) found' }]);
    expect(problemsOf(() => loadTrials(path.join(empty, 'nope')))[0].message).toMatch(/cannot read trials directory .*ENOENT/);
    fs.rmSync(empty, { recursive: true, force: true });
  });

  test('trialFromJson validates one definition the same way', () => {
    expect(trialFromJson(shipped).key).toBe('NCT05985863');
    expect(problemsOf(() => trialFromJson({ ...shipped, arms: [] }, 'x.json'))).toEqual([{ file: 'x.json', pointer: '/arms', message: 'schema: must NOT have fewer than 1 items' }]);
  });
});
