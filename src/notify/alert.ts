/**
 * The one shape every channel sends: what a flag is about, by ids only
 * (minimum necessary, HIPAA 45 CFR 164.502(b)). No names, values, dates of
 * care or MRN: the recipient opens the workbench, where scope and the access
 * log apply, to see more.
 */

import type { AlertFlag, NotifyEvent } from '../store/notify';

/** The flag row fields an alert may use. */
export type FlagRow = AlertFlag;
export type FlagEvent = NotifyEvent;

/** A flag as sent by webhook and email. `subject` is the trial's subject number or a pre-screen id (PS-...). */
export interface Alert {
  readonly flag: number;
  readonly code: string;
  readonly severity: string;
  readonly trial: string;
  readonly site: string;
  readonly subject: string;
  readonly visit: string | null;
  readonly event: FlagEvent;
  readonly link: string;
}

/** Pre-screen ids (README "Pre-screening and alerts"): never derived from the patient. */
export const isPrescreenId = (subject: string): boolean => /^PS-[A-Z2-7]{10}$/.test(subject);

/** Codes emailed at once by default; the rest go into the daily digest. */
export const URGENT_CODES: readonly string[] = ['eligible', 'potential-candidate'];

/** The workbench page of the flag's subject or candidate (TRIALBRIDGE_PUBLIC_URL + /ui/...). */
export function workbenchLink(publicUrl: string | null, f: Pick<FlagRow, 'trial' | 'site' | 'subject'>): string {
  const base = publicUrl ?? '';
  const e = encodeURIComponent;
  return isPrescreenId(f.subject) ? `${base}/ui/prescreen/${e(f.subject)}` : `${base}/ui/subjects/${e(f.trial)}/${e(f.site)}/${e(f.subject)}`;
}

export function toAlert(f: FlagRow, event: FlagEvent, publicUrl: string | null): Alert {
  return { flag: f.id, code: f.code, severity: f.severity, trial: f.trial, site: f.site, subject: f.subject, visit: f.visit, event, link: workbenchLink(publicUrl, f) };
}

/** One line naming the alert, for an email subject and a digest entry. */
export function alertLine(a: Alert): string {
  const who = isPrescreenId(a.subject) ? `pre-screen ${a.subject}` : `subject ${a.subject}`;
  return `${a.code}${a.event === 'resolved' ? ' (resolved)' : ''}: ${a.trial} at ${a.site}, ${who}${a.visit ? `, visit ${a.visit}` : ''}`;
}
