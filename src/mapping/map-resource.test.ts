/**
 * mapResource against the shipped mappings/: per-trial units, unit sources, pitfalls from
 * fhir-samples/README.md ("Data shapes worth testing against") and review reasons.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { DEFAULT_MAPPINGS_DIR, loadMappings, mapResource, type MapOutcome, type MappedValue, type ReviewNeeded } from './index';

const set = loadMappings(DEFAULT_MAPPINGS_DIR);
const UCUM = 'http://unitsofmeasure.org';
const LOINC = 'http://loinc.org';
const WHEN = '2024-03-01T08:00:00Z';

type Q = { value?: unknown; unit?: string; system?: string; code?: string; comparator?: string };

/** A UCUM-coded quantity: `q(85.5, 'umol/L')`. */
const q = (value: number, code: string): Q => ({ value, unit: code, system: UCUM, code });

function observation(loinc: string | string[], value: Record<string, unknown>, extra: Record<string, unknown> = {}): Resource {
  const codes = Array.isArray(loinc) ? loinc : [loinc];
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: codes.map((code) => ({ system: LOINC, code })) },
    effectiveDateTime: WHEN,
    ...value,
    ...extra,
  } as unknown as Resource;
}
const quantity = (loinc: string | string[], vq: Q, extra: Record<string, unknown> = {}) => observation(loinc, { valueQuantity: vq }, extra);

function only(outcomes: MapOutcome[]): MapOutcome {
  expect(outcomes).toHaveLength(1);
  return outcomes[0];
}
function value(trial: string, r: Resource, ctx?: { fallbackEffective?: string }): MappedValue {
  const o = only(mapResource(set, trial, r, ctx));
  if (o.kind !== 'value') throw new Error(`expected a value, got review ${o.reason}: ${o.detail}`);
  return o;
}
function review(trial: string, r: Resource, ctx?: { fallbackEffective?: string }): ReviewNeeded {
  const o = only(mapResource(set, trial, r, ctx));
  if (o.kind !== 'review') throw new Error(`expected a review, got value ${o.value}`);
  return o;
}

describe('the same Observation is converted per trial (clinical-reference §7.10)', () => {
  test.each([
    ['14631-6', q(85.5, 'umol/L'), 'NCT05985863', 5, 'mg/dL'],
    ['14631-6', q(85.5, 'umol/L'), 'NCT02812121', 85.5, 'umol/L'],
    ['1975-2', q(10, 'mg/dL'), 'NCT02812121', 171, 'umol/L'],
    ['1975-2', q(10, 'mg/dL'), 'NCT05985863', 10, 'mg/dL'],
    ['1975-2', { value: 171, unit: 'umol/L' }, 'NCT05985863', 10, 'mg/dL'],
    ['42719-5', q(1.2, 'mg/dL'), 'ESLD-UCMSC-DOSE', 20.5, 'umol/L'],
    ['1751-7', q(3.5, 'g/dL'), 'NCT05985863', 35, 'g/L'],
    ['1751-7', q(3.5, 'g/dL'), 'NCT02812121', 35, 'g/L'],
    ['3094-0', q(28, 'mg/dL'), 'NCT05985863', 10, 'mmol/L'],
    ['6301-6', { value: 1.5 }, 'NCT05985863', 1.5, '{INR}'],
    ['1742-6', q(42, 'U/L'), 'NCT02812121', 42, 'U/L'],
  ])('%s %j for %s -> %p %s', (loinc, vq, trial, expected, unit) => {
    const v = value(trial, quantity(loinc, vq as Q));
    expect(v).toMatchObject({ value: expected, unit, code: loinc, effective: WHEN, trial, form: 'LB' });
  });

  test('the value keeps its provenance', () => {
    const v = value('NCT05985863', quantity('14631-6', q(85.5, 'umol/L')));
    expect(v).toMatchObject({ originalValue: 85.5, originalUnit: 'umol/L', ruleId: 'NCT05985863.LB.TBIL', item: 'TBIL' });
  });
});

describe('where the unit comes from', () => {
  test.each([
    ['UCUM code wins over a free-text unit', { value: 1.2, unit: 'milligram per decilitre', system: UCUM, code: 'mg/dL' }, 1.2],
    ['code without system is read as UCUM', { value: 1.2, code: 'mg/dL' }, 1.2],
    ['US Core 3.1.1: UCUM system, no code -> unit text', { value: 1.2, unit: 'mg/dL', system: UCUM }, 1.2],
    ['HL7 spec panels: unit text only', { value: 20.52, unit: 'umol/L' }, 1.2],
    ['micro sign in the text', { value: 20.52, unit: 'µmol/L' }, 1.2],
    ['a code in another system (SNOMED) is ignored for the text', { value: 20.52, unit: 'umol/L', system: 'http://snomed.info/sct', code: '258814008' }, 1.2],
  ])('%s', (_name, vq, expected) => {
    expect(value('NCT05985863', quantity('1975-2', vq as Q)).value).toBe(expected);
  });

  test('1975-2 sent in umol/L is converted by its unit, not its code (clinical-reference §2)', () => {
    expect(value('NCT05985863', quantity('1975-2', q(85.5, 'umol/L'))).value).toBe(5);
  });

  test.each([
    ['14631-6 implies umol/L under "assume"', '14631-6', 'NCT05985863', 5, null],
    ['6301-6 INR without unit', '6301-6', 'NCT05985863', 85.5, null],
    ['14937-7 BUN mmol/L', '14937-7', 'NCT05985863', 85.5, null],
  ])('%s', (_name, loinc, trial, expected, originalUnit) => {
    expect(value(trial, quantity(loinc, { value: 85.5 }))).toMatchObject({ value: expected, originalUnit });
  });

  test.each([
    ['1975-2 (mass code, no impliedUnit)', '1975-2'],
    ['1751-7 albumin (g/dL vs g/L ambiguous)', '1751-7'],
    ['14682-9 creatinine (sent in mmol/L and umol/L)', '14682-9'],
  ])('no unit -> missing-unit: %s', (_name, loinc) => {
    expect(review('NCT05985863', quantity(loinc, { value: 3.1 }))).toMatchObject({ reason: 'missing-unit' });
  });
});

describe('analyte-specific units and pitfalls', () => {
  test.each([
    ['PLT 10*3/uL', '777-3', q(200, '10*3/uL'), 200],
    ['PLT spec shape: text x10*9/L, code 10*9/L', '777-3', { value: 250, unit: 'x10*9/L', system: UCUM, code: '10*9/L' }, 250],
    ['PLT text-only x10*9/L', '777-3', { value: 250, unit: 'x10*9/L' }, 250],
    ['ALT IU/L in the UCUM code (SMART)', '1742-6', q(40, 'IU/L'), 40],
    ['AST [IU]/L', '1920-8', q(41, '[IU]/L'), 41],
    ['ALP ukat/L', '6768-6', q(1.5, 'ukat/L'), 90],
    ['INR {INR}', '34714-6', q(1.23, '{INR}'), 1.23],
    ['INR 1', '6301-6', q(1.234, '1'), 1.23],
    ['INR text INR', '6301-6', { value: 1.235, unit: 'INR' }, 1.24],
    ['PTA %', '5894-1', q(39, '%'), 39],
    ['PT sec', '5902-2', { value: 14.25, unit: 'sec' }, 14.3],
    ['NA meq/L', '2951-2', q(140, 'meq/L'), 140],
    ['NA blood 2947-0 (Synthea)', '2947-0', q(139.6, 'mmol/L'), 140],
    ['CREA blood 38483-4 (Synthea)', '38483-4', q(1.1, 'mg/dL'), 1.1],
    ['CREA umol/L 14682-9', '14682-9', q(132.6, 'umol/L'), 1.5],
    ['CREA spec mmol/L text', '14682-9', { value: 0.0884, unit: 'mmol/L' }, 1],
    ['BUN blood 6299-2', '6299-2', q(14, 'mg/dL'), 5],
    ['urea 22664-7 mmol/L = BUN mmol/L', '22664-7', q(5.04, 'mmol/L'), 5],
    ['HGB g/dL -> g/L', '718-7', q(13.24, 'g/dL'), 132],
    ['HBV DNA [IU]/mL as reported', '42595-9', q(123456, '[IU]/mL'), 123456],
    ['HBV DNA IU/mL text', '42595-9', { value: 2000, unit: 'IU/mL' }, 2000],
  ])('%s', (_name, loinc, vq, expected) => {
    expect(value('NCT05985863', quantity(loinc, vq as Q)).value).toBe(expected);
  });

  test('body weight in pounds ([lb_av], HL7 observation-example) -> kg', () => {
    expect(value('ESLD-UCMSC-DOSE', quantity('29463-7', { value: 185, unit: 'lbs', system: UCUM, code: '[lb_av]' }))).toMatchObject({ value: 83.9, unit: 'kg', form: 'VS' });
    expect(value('ESLD-UCMSC-DOSE', quantity('29463-7', { value: 185, unit: 'lbs' })).value).toBe(83.9);
  });

  test.each([
    ['K/uL (SMART 26515-7)', '26515-7', q(250, 'K/uL'), 'unit-not-convertible', 'K/uL'],
    ['K/ul text (spec)', '26515-7', { value: 250, unit: 'K/ul' }, 'unit-not-convertible', 'K/ul'],
    ['mg/dL on an INR code', '6301-6', q(1.2, 'mg/dL'), 'unit-not-convertible', 'mg/dL'],
    ['upper-case MG/DL', '1975-2', q(1.2, 'MG/DL'), 'invalid-unit', 'MG/DL'],
    ['copies on the IU code', '42595-9', q(5000, '{copies}/mL'), 'unit-not-convertible', '{copies}/mL'],
  ])('%s -> %s review naming the unit, never the value', (_name, loinc, vq, reason, unit) => {
    const r = review('NCT05985863', quantity(loinc, vq as Q));
    expect(r).toMatchObject({ reason, ruleId: expect.stringMatching(/^NCT05985863\.LB\./) });
    expect(r.detail).toContain(unit);
    expect(r.detail).not.toContain(String((vq as Q).value));
  });
});

describe('codes and codings', () => {
  test('f204 creatinine: no LOINC coding, SNOMED in valueQuantity -> no value and no review (counted as unmapped)', () => {
    const file = path.resolve(__dirname, '../../../shared/fhir-samples/hl7-fhir-r4-spec-examples/observation-diagnosticreport/observation-example-f204-creatinine.json');
    const f204 = fs.existsSync(file)
      ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Resource)
      : observation([], { valueQuantity: { value: 122, unit: 'umol/L', system: 'http://snomed.info/sct', code: '258814008' } }, { code: { coding: [{ system: 'https://intranet.aumc.nl/labtestcodes', code: '20005' }] } });
    expect(mapResource(set, 'NCT02812121', f204)).toEqual([]);
  });

  test('LOINC + SNOMED codings: matched by the LOINC one', () => {
    const r = quantity('14631-6', { value: 85.5, unit: 'umol/L' }, { code: { coding: [{ system: 'http://snomed.info/sct', code: '359986008' }, { system: LOINC, code: '14631-6' }] } });
    expect(value('NCT05985863', r)).toMatchObject({ value: 5, code: '14631-6' });
  });

  test('two LOINC codes of one group (29463-7 + 3141-9) give ONE value, coded by the first', () => {
    expect(value('NCT05985863', quantity(['3141-9', '29463-7'], q(70, 'kg')))).toMatchObject({ value: 70, code: '3141-9' });
  });

  test.each(['29615-2', '2339-0', '8310-5'])('LOINC %s is in no group -> nothing for a data manager', (loinc) => {
    expect(mapResource(set, 'NCT05985863', quantity(loinc, q(1, 'mg/dL')))).toEqual([]);
  });

  test.each([
    ['creatinine + prothrombin time, unconvertible unit', ['2160-0', '5902-2'], q(73.25, 'K/uL')],
    ['creatinine + prothrombin time, usable unit', ['2160-0', '5902-2'], q(73.25, 'mg/dL')],
    ['bilirubin + albumin', ['1975-2', '1751-7'], q(73.25, 'mg/dL')],
  ])('two analyte groups in one Observation (%s) -> ONE ambiguous-code review, no value', (_name, codes, vq) => {
    const r = review('NCT05985863', quantity(codes, vq));
    expect(r).toMatchObject({ reason: 'ambiguous-code', ruleId: null });
    for (const c of codes) expect(r.detail).toContain(c);
    expect(r.detail).not.toContain(String(vq.value));
  });

  test.each([
    ['urn:trialbridge:eligibility', 'NCT05985863/I1', { valueBoolean: true }],
    ['urn:trialbridge:finding', 'ascites', { valueCodeableConcept: { coding: [{ system: 'urn:trialbridge:finding-value', code: 'mild' }] } }],
    ['urn:trialbridge:finding', 'dialysis', { valueBoolean: false }],
  ])('clinician answers and findings (%s|%s) are for the protocol engine: no review', (system, code, v) => {
    const r = { resourceType: 'Observation', status: 'final', code: { coding: [{ system, code }] }, effectiveDateTime: WHEN, ...v } as unknown as Resource;
    for (const trial of set.trials) expect(mapResource(set, trial, r)).toEqual([]);
  });

  test('unknown trial -> no-rule; non-Observation -> nothing to map', () => {
    expect(review('NCT00000000', quantity('1975-2', q(1, 'mg/dL')))).toMatchObject({ reason: 'no-rule' });
    expect(mapResource(set, 'NCT05985863', { resourceType: 'MedicationAdministration' } as Resource)).toEqual([]);
  });
});

describe('qualitative HBsAg -> POS/NEG', () => {
  const cc = (system: string, code: string) => ({ valueCodeableConcept: { coding: [{ system, code }] } });
  test.each([
    [cc('http://snomed.info/sct', '10828004'), 'POS'],
    [cc('http://snomed.info/sct', '260385009'), 'NEG'],
    [{ valueCodeableConcept: { text: 'Non-reactive' } }, 'NEG'],
    [{ valueString: 'Positive' }, 'POS'],
    [{ valueString: '  negative ' }, 'NEG'],
  ])('%j -> %s', (v, expected) => {
    expect(value('NCT02812121', observation('5196-1', v))).toMatchObject({ value: expected, unit: null, originalUnit: null, item: 'HBSAG' });
  });
  test.each([
    [cc('http://snomed.info/sct', '52101004')],
    [{ valueString: 'equivocal' }],
    [{ valueQuantity: q(12, '{s_co_ratio}') }],
    [{ valueBoolean: true }],
  ])('%j -> unexpected-value-type', (v) => {
    expect(review('NCT02812121', observation('5195-3', v))).toMatchObject({ reason: 'unexpected-value-type' });
  });
});

describe('effective time', () => {
  const base = (extra: Record<string, unknown>) => observation('1751-7', { valueQuantity: q(3.5, 'g/dL') }, { effectiveDateTime: undefined, ...extra });
  test.each([
    ['effectiveDateTime', { effectiveDateTime: '2024-01-02' }, '2024-01-02'],
    ['effectivePeriod.start', { effectivePeriod: { start: '2024-01-03T10:00:00Z', end: '2024-01-03T11:00:00Z' } }, '2024-01-03T10:00:00Z'],
    ['effectiveInstant', { effectiveInstant: '2024-01-04T10:00:00.000Z' }, '2024-01-04T10:00:00.000Z'],
    ['issued when no effective[x]', { issued: '2024-01-05T10:00:00Z' }, '2024-01-05T10:00:00Z'],
    ['effective[x] wins over issued', { effectiveDateTime: '2024-01-02', issued: '2024-01-05T10:00:00Z' }, '2024-01-02'],
  ])('%s', (_name, extra, expected) => {
    expect(value('NCT05985863', base(extra), { fallbackEffective: '1999-01-01' }).effective).toBe(expected);
  });
  test('none: the DiagnosticReport fallback is used, else missing-effective-time', () => {
    expect(value('NCT05985863', base({}), { fallbackEffective: '2015-08-16T06:40:17Z' }).effective).toBe('2015-08-16T06:40:17Z');
    expect(review('NCT05985863', base({}))).toMatchObject({ reason: 'missing-effective-time', ruleId: 'NCT05985863.LB.ALB' });
  });
});

describe('status and absent values', () => {
  test.each(['entered-in-error', 'cancelled'])('status %s -> unusable-status', (status) => {
    expect(review('NCT05985863', quantity('1975-2', q(1, 'mg/dL'), { status }))).toMatchObject({ reason: 'unusable-status' });
  });
  test.each(['final', 'amended', 'corrected', 'preliminary'])('status %s is mapped', (status) => {
    expect(value('NCT05985863', quantity('1975-2', q(1, 'mg/dL'), { status })).value).toBe(1);
  });
  test.each([
    ['dataAbsentReason', 'missing-value', observation('1975-2', { dataAbsentReason: { coding: [{ code: 'error' }] } })],
    ['no value[x]', 'missing-value', observation('1975-2', {})],
    ['valueQuantity without value', 'missing-value', quantity('1975-2', { unit: 'mg/dL', system: UCUM, code: 'mg/dL' })],
    ['comparator <', 'unexpected-value-type', quantity('1975-2', { ...q(0.1, 'mg/dL'), comparator: '<' })],
    ['valueString on a quantity rule', 'unexpected-value-type', observation('1975-2', { valueString: '1.2' })],
  ])('%s -> %s', (_name, reason, r) => {
    expect(review('NCT05985863', r)).toMatchObject({ reason });
  });
});
