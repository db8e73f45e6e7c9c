/** GET /fhir/metadata: exactly what the receiver supports, no more. */
import type { CapabilityStatement } from '@medplum/fhirtypes';
import type { Config } from '../config';
import { SUPPORTED_TYPES } from './bundle';

export function capabilityStatement(config: Config): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-23',
    kind: 'instance',
    software: { name: 'trialbridge', version: '0.1.0' },
    implementation: { description: `trialbridge FHIR receiver (${config.sites.length} site(s) configured)` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    rest: [
      {
        mode: 'server',
        documentation: 'Write-only receiver. Bearer token per site. Bundles of type batch, transaction or collection are accepted at the base; other resource types inside a Bundle are acknowledged and not stored.',
        security: { cors: false, description: 'Authorization: Bearer <site token>', service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth', display: 'OAuth' }] }] },
        resource: SUPPORTED_TYPES.map((type) => ({
          type,
          interaction: [{ code: 'create' as const }, { code: 'update' as const }],
          versioning: 'versioned' as const,
          updateCreate: true,
          conditionalCreate: false,
          conditionalUpdate: false,
        })),
        interaction: [{ code: 'batch' }, { code: 'transaction' }],
      },
    ],
  };
}
