/**
 * Micro-benchmark behind the FHIRPath engine choice recorded at the top of
 * src/mapping/fhirpath-engine.ts. Run: `npx tsx scripts/bench-fhirpath.ts [iterations]`.
 *
 * Both engines evaluate the same pre-compiled / pre-parsed `where(...)` rule against
 * the same Observation, so only evaluation cost is measured (parsing is done once,
 * as in the mapping hot path). Each engine gets a warm-up run first.
 */
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { evalFhirPathTyped, parseFhirPath, toTypedValue } from '@medplum/core';

const RULE =
  "Observation.where(status != 'entered-in-error' and code.coding.where(system = 'http://loinc.org' and (code = '1975-2' or code = '14631-6')).exists()).value.ofType(Quantity)";

const OBSERVATION = {
  resourceType: 'Observation',
  status: 'final',
  code: {
    coding: [
      { system: 'http://snomed.info/sct', code: '359986008' },
      { system: 'http://loinc.org', code: '14631-6', display: 'Bilirubin.total [Moles/volume] in Serum or Plasma' },
    ],
  },
  subject: { reference: 'Patient/example' },
  effectiveDateTime: '2024-03-01T08:00:00Z',
  valueQuantity: { value: 85.5, unit: 'umol/L', system: 'http://unitsofmeasure.org', code: 'umol/L' },
};

function measure(label: string, iterations: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(iterations, 5000); i++) fn();
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < iterations; i++) sink += (fn() as unknown[]).length;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const perSecond = Math.round(iterations / seconds);
  if (sink !== iterations) throw new Error(`${label}: expected one result per evaluation, got ${sink}`);
  console.log(`${label.padEnd(52)} ${perSecond.toLocaleString('en-US').padStart(10)} eval/s`);
  return perSecond;
}

function main(): void {
  const iterations = Number(process.argv[2] ?? 200_000);
  console.log(`node ${process.version}, ${iterations} iterations, rule: ${RULE}\n`);

  const compiledR4 = fhirpath.compile(RULE, r4);
  measure('fhirpath.js compile(expr, r4 model)', iterations, () => compiledR4(OBSERVATION));

  // Without a model fhirpath.js cannot resolve the choice element value[x], so this
  // variant spells it `valueQuantity`; shown only to separate model cost from engine cost.
  const compiledNoModel = fhirpath.compile(RULE.replace('.value.ofType(Quantity)', '.valueQuantity'));
  measure('fhirpath.js compile(expr) no model (valueQuantity)', iterations, () => compiledNoModel(OBSERVATION));

  const atom = parseFhirPath(RULE);
  measure('@medplum/core parseFhirPath + evalFhirPathTyped', iterations, () =>
    evalFhirPathTyped(atom, [toTypedValue(OBSERVATION)]),
  );
}

main();
