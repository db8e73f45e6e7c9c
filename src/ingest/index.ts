/**
 * The ingest folder's public face (design.md layout: WHAT ARRIVES): the one
 * front door every inbound resource goes through, the FHIR receiver, Bundles,
 * subscription notifications and NDJSON/Bundle file import.
 */
export {
  createReceiver, checkEntry, isStoredOutcome,
  type AcceptEntry, type AcceptOptions, type AcceptOutcome, type AcceptRequest, type AcceptResult, type AcceptSource, type Receiver, type ReceiveDeps,
} from './accept';
export { bundleEntries, planBundle, type EntryPlan } from './bundle';
export { SUPPORTED_TYPES, isSupportedType, type SupportedType } from './supported';
export { initFhirValidator, validateFhir, FHIR_ID } from './validate';
export { fhirRouter } from './routes';
export { typeAndId, parseNotification, parseStatusBundle, isNotificationBundle, type ParsedNotification } from './notification';
export {
  importFile, formatSummary, parseProblem, InputError, DEFAULT_BATCH, EXAMPLES_PER_REASON, MAX_BATCH,
  type ImportOptions, type ImportSummary, type RejectReason, type RejectExample,
} from './file-import';
