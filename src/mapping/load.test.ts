/**
 * loadMappings: the shipped mappings/ load with zero problems, and a directory of broken
 * files reports EVERY problem with file and JSON pointer (design.md habits 1-2).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_MAPPINGS_DIR, loadMappings, MappingLoadError, type LoadProblem } from './index';

function problemsOf(dir: string): readonly LoadProblem[] {
  try {
    loadMappings(dir);
  } catch (err) {
    if (err instanceof MappingLoadError) return err.problems;
    throw err;
  }
  throw new Error('expected MappingLoadError');
}

describe('shipped mappings/', () => {
  const set = loadMappings(DEFAULT_MAPPINGS_DIR);

  test('load with zero problems: four trials, whole liver panel each', () => {
    expect(set.trials).toEqual(['ESLD-UCMSC-DOSE', 'NCT02812121', 'NCT03945487', 'NCT05985863']);
    for (const trial of set.trials) {
      expect(set.hasTrial(trial)).toBe(true);
      expect(set.rulesFor(trial).map((r) => r.item)).toEqual(expect.arrayContaining(['TBIL', 'ALB', 'INR', 'PT', 'ALT', 'AST', 'CREA', 'NA', 'WEIGHT']));
    }
    expect(set.ruleCount).toBe(set.trials.reduce((n, t) => n + set.rulesFor(t).length, 0));
    expect(set.hasTrial('NCT99999999')).toBe(false);
    expect(set.rulesFor('NCT99999999')).toEqual([]);
  });

  test.each([
    ['NCT05985863', 'TBIL', 'mg/dL'], ['NCT05985863', 'ALB', 'g/L'], ['NCT05985863', 'BUN', 'mmol/L'], ['NCT05985863', 'INR', '{INR}'],
    ['NCT02812121', 'TBIL', 'umol/L'], ['NCT02812121', 'ALB', 'g/L'], ['NCT02812121', 'ALT', 'U/L'], ['NCT02812121', 'AST', 'U/L'],
    ['ESLD-UCMSC-DOSE', 'ALP', 'U/L'], ['ESLD-UCMSC-DOSE', 'PT', 's'], ['ESLD-UCMSC-DOSE', 'WEIGHT', 'kg'],
    ['NCT03945487', 'NA', 'mmol/L'], ['NCT02812121', 'HBSAG', null], ['NCT05985863', 'HBVDNA', '[IU]/mL'],
  ])('%s %s is stored in %p (clinical-reference §1)', (trial, item, unit) => {
    expect(set.rulesFor(trial).find((r) => r.item === item)?.unit).toBe(unit);
  });

  test('watched codes cover the LOINC groups of clinical-reference §2, blood-system codes included', () => {
    expect(set.watchedCodes()).toEqual(expect.arrayContaining(['1975-2', '14631-6', '42719-5', '54363-7', '6301-6', '34714-6', '5902-2', '5894-1', '777-3', '26515-7', '2160-0', '14682-9', '38483-4', '1751-7', '3094-0', '6299-2', '14937-7', '1742-6', '1920-8', '6768-6', '2951-2', '2947-0', '5196-1', '42595-9', '29463-7']));
    expect(set.watchedCodes()).not.toContain('3091-6'); // urea mass: wrong factor for BUN (§7.9)
    expect(set.watchedCodes()).not.toContain('29615-2'); // HBV DNA copies: never converted (§3)
  });

  test('matching is by code: rulesForCode', () => {
    expect(set.rulesForCode('NCT05985863', '38483-4').map((r) => r.id)).toEqual(['NCT05985863.LB.CREA']);
    expect(set.rulesForCode('NCT05985863', '0000-0')).toEqual([]);
  });
});

describe('broken mapping files: every problem, with file and pointer', () => {
  let dir: string;
  const write = (file: string, json: unknown) => {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), typeof json === 'string' ? json : JSON.stringify(json, null, 2));
  };
  const defaults = {
    resourceType: 'Observation',
    value: 'Observation.value',
    effective: ['Observation.effective.ofType(dateTime)', 'Observation.issued'],
    onMissingUnit: 'review',
    onUnconvertibleUnit: 'review',
  };
  const rule = (id: string, item: string, extra: Record<string, unknown> = {}) => ({ id, form: 'LB', item, analyte: item, unit: 'mg/dL', decimals: 2, ...extra });

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-mappings-'));
    write('analytes.json', {
      kind: 'analytes',
      analytes: [
        { id: 'TBIL', name: 'Total bilirubin', valueType: 'quantity', codes: [{ code: '1975-2', name: 'bili', property: 'mass-concentration', unit: 'mg/dL' }, { code: '14631-6', name: 'bili molar', property: 'substance-concentration', unit: 'umol/L', impliedUnit: 'umol/L' }], molarConversion: { massUnit: 'mg/dL', molarUnit: 'umol/L', molarPerMass: 17.1, source: 'test' } },
        { id: 'ALB', name: 'Albumin', valueType: 'quantity', codes: [{ code: '1751-7', name: 'alb', property: 'mass-concentration', unit: 'g/dLx' }] },
        { id: 'PLT', name: 'Platelets', valueType: 'quantity', codes: [{ code: '777-3', name: 'plt', property: 'number-concentration', unit: 'K/uL' }], unitAliases: { 'µL': 'uL' } },
        { id: 'TBIL', name: 'again', valueType: 'quantity', codes: [{ code: '1975-2', name: 'dup', property: 'mass-concentration', unit: 'mg/dL' }] },
      ],
    });
    write('crf/TRIAL-A.json', {
      kind: 'crf', trial: 'TRIAL-A', title: 'semantic problems', defaults,
      rules: [
        rule('A.TBIL', 'TBIL', { value: "Observation.value.where(code = 'x'" }),
        rule('A.XYZ', 'XYZ'),
        rule('A.TBIL2', 'TBIL', { unit: 'mg/dl/', item: 'TBIL2' }),
        rule('A.TBIL3', 'TBIL', { unit: 'g', item: 'TBIL3' }),
        rule('A.TBIL', 'TBIL', { item: 'TBIL4', value: 'Observation.value.foo()' }),
        rule('A.TBIL5', 'TBIL', { item: 'TBIL5', effective: ['MedicationAdministration.effective'] }),
      ],
    });
    write('crf/TRIAL-B.json', {
      kind: 'crf', trial: 'TRIAL-WRONG', title: 'schema problems in one rule, semantic in another', defaults,
      rules: [{ id: 'B.1', item: 'TBIL', analyte: 'TBIL', colour: 'red' }, rule('B.2', 'NOPE')],
    });
    write('crf/TRIAL-C.json', '{ "kind": "crf", ');
    write('crf/TRIAL-D.json', { kind: 'crf', trial: 'TRIAL-D', title: 'file-level schema problem', rules: [rule('D.1', 'TBIL')] });
    write('other.json', { kind: 'trial-definition' });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['bad FHIRPath (does not parse)', 'crf/TRIAL-A.json', '/rules/0/value', /does not parse/],
    ['FHIRPath that fails at run time (unknown function)', 'crf/TRIAL-A.json', '/rules/4/value', /fails on a sample resource/],
    ['FHIRPath rooted at another resource type', 'crf/TRIAL-A.json', '/rules/5/effective/0', /starts at MedicationAdministration/],
    ['unknown analyte', 'crf/TRIAL-A.json', '/rules/1/analyte', /unknown analyte 'XYZ'/],
    ['invalid UCUM CRF unit', 'crf/TRIAL-A.json', '/rules/2/unit', /not valid UCUM/],
    ['CRF unit not commensurable', 'crf/TRIAL-A.json', '/rules/3/unit', /cannot be reached from LOINC 1975-2/],
    ['duplicate rule id', 'crf/TRIAL-A.json', '/rules/4/id', /duplicate rule id 'A.TBIL'/],
    ['invalid UCUM in an analyte code', 'analytes.json', '/analytes/1/codes/0/unit', /not valid UCUM/],
    ['K/uL does not measure a number concentration', 'analytes.json', '/analytes/2/codes/0/unit', /does not measure number-concentration/],
    ['alias key that normalisation would rewrite', 'analytes.json', '/analytes/2/unitAliases/µL', /never matches/],
    ['duplicate analyte id', 'analytes.json', '/analytes/3/id', /duplicate analyte id 'TBIL'/],
    ['schema: missing property', 'crf/TRIAL-B.json', '/rules/0', /required property 'form'/],
    ['schema: unknown property', 'crf/TRIAL-B.json', '/rules/0', /unknown property 'colour'/],
    ['rules next to a schema-broken rule are still checked', 'crf/TRIAL-B.json', '/rules/1/analyte', /unknown analyte 'NOPE'/],
    ['trial key must match the file name', 'crf/TRIAL-B.json', '/trial', /must match the file name/],
    ['invalid JSON', 'crf/TRIAL-C.json', '', /not valid JSON/],
    ['schema: file-level', 'crf/TRIAL-D.json', '', /required property 'defaults'/],
    ['unknown kind', 'other.json', '/kind', /must be "analytes" or "crf"/],
  ])('%s', (_name, file, pointer, message) => {
    const problems = problemsOf(dir);
    expect(problems).toContainEqual({ file, pointer, message: expect.stringMatching(message) });
  });

  test('one error lists them all, formatted file#pointer: message', () => {
    let error: MappingLoadError | undefined;
    try {
      loadMappings(dir);
    } catch (err) {
      error = err as MappingLoadError;
    }
    expect(error).toBeInstanceOf(MappingLoadError);
    expect(error!.problems.length).toBeGreaterThanOrEqual(18);
    expect(error!.message).toContain('crf/TRIAL-A.json#/rules/1/analyte: unknown analyte');
    expect(new Set(error!.problems.map((p) => p.file))).toEqual(new Set(['analytes.json', 'crf/TRIAL-A.json', 'crf/TRIAL-B.json', 'crf/TRIAL-C.json', 'crf/TRIAL-D.json', 'other.json']));
  });

  test('a missing directory is a problem, not a crash', () => {
    expect(problemsOf(path.join(dir, 'nope'))).toEqual([{ file: '.', pointer: '', message: expect.stringContaining('does not exist') }]);
  });
});
