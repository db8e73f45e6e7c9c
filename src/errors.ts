/**
 * One catalogue of error codes (design.md habit 3): code → HTTP status →
 * OperationOutcome issue code. Domain code throws AppError with a code; the one
 * error middleware (src/http/errors.ts) renders it. Every code is listed in the
 * README (checked by a test).
 */
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

type IssueCode = OperationOutcomeIssue['code'];

export const ERROR_CATALOGUE = {
  'not-json': { status: 400, issue: 'invalid', text: 'The request body is not valid JSON' },
  'unsupported-media-type': { status: 415, issue: 'not-supported', text: 'Content-Type must be application/fhir+json or application/json' },
  'not-acceptable': { status: 406, issue: 'not-supported', text: 'Only application/fhir+json and application/json can be produced (Accept, _format)' },
  'body-too-large': { status: 413, issue: 'too-costly', text: 'The request body exceeds the configured limit' },
  unauthenticated: { status: 401, issue: 'login', text: 'A valid bearer token is required' },
  forbidden: { status: 403, issue: 'forbidden', text: 'This token may not use this endpoint' },
  'csrf-refused': { status: 403, issue: 'forbidden', text: 'A browser-session request that changes state lacks a matching CSRF token or comes from another origin' },
  'sign-in-failed': { status: 400, issue: 'login', text: 'The sign-in could not be completed; start it again' },
  'no-trial-roles': { status: 403, issue: 'forbidden', text: 'The account holds no trialbridge trial roles' },
  'sign-in-throttled': { status: 429, issue: 'throttled', text: 'Too many failed sign-ins from this address; wait and try again' },
  'sso-unavailable': { status: 503, issue: 'transient', text: 'The single sign-on provider cannot be reached; try again shortly' },
  'unsupported-resource-type': { status: 400, issue: 'not-supported', text: 'This resource type is not accepted' },
  'resource-type-mismatch': { status: 400, issue: 'invalid', text: 'resourceType does not match the URL' },
  'id-mismatch': { status: 400, issue: 'invalid', text: 'Resource id does not match the URL' },
  'invalid-id': { status: 400, issue: 'value', text: 'Resource id is not a valid FHIR id' },
  'validation-failed': { status: 400, issue: 'structure', text: 'The resource is not valid FHIR R4' },
  'invalid-bundle': { status: 400, issue: 'invalid', text: 'The Bundle cannot be processed' },
  'transaction-failed': { status: 400, issue: 'processing', text: 'A transaction entry failed; nothing was stored' },
  'invalid-request': { status: 400, issue: 'invalid', text: 'The request (method, URL, If-Match or If-None-Exist) cannot be processed' },
  'subject-claimed-by-other-site': { status: 409, issue: 'conflict', text: 'The subject number is enrolled by another site; nothing was stored' },
  'duplicate-identity': { status: 400, issue: 'duplicate', text: 'Two entries of one transaction name the same resource' },
  'precondition-failed': { status: 412, issue: 'conflict', text: 'If-Match does not name the current version; nothing was stored' },
  'multiple-matches': { status: 412, issue: 'multiple-matches', text: 'If-None-Exist matches more than one resource; nothing was stored' },
  'unsupported-condition': { status: 412, issue: 'not-supported', text: 'Conditional create supports only identifier=[system|]value; nothing was stored' },
  'invalid-notification': { status: 400, issue: 'invalid', text: 'The subscription notification cannot be processed; it is kept for inspection' },
  'site-not-connected': { status: 422, issue: 'not-supported', text: 'This site has no FHIR server configured, so the notification cannot be resolved' },
  'invalid-query': { status: 400, issue: 'invalid', text: 'A query parameter is invalid' },
  'invalid-review': { status: 400, issue: 'invalid', text: 'The review request is invalid (the expression names the field)' },
  'review-conflict': { status: 409, issue: 'conflict', text: 'The CRF value or review item is not in a state that allows this action' },
  'invalid-clinical-request': { status: 400, issue: 'invalid', text: 'The answer, signature or flag request is invalid (the expression names the field)' },
  'unknown-criterion': { status: 400, issue: 'value', text: 'The trial has no eligibility criterion of that id' },
  'criterion-not-answerable': { status: 400, issue: 'business-rule', text: 'The criterion is lab-computable: data decide it, not an answer' },
  'reauthentication-required': { status: 403, issue: 'security', text: 'Signing needs an interactive sign-in re-authenticated within the last minutes' },
  'nothing-to-sign': { status: 409, issue: 'business-rule', text: 'No CRF value counts for that visit, so there is nothing to sign' },
  'flag-not-open': { status: 409, issue: 'conflict', text: 'The flag is already resolved' },
  'invalid-prescreen-request': { status: 400, issue: 'invalid', text: 'The dismiss or start-screening request is invalid (the expression names the field)' },
  'prescreen-not-potential': { status: 409, issue: 'conflict', text: 'The pre-screen candidate is no longer potential (dismissed, withdrawn or screening)' },
  'invalid-notification-preference': { status: 400, issue: 'invalid', text: 'The notification preference is invalid (the expression names the field)' },
  'invalid-export-request': { status: 400, issue: 'invalid', text: 'The export request is invalid (the expression names the field)' },
  'delivery-not-failed': { status: 409, issue: 'conflict', text: 'Only a failed delivery can be sent again' },
  'not-found': { status: 404, issue: 'not-found', text: 'Not found' },
  'method-not-allowed': { status: 405, issue: 'not-supported', text: 'Method not allowed on this path' },
  'queue-unavailable': { status: 503, issue: 'transient', text: 'Stored, but the work queue is unavailable; it will be processed when the queue returns' },
  'store-unavailable': { status: 503, issue: 'transient', text: 'The database is unavailable; nothing was stored' },
  internal: { status: 500, issue: 'exception', text: 'Internal error' },
} as const satisfies Record<string, { status: number; issue: IssueCode; text: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** System for the catalogue code carried in OperationOutcome.issue.details.coding. */
export const ERROR_CODE_SYSTEM = 'https://trialbridge.dev/fhir/CodeSystem/error';

/** The one error class of the domain. `issues` may carry precise extra issues (e.g. validator output). */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly diagnostics?: string,
    readonly expression?: string[],
    readonly issues: OperationOutcomeIssue[] = [],
  ) {
    super(diagnostics ? `${code}: ${diagnostics}` : code);
    this.name = 'AppError';
    this.status = ERROR_CATALOGUE[code].status;
  }
}

/** Builds the OperationOutcome for a catalogue code. */
export function outcomeFor(code: ErrorCode, diagnostics?: string, expression?: string[], extra: OperationOutcomeIssue[] = []): OperationOutcome {
  const entry = ERROR_CATALOGUE[code];
  const head: OperationOutcomeIssue = {
    severity: 'error',
    code: entry.issue,
    details: { coding: [{ system: ERROR_CODE_SYSTEM, code }], text: entry.text },
    ...(diagnostics ? { diagnostics } : {}),
    ...(expression?.length ? { expression } : {}),
  };
  return { resourceType: 'OperationOutcome', issue: [head, ...extra] };
}

export function appErrorOutcome(err: AppError): OperationOutcome {
  return outcomeFor(err.code, err.diagnostics, err.expression, err.issues);
}

/** An informational/success outcome, for Bundle entry responses. */
export function okOutcome(text: string, severity: 'information' | 'warning' = 'information'): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code: 'informational', diagnostics: text }] };
}
