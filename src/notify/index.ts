/** Outbound alerts to people and EHRs (design.md layout: notify/): fan-out, delivery, digest. */
export { fanOut, deliveriesFor, emailFor, WRITE_BACK_CODES, isDoseCode, type NotifySettings } from './fanout';
export { deliver, PermanentDeliveryError, type DeliverDeps, type DeliverOutcome } from './deliver';
export { sendDigests } from './digest';
export { createMailer, alertEmail, digestEmail, type Mailer } from './email';
export { signWebhook, webhookBody, postWebhook } from './webhook';
export { toAlert, workbenchLink, URGENT_CODES, isPrescreenId, type Alert, type FlagRow } from './alert';
export { flagResource, FLAG_IDENTIFIER_SYSTEM, FLAG_CODE_SYSTEM } from './fhir';
