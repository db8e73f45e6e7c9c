/**
 * Shared pieces of the connector integration tests: a site
 * configuration pointing at the test EHR server, seed resources shaped like
 * the bundled fixtures (NCT05985863 screening), and polling helpers.
 */
import crypto, { type KeyObject } from 'node:crypto';
import type { Observation, Patient, ResearchSubject } from '@medplum/fhirtypes';
import { sha256Hex } from '../../src/http';
import type { Db } from '../../src/store/db';
import { SITE_TOKENS } from './stack';

export interface Keys {
  readonly privateKeyPem: string;
  readonly publicKey: KeyObject;
}

export function rsaKeys(): Keys {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, publicKey };
}

/** TRIALBRIDGE_SITES with site-a connected to the EHR (`fhir` block), site-b push-only, and any extra sites. */
export function sitesEnv(siteAFhir: Record<string, unknown>, extra: Record<string, unknown>[] = []): string {
  return JSON.stringify([
    { id: 'site-a', tokenSha256: sha256Hex(SITE_TOKENS['site-a']), timeZone: 'Asia/Shanghai', fhir: siteAFhir },
    { id: 'site-b', tokenSha256: sha256Hex(SITE_TOKENS['site-b']), timeZone: 'Asia/Shanghai' },
    ...extra,
  ]);
}

export const patient = (mrn: string): Patient => ({ resourceType: 'Patient', identifier: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: mrn }], gender: 'male', birthDate: '1970-05-01' });

export const researchSubject = (patientId: string, subject: string, status: ResearchSubject['status'] = 'screening'): ResearchSubject => ({
  resourceType: 'ResearchSubject', status, identifier: [{ system: 'urn:trialbridge:subject', value: subject }],
  individual: { reference: `Patient/${patientId}` }, period: { start: '2024-03-01' },
  study: { identifier: { system: 'https://clinicaltrials.gov', value: 'NCT05985863' } },
});

/** A total bilirubin result (LOINC 14631-6, mapped by every trial). */
export const bilirubin = (patientId: string, day: number, value: number, loinc = '14631-6'): Observation => ({
  resourceType: 'Observation', status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: loinc }] }, subject: { reference: `Patient/${patientId}` },
  effectiveDateTime: `2024-03-${String(day).padStart(2, '0')}T08:00:00+08:00`,
  valueQuantity: { value, unit: 'umol/L', system: 'http://unitsofmeasure.org', code: 'umol/L' },
});

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Inbound rows of a site as `Type/id/version → state`. */
export async function inboundOf(db: Db, site: string): Promise<Map<string, string>> {
  const r = await db.query<{ resource_type: string; resource_id: string; version: string; state: string }>(
    'SELECT resource_type, resource_id, version, state FROM inbound WHERE site = $1', [site]);
  return new Map(r.rows.map((x) => [`${x.resource_type}/${x.resource_id}/${x.version}`, x.state]));
}

export interface NotificationEventSpec {
  readonly n: number;
  /** Absolute URL of the focus resource on the EHR. */
  readonly focus: string;
  readonly resource?: import('@medplum/fhirtypes').Resource;
}

/** A Subscriptions Backport IG (STU 1.1) R4 notification Bundle, shaped like the IG's published examples. */
export function notificationBundle(o: { subscription: string; type?: string; eventsSince?: number; events?: readonly NotificationEventSpec[] }): import('@medplum/fhirtypes').Bundle {
  const events = o.events ?? [];
  const since = o.eventsSince ?? (events.length ? Math.max(...events.map((e) => e.n)) : 0);
  return {
    resourceType: 'Bundle', type: 'history', timestamp: new Date().toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:${crypto.randomUUID()}`,
        resource: {
          resourceType: 'Parameters',
          meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4'] },
          parameter: [
            { name: 'subscription', valueReference: { reference: o.subscription } },
            { name: 'status', valueCode: 'active' },
            { name: 'type', valueCode: o.type ?? 'event-notification' },
            { name: 'events-since-subscription-start', valueString: String(since) },
            ...events.map((e) => ({
              name: 'notification-event',
              part: [{ name: 'event-number', valueString: String(e.n) }, { name: 'timestamp', valueInstant: new Date().toISOString() }, { name: 'focus', valueReference: { reference: e.focus } }],
            })),
          ],
        },
      },
      ...events.map((e) => ({ fullUrl: e.focus, ...(e.resource ? { resource: e.resource } : {}), request: { method: 'PUT' as const, url: e.focus.replace(/^.*\/fhir\//, '') }, response: { status: '200' } })),
    ],
  } as import('@medplum/fhirtypes').Bundle;
}
