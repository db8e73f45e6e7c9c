import fs from 'node:fs';
import path from 'node:path';
import { planBundle } from './bundle';

const SAMPLES = path.resolve(__dirname, '../../../shared/fhir-samples');

describe('planBundle', () => {
  test('urn:uuid references are resolved as a transaction server would', () => {
    const { plans } = planBundle({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:6f1c0e2a-0000-4000-8000-000000000001', resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        {
          fullUrl: 'urn:uuid:6f1c0e2a-0000-4000-8000-000000000002',
          resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:6f1c0e2a-0000-4000-8000-000000000001' } },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    } as never);
    expect(plans.map((p) => p.kind)).toEqual(['store', 'store']);
    const obs = plans[1].kind === 'store' ? (plans[1].resource as any) : null;
    expect(obs.id).toBe('6f1c0e2a-0000-4000-8000-000000000002');
    expect(obs.subject.reference).toBe('Patient/6f1c0e2a-0000-4000-8000-000000000001');
  });

  test('nested collection Bundles are flattened and the DiagnosticReport time is kept for Observations without one', () => {
    const file = path.join(SAMPLES, 'hl7-fhir-r4-spec-examples/observation-diagnosticreport/diagnosticreport-examples-general.json');
    if (!fs.existsSync(file)) return console.warn(`skipped: ${file} not found`);
    const { plans } = planBundle(JSON.parse(fs.readFileSync(file, 'utf8')));
    const stored = plans.filter((p) => p.kind === 'store');
    expect(stored.length).toBeGreaterThan(100);
    const observations = stored.filter((p) => p.kind === 'store' && p.resource.resourceType === 'Observation');
    expect(observations.length).toBeGreaterThan(0);
    expect(observations.every((p) => p.kind === 'store' && typeof p.context?.fallbackEffective === 'string')).toBe(true);
  });

  test('panel members (DiagnosticReport.result -> panel Observation -> hasMember) inherit the report time', () => {
    const file = path.join(SAMPLES, 'hl7-fhir-r4-spec-examples/observation-diagnosticreport/diagnosticreport-example-ghp.json');
    if (!fs.existsSync(file)) return console.warn(`skipped: ${file} not found`);
    const { plans } = planBundle(JSON.parse(fs.readFileSync(file, 'utf8')));
    const obs = plans.flatMap((p) => (p.kind === 'store' && p.resource.resourceType === 'Observation' ? [p] : []));
    expect(obs.length).toBeGreaterThan(20);
    const timeless = obs.filter((p) => !(p.resource as any).effectiveDateTime && !(p.resource as any).issued && !p.context?.fallbackEffective);
    expect(timeless.map((p) => p.resource.id)).toEqual([]);
  });

  test('entries of other types are ignored, invalid ones reported with their path', () => {
    const { plans } = planBundle({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ resource: { resourceType: 'Encounter', status: 'finished' } }, { resource: { resourceType: 'Observation', status: 'final' } }, {}],
    } as never);
    expect(plans[0]).toEqual({ kind: 'ignored', index: 0, resourceType: 'Encounter' });
    expect(plans[1].kind).toBe('invalid');
    expect(plans[2].kind === 'invalid' && plans[2].issues[0].expression).toEqual(['Bundle.entry[2].resource']);
  });
});
