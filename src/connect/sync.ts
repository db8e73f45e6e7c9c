/**
 * One sync of a site (issue #5): fetch everything watched that changed since
 * the stored cursor and store it through the same store-then-queue path as a
 * push. Used by polls, by catch-up after a lost notification or an empty
 * rest-hook, and by `trialbridge poll`.
 *
 * Paging: each page is a fresh search from the cursor (`_lastUpdated=ge…`,
 * sorted), not a walk down the server's `next` links, because a server that
 * pages by offset (Medplum, many EHR façades) shifts its result set when a
 * resource is updated during the poll and a link walk then skips resources
 * it has already pushed down the list. `next` is followed only while a page
 * ends inside a run of equal lastUpdated (keyset paging cannot pass a tie
 * larger than a page). The overlap this causes is deduplicated by id and
 * version (this pass) and by the store's unique key.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { SiteConfig } from '../config';
import type { Logger } from '../logger';
import type { Receiver, Accepted } from '../ingest/receive';
import { isSupportedType } from '../ingest/bundle';
import { validateFhir } from '../ingest/validate';
import type { Db } from '../store/db';
import { advanceCursor, enrolledPatients, getCursor, markBackfilled, reconcileScope, recordContact, unresolvedIndividuals } from '../store/sites';
import type { SiteClient } from './types';
import { scopeChunks, scopeParams, watchPlans, type WatchPlan } from './watch';

/** A safety stop for a server that keeps answering with links (one sync never walks more pages). */
export const MAX_PAGES_PER_PASS = 10_000;

export interface SyncDeps {
  readonly db: Db;
  readonly log: Logger;
  readonly receiver: Receiver;
  readonly client: SiteClient;
  readonly site: SiteConfig;
  /** LOINC codes the mapping rules map (watched by default). */
  readonly codes: readonly string[];
  readonly traceId: string;
}

export interface SyncSummary {
  pages: number;
  fetched: number;
  created: number;
  duplicate: number;
  invalid: number;
  /** Patients newly in scope whose history was fetched. */
  backfilledPatients: number;
}

const emptySummary = (): SyncSummary => ({ pages: 0, fetched: 0, created: 0, duplicate: 0, invalid: 0, backfilledPatients: 0 });

/** Resources of a searchset page that are matches (not `include`d or `outcome` entries). */
export function matches(page: Bundle): Resource[] {
  return (page.entry ?? []).filter((e) => e.resource && (!e.search?.mode || e.search.mode === 'match')).map((e) => e.resource!);
}

const nextLink = (page: Bundle) => page.link?.find((l) => l.relation === 'next')?.url ?? null;

/** Validates and stores resources; invalid ones are counted and logged by type/id and problem count only (no values). */
export async function storeResources(deps: Pick<SyncDeps, 'receiver' | 'log' | 'site' | 'traceId'>, resources: readonly Resource[], s: SyncSummary): Promise<void> {
  const ok: Accepted[] = [];
  for (const r of resources) {
    if (!isSupportedType(r.resourceType)) continue;
    const issues = validateFhir(r);
    if (issues.length) {
      s.invalid++;
      deps.log.warn({ site: deps.site.id, resource: `${r.resourceType}/${r.id}`, problems: issues.length, first: issues[0]?.expression?.[0] }, 'resource from site server failed validation; not stored');
      continue;
    }
    ok.push({ resource: r, context: null });
  }
  if (!ok.length) return;
  const stored = await deps.receiver.store(deps.site.id, ok, deps.traceId);
  for (const x of stored) x.created ? s.created++ : s.duplicate++;
}

/**
 * One keyset pass over a plan (see the module comment). `persist` moves the
 * stored cursor after each stored page; a pass over one chunk of a chunked
 * scope does not (the caller moves it to the lowest end of all chunks).
 * Returns the highest lastUpdated seen, or the starting cursor.
 */
async function pass(deps: SyncDeps, plan: WatchPlan, patients: readonly string[] | null, from: string | null, persist: boolean, s: SyncSummary): Promise<string | null> {
  const fhir = deps.site.fhir!;
  let cursor = from;
  let link: string | null = null;
  const seen = new Set<string>();
  for (let n = 0; n < MAX_PAGES_PER_PASS; n++) {
    const params = { ...plan.params, ...scopeParams(plan, patients), _sort: '_lastUpdated', _count: String(fhir.pageSize), ...(cursor ? { _lastUpdated: `ge${cursor}` } : {}) };
    const page = link ? await deps.client.search(link) : await deps.client.search(plan.type, params);
    s.pages++;
    const found = matches(page).filter((r) => r.resourceType === plan.type);
    const fresh = found.filter((r) => !seen.has(`${r.id}|${r.meta?.versionId ?? r.meta?.lastUpdated}`));
    fresh.forEach((r) => seen.add(`${r.id}|${r.meta?.versionId ?? r.meta?.lastUpdated}`));
    s.fetched += fresh.length;
    await storeResources(deps, fresh, s);
    await recordContact(deps.db, deps.site.id);
    const newest = found.map((r) => r.meta?.lastUpdated).filter((x): x is string => !!x).map((x) => new Date(x).toISOString()).sort().pop() ?? null;
    // Stored first, then the cursor: a crash between the two refetches a page, never skips one.
    if (persist && newest && (!cursor || newest > cursor)) await advanceCursor(deps.db, deps.site.id, plan.type, newest);
    const next = nextLink(page);
    if (!next) return newest && (!cursor || newest > cursor) ? newest : cursor;
    if (newest && (!cursor || newest > cursor)) {
      cursor = newest;
      link = null;
    } else link = next;
  }
  deps.log.warn({ site: deps.site.id, type: plan.type, pages: MAX_PAGES_PER_PASS }, 'sync stopped at the page limit; the next sync continues from the cursor');
  return cursor;
}

/** Fetches the whole history of patients newly in scope (they may have labs from before the cursor). */
async function backfill(deps: SyncDeps, plans: readonly WatchPlan[], patients: readonly string[], s: SyncSummary): Promise<void> {
  const { pending } = await reconcileScope(deps.db, deps.site.id, patients);
  if (!pending.length) return;
  for (const plan of plans.filter((p) => p.scope)) {
    // Before the first sync of a type the normal pass fetches everything anyway.
    if (!(await getCursor(deps.db, deps.site.id, plan.type))) continue;
    for (const chunk of scopeChunks(plan, pending, deps.site.fhir!.patientChunk)) await pass(deps, plan, chunk, null, false, s);
  }
  await markBackfilled(deps.db, deps.site.id, pending);
  s.backfilledPatients += pending.length;
}

/**
 * A ResearchSubject that names its patient by identifier only cannot widen the
 * scope until the Patient is known: search for it by identifier (a token
 * search every FHIR server supports) and store it; the worker then resolves
 * the enrollment and asks for another sync.
 */
async function resolveIndividuals(deps: SyncDeps, s: SyncSummary): Promise<void> {
  for (const i of await unresolvedIndividuals(deps.db, deps.site.id)) {
    const page = await deps.client.search('Patient', { identifier: i.system ? `${i.system}|${i.value}` : i.value });
    s.pages++;
    const found = matches(page).filter((r) => r.resourceType === 'Patient');
    s.fetched += found.length;
    await storeResources(deps, found, s);
  }
}

/** Runs one sync of the site; see the module comment. */
export async function syncSite(deps: SyncDeps): Promise<SyncSummary> {
  const fhir = deps.site.fhir;
  if (!fhir) throw new Error(`site ${deps.site.id} has no FHIR server configured`);
  const s = emptySummary();
  const plans = watchPlans(fhir, deps.codes);
  // Enrollments first: a ResearchSubject fetched now widens the scope at the next sync (the map worker requests it).
  const patients = await enrolledPatients(deps.db, deps.site.id);
  await resolveIndividuals(deps, s);
  await backfill(deps, plans, patients, s);
  for (const plan of plans) {
    const chunks = scopeChunks(plan, patients, fhir.patientChunk);
    if (plan.scope && !patients.length) continue;
    const from = await getCursor(deps.db, deps.site.id, plan.type);
    const ends: (string | null)[] = [];
    for (const chunk of chunks) ends.push(await pass(deps, plan, chunk, from, chunks.length === 1, s));
    if (chunks.length > 1) {
      // Chunks finish at different times: only the lowest end is safe for all of them (a chunk that found
      // nothing ends where it started). The overlap is refetched next time and deduplicated.
      if (ends.every((e) => e)) await advanceCursor(deps.db, deps.site.id, plan.type, (ends as string[]).sort()[0]);
    }
  }
  deps.log.info({ site: deps.site.id, ...s }, 'site sync done');
  return s;
}
