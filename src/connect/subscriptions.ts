/**
 * Our Subscriptions on a site's server: built from the same watch
 * plans as the polls, created or updated idempotently, deleted when no longer
 * wanted (scope narrowed). Ours are recognised by a meta.tag, so an IT team
 * can see and remove them on their server.
 *
 * Shape: an R4 Subscription (criteria = a search URL, channel rest-hook) that
 * also carries the Subscriptions Backport IG payload-content extension, so a
 * backport-capable server sends SubscriptionStatus Bundles and a classic R4
 * server sends `PUT {endpoint}/{type}/{id}` (full payload) or an empty POST.
 */
import crypto from 'node:crypto';
import type { Bundle, Subscription } from '@medplum/fhirtypes';
import type { SiteConfig } from '../config';
import type { Logger } from '../logger';
import type { Db } from '../store/db';
import { deleteSiteSubscription, listSiteSubscriptions, recordContact, setScopeHash, upsertSiteSubscription } from '../store/sites';
import type { SiteClient } from './types';
import { criteriaString, scopeChunks, scopeParams, watchPlans } from './watch';
import { matches, nextLink } from './sync';

/** meta.tag system marking Subscriptions made by trialbridge; the code is the site id. */
export const SUBSCRIPTION_TAG = 'urn:trialbridge:subscription';
/** meta.tag system holding our key of a Subscription (type and scope chunk). */
export const SUBSCRIPTION_KEY_TAG = 'urn:trialbridge:subscription-key';
/** Subscriptions Backport IG STU 1.1, extension on Subscription.channel.payload. */
export const PAYLOAD_CONTENT_EXT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content';

export interface DesiredSubscription {
  readonly key: string;
  readonly resourceType: string;
  readonly criteria: string;
  readonly resource: Subscription;
}

/** Criteria asked for beside the enrollment plans (the pre-screen watch, prescreen-sync.ts), by key. */
export interface ExtraCriteria {
  readonly key: string;
  readonly criteria: string;
}

/**
 * The Subscriptions a site should have for a patient scope (empty scope → none for scoped types),
 * plus the pre-screen criteria (`extra`), which name their own scope.
 */
export function desiredSubscriptions(site: SiteConfig, codes: readonly string[], patients: readonly string[], extra: readonly ExtraCriteria[] = []): DesiredSubscription[] {
  const fhir = site.fhir!;
  const out: DesiredSubscription[] = [];
  for (const plan of watchPlans(fhir, codes, site.codeMap)) {
    if (plan.scope && !patients.length) continue;
    scopeChunks(plan, patients, fhir.patientChunk).forEach((chunk, i) => {
      const criteria = criteriaString(plan.type, { ...plan.params, ...scopeParams(plan, chunk) });
      const key = chunk ? `${plan.type}-${i + 1}` : plan.type;
      out.push({ key, resourceType: plan.type, criteria, resource: subscriptionResource(site, key, criteria) });
    });
  }
  for (const e of extra) out.push({ key: e.key, resourceType: e.criteria.split('?')[0], criteria: e.criteria, resource: subscriptionResource(site, e.key, e.criteria) });
  return out;
}

function subscriptionResource(site: SiteConfig, key: string, criteria: string): Subscription {
  const fhir = site.fhir!;
  return {
    resourceType: 'Subscription',
    meta: { tag: [{ system: SUBSCRIPTION_TAG, code: site.id }, { system: SUBSCRIPTION_KEY_TAG, code: key }] },
    status: 'requested',
    reason: `trialbridge: ${key} for clinical-trial CRFs (site ${site.id})`,
    criteria,
    channel: {
      type: 'rest-hook',
      endpoint: fhir.notificationUrl!,
      // R4: a payload mime type means "send the resource"; none means an empty notification.
      payload: fhir.payload === 'empty' ? undefined : 'application/fhir+json',
      _payload: { extension: [{ url: PAYLOAD_CONTENT_EXT, valueCode: fhir.payload }] },
      header: fhir.notificationToken ? [`Authorization: Bearer ${fhir.notificationToken}`] : undefined,
    } as Subscription['channel'],
  };
}

/** Our Subscriptions on the server (by tag), following `next` links. */
export async function serverSubscriptions(client: SiteClient, siteId: string): Promise<Subscription[]> {
  const out: Subscription[] = [];
  let page: Bundle | null = await client.search('Subscription', { _tag: `${SUBSCRIPTION_TAG}|${siteId}`, _count: '100' });
  for (let n = 0; page && n < 100; n++) {
    out.push(...(matches(page) as Subscription[]));
    const next = nextLink(page);
    page = next ? await client.search(next) : null;
  }
  return out;
}

const keyOf = (s: Subscription) => s.meta?.tag?.find((t) => t.system === SUBSCRIPTION_KEY_TAG)?.code ?? null;

/** What decides whether a server copy needs an update. */
function fingerprint(s: Subscription): string {
  const c = s.channel as Subscription['channel'] & { _payload?: { extension?: { url?: string; valueCode?: string }[] } };
  const content = c?._payload?.extension?.find((e) => e.url === PAYLOAD_CONTENT_EXT)?.valueCode ?? null;
  return JSON.stringify([s.criteria, c?.type, c?.endpoint, c?.payload ?? null, content, [...(c?.header ?? [])].sort()]);
}

/** A server puts a failing Subscription in `error` (or `off`); we ask for it again. */
const needsRestart = (s: Subscription) => s.status === 'error' || s.status === 'off';

export interface ReconcileResult {
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: string[];
}

/** Makes the server's Subscriptions match the desired set; records them; returns what changed (by key). */
export async function reconcileSubscriptions(deps: ReconcileDeps): Promise<ReconcileResult> {
  // One reconcile per site at a time (the worker's and `trialbridge subscribe` may meet): both would create the same Subscription.
  return deps.db.transaction(async (db) => {
    await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [RECONCILE_LOCK_KEY, deps.site.id]);
    return reconcileLocked({ ...deps, db });
  });
}

/** Arbitrary constant for pg_advisory_xact_lock: "trialbridge subscriptions". */
const RECONCILE_LOCK_KEY = 7_243_005;

export interface ReconcileDeps {
  readonly db: Db;
  readonly client: SiteClient;
  readonly site: SiteConfig;
  readonly codes: readonly string[];
  readonly patients: readonly string[];
  readonly log: Logger;
  /** Pre-screen criteria (prescreenCriteria); none by default. */
  readonly extra?: readonly ExtraCriteria[];
}

async function reconcileLocked(deps: ReconcileDeps): Promise<ReconcileResult> {
  const { db, client, site } = deps;
  const desired = desiredSubscriptions(site, deps.codes, deps.patients, deps.extra);
  const existing = await serverSubscriptions(client, site.id);
  const res: ReconcileResult = { created: [], updated: [], deleted: [], unchanged: [] };
  const byKey = new Map<string, Subscription>();
  for (const s of existing) {
    const k = keyOf(s);
    // A duplicate of one key (e.g. two connectors once raced) is removed; one copy is enough.
    if (!k || byKey.has(k) || !desired.some((d) => d.key === k)) {
      await client.request('DELETE', `Subscription/${s.id}`);
      await deleteSiteSubscription(db, site.id, s.id!);
      res.deleted.push(k ?? s.id!);
    } else byKey.set(k, s);
  }
  for (const d of desired) {
    const have = byKey.get(d.key);
    let saved: Subscription;
    if (!have) {
      saved = (await client.request<Subscription>('POST', 'Subscription', { body: d.resource })).body ?? d.resource;
      res.created.push(d.key);
    } else if (fingerprint(have) !== fingerprint(d.resource) || needsRestart(have)) {
      saved = (await client.request<Subscription>('PUT', `Subscription/${have.id}`, { body: { ...d.resource, id: have.id } })).body ?? { ...d.resource, id: have.id };
      res.updated.push(d.key);
    } else {
      saved = have;
      res.unchanged.push(d.key);
    }
    if (!saved.id) continue;
    await upsertSiteSubscription(db, site.id, { subscriptionId: saved.id, key: d.key, resourceType: d.resourceType, criteria: d.criteria, status: saved.status ?? null, error: saved.error ?? null });
  }
  await recordContact(db, site.id);
  await setScopeHash(db, site.id, scopeDigest(deps.patients, deps.extra));
  deps.log.info({ site: site.id, created: res.created.length, updated: res.updated.length, deleted: res.deleted.length, unchanged: res.unchanged.length }, 'subscriptions reconciled');
  return res;
}

/**
 * Digest of a patient scope and of the pre-screen criteria (ids are not stored in site_state; only
 * whether the scope changed matters). Without pre-screen criteria it is the digest of the ids alone.
 */
export function scopeDigest(patients: readonly string[], extra: readonly ExtraCriteria[] = []): string {
  const text = patients.join('\n') + (extra.length ? `\n#\n${extra.map((e) => `${e.key} ${e.criteria}`).join('\n')}` : '');
  return crypto.createHash('sha256').update(text).digest('hex');
}

/** For `trialbridge subscriptions`: our Subscriptions on the server joined with what we recorded of them. */
export async function subscriptionStatus(deps: { db: Db; client: SiteClient; site: SiteConfig }): Promise<{ id: string; key: string | null; status: string | null; error: string | null; criteria: string; lastEventNumber: number | null; lastSeenAt: string | null }[]> {
  const server = await serverSubscriptions(deps.client, deps.site.id);
  const ours = new Map((await listSiteSubscriptions(deps.db, deps.site.id)).map((s) => [s.subscriptionId, s]));
  return server.map((s) => ({
    id: s.id!, key: keyOf(s), status: s.status ?? null, error: s.error ?? null, criteria: s.criteria ?? '',
    lastEventNumber: ours.get(s.id!)?.lastEventNumber ?? null, lastSeenAt: ours.get(s.id!)?.lastSeenAt ?? null,
  }));
}
