/**
 * GET /fhir/metadata: exactly what the receiver supports, no more (FHIR R4
 * capabilitystatement.html). Every claim here is something a test exercises:
 * create and update per stored type, batch and transaction at the base,
 * conditional create on identifier (If-None-Exist), version-aware updates
 * (If-Match), JSON only, a pre-shared bearer token per site (no OAuth or
 * SMART service: the sending EHR never obtains a token from us).
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import type { Config } from '../config';
import { SUPPORTED_TYPES } from './bundle';

/** When this statement's claims last changed (CapabilityStatement.date). */
export const CAPABILITY_DATE = '2026-12-01';

const SECURITY_DESCRIPTION =
  'Each site sends `Authorization: Bearer <site token>`: a pre-shared secret configured per site (stored as its SHA-256 only, ' +
  'README "Configuration"). There is no OAuth or SMART authorization service: no token is issued here. A missing or unknown token ' +
  'gets 401 with `WWW-Authenticate: Bearer`; a user token of /api gets 403.';

const REST_DOCUMENTATION =
  'Write-only receiver for FHIR R4 JSON. `POST [base]/[type]` creates, `PUT [base]/[type]/[id]` updates or creates. ' +
  '`POST [base]` takes a batch, transaction (all or nothing), collection or history Bundle; entries of other resource types are ' +
  'acknowledged with a warning and not stored; history deletions are acknowledged and not stored. ' +
  '`POST [base]` is also the subscription notification endpoint: an empty body (R4 rest-hook without payload) queues a sync of ' +
  'the site; a Bundle whose first entry is a SubscriptionStatus (Subscriptions R5 Backport IG `Parameters`, or R5) is handled as ' +
  'a notification (handshake, heartbeat, event-notification with full-resource, id-only or empty content). ' +
  '`Prefer: return=minimal|representation|OperationOutcome` is honoured (default representation). Dates must be valid calendar ' +
  'dates, and a dateTime with a time needs a UTC offset unless the site is configured to read its wall-clock time.';

function resourceEntry(type: CapabilityStatementRestResource['type']): CapabilityStatementRestResource {
  return {
    type,
    interaction: [
      { code: 'create', documentation: 'POST [base]/' + type + '; the same content again is acknowledged (200) and changes nothing' },
      { code: 'update', documentation: 'PUT [base]/' + type + '/[id]; creates the id when new (201), else a new version (200)' },
    ],
    versioning: 'versioned-update',
    readHistory: false,
    updateCreate: true,
    conditionalCreate: true,
    conditionalRead: 'not-supported',
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    documentation: 'If-None-Exist: identifier=[system|]value only (other searches answer 412). If-Match: W/"[versionId]" of our current version (412 otherwise).',
  };
}

/** The CapabilityStatement of this server. */
export function capabilityStatement(config: Config): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: CAPABILITY_DATE,
    kind: 'instance',
    software: { name: 'trialbridge', version: '0.1.0' },
    implementation: {
      description: `trialbridge FHIR receiver (${config.sites.length} site(s) configured)`,
      ...(config.publicUrl ? { url: `${config.publicUrl}/fhir` } : {}),
    },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        documentation: REST_DOCUMENTATION,
        security: { cors: false, description: SECURITY_DESCRIPTION },
        resource: SUPPORTED_TYPES.map(resourceEntry),
        interaction: [
          { code: 'batch', documentation: 'POST [base] with a batch Bundle: one response entry per entry' },
          { code: 'transaction', documentation: 'POST [base] with a transaction Bundle: all entries stored in one database transaction, or none' },
        ],
      },
    ],
  };
}
