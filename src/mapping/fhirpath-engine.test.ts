/** The FHIRPath wrapper: typed results for value[x], strict parsing, run-time probe. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileExpression, compileWithEngineOnly, probeExpression, type CompiledExpression } from './fhirpath-engine';

function compiled(source: string): CompiledExpression {
  const res = compileExpression(source);
  if (!res.ok) throw new Error(res.message);
  return res.expression;
}

describe('compileExpression', () => {
  const value = compiled('Observation.value');
  test.each([
    [{ valueQuantity: { value: 1, unit: 'mg/dL' } }, 'Quantity'],
    [{ valueString: 'Positive' }, 'string'],
    [{ valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '10828004' }] } }, 'CodeableConcept'],
    [{ valueRange: { low: { value: 1 } } }, 'Range'],
    [{ valueBoolean: true }, 'boolean'],
  ])('value[x] of %j has type %s (R4 model resolves choice elements)', (v, type) => {
    const [first] = value.evaluate({ resourceType: 'Observation', ...v });
    expect(first.type).toBe(type);
    expect(first.value).toEqual(Object.values(v)[0]);
  });

  test('effectivePeriod.start through ofType(Period)', () => {
    const e = compiled('Observation.effective.ofType(Period).start');
    expect(e.evaluate({ resourceType: 'Observation', effectivePeriod: { start: '2024-01-01' } }).map((r) => r.value)).toEqual(['2024-01-01']);
    expect(e.evaluate({ resourceType: 'Observation', effectiveDateTime: '2024-01-01' })).toEqual([]);
  });

  test.each(['Observation.value.where(', 'Observation.valu e', '1 +', ''])('%p does not parse', (source) => {
    expect(compileExpression(source)).toMatchObject({ ok: false, message: expect.stringContaining('does not parse') });
  });

  test.each(['Observation.foo()', '%undefinedVar'])('%p parses but fails on the probe resource', (source) => {
    expect(probeExpression(compiled(source), { resourceType: 'Observation' })).toMatch(/fails on a sample resource/);
  });
});

describe('the default paths read directly give exactly what fhirpath.js gives', () => {
  const DEFAULTS = ['Observation.value', 'Observation.effective.ofType(dateTime)', 'Observation.effective.ofType(Period).start', 'Observation.effective.ofType(instant)', 'Observation.issued'];
  const SAMPLES = path.resolve(__dirname, '../../../shared/fhir-samples');

  /** Every Observation anywhere in a JSON document (Bundles, contained, nested). */
  function collect(v: unknown, out: unknown[]): void {
    if (Array.isArray(v)) v.forEach((x) => collect(x, out));
    else if (v && typeof v === 'object') {
      if ((v as { resourceType?: unknown }).resourceType === 'Observation') out.push(v);
      Object.values(v).forEach((x) => collect(x, out));
    }
  }
  function* files(dir: string): Generator<string> {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) yield* files(p);
      else if (e.name.endsWith('.json')) yield p;
    }
  }
  const edge: unknown[] = [
    { resourceType: 'Observation', valueQuantity: { value: 1, unit: 'mg' }, effectiveDateTime: '2024-01-01T00:00:00Z', issued: '2024-01-02T00:00:00Z' },
    { resourceType: 'Observation', valueCodeableConcept: { text: 'x' }, effectivePeriod: { start: '2024-01-01', end: '2024-01-02' } },
    { resourceType: 'Observation', valueString: 'abc', effectiveInstant: '2024-01-01T00:00:00Z' },
    { resourceType: 'Observation', valueBoolean: false, effectiveTiming: { event: ['2024-01-01'] } },
    { resourceType: 'Observation', valueInteger: 0 }, { resourceType: 'Observation', valueRange: { low: { value: 1 } } },
    { resourceType: 'Observation', valueRatio: { numerator: { value: 1 } } }, { resourceType: 'Observation', valueTime: '10:00:00' },
    { resourceType: 'Observation', valueDateTime: '2024-01-01' }, { resourceType: 'Observation', valuePeriod: { start: '2024' } },
    { resourceType: 'Observation', valueSampledData: { period: 1 } },
    { resourceType: 'Observation', _valueString: { extension: [{ url: 'x', valueString: 'y' }] } },
    { resourceType: 'Observation', valueString: 'a', _valueString: { id: 'q' } },
    { resourceType: 'Observation', effectiveDateTime: '2024-01-01', _effectiveDateTime: { id: 'x' } },
    { resourceType: 'Observation', effectivePeriod: { end: '2024' } },
    { resourceType: 'Observation', valueQuantity: { value: 1 }, valueString: 'both' },
    { resourceType: 'Observation', valueQuantity: [{ value: 1 }, { value: 2 }] },
    { resourceType: 'Observation', effectiveDateTime: 20240101 },
    { resourceType: 'Patient', valueQuantity: { value: 1 } },
    {},
  ];

  test.each(DEFAULTS)('%s on every public sample Observation and on edge shapes', (source) => {
    const compiled = compileExpression(source);
    if (!compiled.ok) throw new Error(compiled.message);
    const engine = compileWithEngineOnly(source);
    const all: unknown[] = [...edge];
    if (fs.existsSync(SAMPLES)) for (const f of files(SAMPLES)) collect(JSON.parse(fs.readFileSync(f, 'utf8')), all);
    expect(all.length).toBeGreaterThan(fs.existsSync(SAMPLES) ? 1000 : edge.length - 1);
    for (const o of all) expect(compiled.expression.evaluate(o)).toEqual(engine.evaluate(o));
  });
});
