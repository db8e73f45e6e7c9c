/** The FHIRPath wrapper: typed results for value[x], strict parsing, run-time probe. */
import { compileExpression, probeExpression, type CompiledExpression } from './fhirpath-engine';

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
