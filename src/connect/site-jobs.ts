/**
 * The processor of the `site-sync` queue (src/queue/site-sync.ts), exported
 * so tests can call it without a Worker (design.md habit 4). Errors towards
 * a site are recorded on the site (GET /api/sites) and rethrown as
 * SiteRequestError for the worker to back off.
 */
import type { ResearchSubject, Resource } from '@medplum/fhirtypes';
import type { SiteConfig } from '../config';
import type { Logger } from '../logger';
import type { Receiver } from '../ingest';
import type { SiteJobData, SyncRequests } from './types';
import type { Db } from '../store/db';
import { pruneNotifications, purgeUnenrolled, purgeUnmappedCounts } from '../store/purge';
import { storedStudies } from '../store/studies';
import { researchStudyId } from '../protocol/study-ref';
import { metrics } from '../metrics';
import { enrolledPatients, listSiteSubscriptions, notificationRefs, recordContact, scopeHash, setNotificationState } from '../store/sites';
import { reconcileSubscriptions, scopeDigest, type ExtraCriteria } from './subscriptions';
import { newRun, prescreenCriteria, prescreenResolved, syncPrescreen, type PrescreenDeps, type PrescreenRun } from './prescreen-sync';
import { emptySummary, storeResources, syncSite, type SyncSummary } from './sync';
import { SiteRequestError, type SiteClient } from './types';

export interface SiteJobDeps {
  readonly db: Db;
  readonly log: Logger;
  readonly receiver: Receiver;
  readonly sites: readonly SiteConfig[];
  readonly clientOf: (site: SiteConfig) => SiteClient;
  readonly codes: readonly string[];
  readonly retentionDays: number;
  readonly queue: SyncRequests;
  /** Trials and rules for the pre-screen watch of sites that pre-screen (README "Pre-screening and alerts"); null = none. */
  readonly prescreen?: PrescreenDeps | null;
}

function connectedSite(deps: SiteJobDeps, id: string): SiteConfig | null {
  const site = deps.sites.find((s) => s.id === id);
  return site?.fhir ? site : null;
}

/** Runs one job; returns a PHI-free summary kept as the job's return value. */
export async function processSiteJob(deps: SiteJobDeps, data: SiteJobData, traceId: string): Promise<unknown> {
  if (data.kind === 'purge') return purge(deps);
  const site = connectedSite(deps, data.site);
  if (!site) {
    deps.log.warn({ site: data.site, kind: data.kind }, 'site-sync job for a site without a FHIR server; dropped');
    return null;
  }
  switch (data.kind) {
    case 'tick':
      await deps.queue.requestSync(site.id, 'schedule');
      return null;
    case 'sync':
      return sync(deps, site, data.reason ?? 'request', traceId);
    case 'resolve':
      return resolve(deps, site, data.notificationId!, traceId);
  }
}

async function sync(deps: SiteJobDeps, site: SiteConfig, reason: string, traceId: string): Promise<SyncSummary & { subscriptions?: unknown }> {
  const client = deps.clientOf(site);
  const log = deps.log.child({ site: site.id, reason });
  // One snapshot of the enrollments for the whole job: the polling scope and the Subscriptions never disagree.
  const patients = await enrolledPatients(deps.db, site.id);
  const syncDeps = { db: deps.db, log, receiver: deps.receiver, client, site, codes: deps.codes, traceId, patients };
  const summary = await syncSite(syncDeps);
  // One run: the CapabilityStatement is read once per sync, and a patient's history at most once.
  const run: PrescreenRun | null = deps.prescreen ? newRun(client) : null;
  const prescreen = deps.prescreen && run ? await syncPrescreen(syncDeps, deps.prescreen, patients, summary, run) : null;
  const out = prescreen ? { ...summary, prescreen } : summary;
  if (!site.fhir!.modes.includes('subscription')) return out;
  const extra: ExtraCriteria[] = deps.prescreen && run ? await prescreenCriteria(deps.prescreen, site, client, run).catch((e) => {
    // A scope the server cannot give was recorded by the poll above; keep the enrollment Subscriptions going.
    if (!(e instanceof SiteRequestError) || e.retriable) throw e;
    return [];
  }) : [];
  // Keep the Subscriptions in line with the enrolled patients; on the scheduled sync also restart any the server stopped.
  const stale = (await scopeHash(deps.db, site.id)) !== scopeDigest(patients, extra);
  const missing = (await listSiteSubscriptions(deps.db, site.id)).some((s) => s.status === 'error' || s.status === 'off');
  if (stale || missing || reason === 'schedule') {
    const r = await reconcileSubscriptions({ db: deps.db, client, site, codes: deps.codes, patients, log, extra });
    return { ...out, subscriptions: { created: r.created.length, updated: r.updated.length, deleted: r.deleted.length } };
  }
  return out;
}

/** Same-server references are read; others (a notification naming another server) are skipped and noted. */
async function resolve(deps: SiteJobDeps, site: SiteConfig, notificationId: number, traceId: string): Promise<unknown> {
  const n = await notificationRefs(deps.db, notificationId);
  if (!n || n.site !== site.id) return null;
  const client = deps.clientOf(site);
  const found: Resource[] = [];
  let missing = 0;
  let skipped = 0;
  for (const ref of n.refs) {
    try {
      const r = await client.read(ref);
      if (r) found.push(r);
      else missing++;
    } catch (e) {
      // A reference to another server is never followed with this site's credentials.
      if (!(e instanceof SiteRequestError) || e.kind !== 'rejected') throw e;
      skipped++;
    }
  }
  found.push(...(await studiesNamedBy(deps, site, client, found)));
  await recordContact(deps.db, site.id);
  const s: SyncSummary = { ...emptySummary(), fetched: found.length };
  await storeResources({ receiver: deps.receiver, log: deps.log, site, traceId }, found, s);
  if (deps.prescreen) {
    // A notified result that triggers a pre-screen gets the same history fetch as a polled one.
    const patients = await enrolledPatients(deps.db, site.id);
    await prescreenResolved({ db: deps.db, log: deps.log, receiver: deps.receiver, client, site, codes: deps.codes, traceId, patients }, deps.prescreen, found, patients, s, newRun(client));
  }
  // A resource deleted since the notification was sent is not an error: there is nothing left to store.
  const notes = [missing && `${missing} reference(s) no longer on the server`, skipped && `${skipped} reference(s) refused (${'another server or not readable'})`].filter(Boolean);
  await setNotificationState(deps.db, notificationId, 'processed', notes.length ? notes.join('; ') : null);
  return { ...s, missing, skipped };
}

/**
 * The ResearchStudy resources that fetched ResearchSubjects name by reference
 * and that the site has not sent yet: read now from the same server, so an
 * id-only notification of an enrollment does not leave the subject waiting
 * for the next sync to bring its study (FHIR R4 ResearchSubject.study).
 */
async function studiesNamedBy(deps: SiteJobDeps, site: SiteConfig, client: SiteClient, found: readonly Resource[]): Promise<Resource[]> {
  const ids = [...new Set(found.flatMap((r) => {
    if (r.resourceType !== 'ResearchSubject') return [];
    const id = researchStudyId((r as ResearchSubject).study?.reference);
    return id && !found.some((f) => f.resourceType === 'ResearchStudy' && f.id === id) ? [id] : [];
  }))];
  if (!ids.length) return [];
  const stored = await storedStudies(deps.db, site.id, ids);
  const out: Resource[] = [];
  for (const id of ids.filter((i) => !stored.has(i))) {
    try {
      const r = await client.read(`ResearchStudy/${id}`);
      if (r) out.push(r);
    } catch (e) {
      // Not readable (scope, deleted): the next sync fetches ResearchStudy unscoped anyway.
      if (!(e instanceof SiteRequestError) || e.kind !== 'rejected') throw e;
    }
  }
  return out;
}

async function purge(deps: SiteJobDeps): Promise<unknown> {
  const counts = await purgeUnenrolled(deps.db, deps.retentionDays);
  const notifications = await pruneNotifications(deps.db, deps.retentionDays);
  if (notifications) deps.log.info({ notifications }, 'pruned applied notifications past the retention');
  const unmappedDays = await purgeUnmappedCounts(deps.db, deps.retentionDays);
  if (unmappedDays) deps.log.info({ unmappedDays }, 'purged unmapped-code counts past the retention');
  const out: Record<string, Record<string, number>> = {};
  for (const [site, c] of counts) {
    out[site] = c;
    for (const [type, n] of Object.entries(c)) metrics.purged.inc({ site, type }, n);
    deps.log.info({ site, purged: c, retentionDays: deps.retentionDays }, 'purged resources of patients with no enrollment');
  }
  return out;
}
