/**
 * One sync of a site: fetch everything watched that changed since
 * the stored cursor and store it through the front door (ingest accept), like
 * a push. Used by polls, by catch-up after a lost notification or an empty
 * rest-hook, and by `trialbridge poll`.
 *
 * Paging: each page is a fresh search from the cursor (`_lastUpdated=ge…`,
 * sorted), not a walk down the server's `next` links, because a server that
 * pages by offset (Medplum, many EHR façades) shifts its result set when a
 * resource is updated during the poll and a link walk then skips resources
 * it has already pushed down the list. `next` is followed only through a run
 * of equal lastUpdated longer than a page (keyset paging cannot pass it), and
 * that run is walked again until a walk finds nothing new, for the same
 * reason. The overlap this causes is deduplicated by id and version (this
 * pass) and by the store's unique key.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { SiteConfig } from '../config';
import type { Logger } from '../logger';
import type { Receiver } from '../ingest';
import type { Db } from '../store/db';
import { advanceCursor, enrolledPatients, getCursor, markBackfilled, reconcileScope, recordContact, unresolvedIndividuals } from '../store/sites';
import type { SiteClient } from './types';
import { pollPlans, scopeChunks, scopeParams, type WatchPlan } from './watch';

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
  /**
   * The enrolled patients to scope by, when the caller has read them already: one
   * job then narrows the polling scope and the Subscriptions to the same set.
   */
  readonly patients?: readonly string[];
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

/** A summary with nothing counted yet. */
export const emptySummary = (): SyncSummary => ({ pages: 0, fetched: 0, created: 0, duplicate: 0, invalid: 0, backfilledPatients: 0 });

/** Resources of a searchset page that are matches (not `include`d or `outcome` entries). */
export function matches(page: Bundle): Resource[] {
  return (page.entry ?? []).filter((e) => e.resource && (!e.search?.mode || e.search.mode === 'match')).map((e) => e.resource!);
}

/** The `next` link of a searchset page, or null. */
export const nextLink = (page: Bundle): string | null => page.link?.find((l) => l.relation === 'next')?.url ?? null;

/** Stores resources through the front door; refused ones are counted and logged by type/id and problem count only (no values). */
export async function storeResources(deps: Pick<SyncDeps, 'receiver' | 'log' | 'site' | 'traceId'>, resources: readonly Resource[], s: SyncSummary): Promise<void> {
  if (!resources.length) return;
  const results = await deps.receiver.accept(deps.site.id, resources.map((r) => ({ resource: r, path: r.resourceType })), { atomic: false, traceId: deps.traceId, source: 'poll' });
  for (const r of results) {
    if (r.outcome === 'created' || r.outcome === 'updated') s.created++;
    else if (r.outcome === 'unchanged') s.duplicate++;
    else if (r.outcome !== 'ignored') {
      s.invalid++;
      deps.log.warn({ site: deps.site.id, resource: `${r.resourceType}/${r.id}`, problems: r.issues?.length ?? 0, first: r.issues?.[0]?.expression?.[0] }, 'resource from site server refused; not stored');
    }
  }
}

/** Walks of a tie (see walkTie) before giving up until the next sync. */
export const MAX_TIE_WALKS = 5;

const versionKey = (r: Resource) => `${r.id}|${r.meta?.versionId ?? r.meta?.lastUpdated}`;
const lastUpdated = (r: Resource) => (r.meta?.lastUpdated ? new Date(r.meta.lastUpdated).toISOString() : null);

/** One pass over one plan and scope chunk: state shared by its pages. */
class Pass {
  readonly seen = new Set<string>();
  readonly params: Record<string, string>;
  constructor(readonly deps: SyncDeps, readonly plan: WatchPlan, patients: readonly string[] | null, readonly s: SyncSummary, readonly onFresh?: (found: readonly Resource[]) => void) {
    this.params = { ...plan.params, ...scopeParams(plan, patients), _sort: '_lastUpdated', _count: String(deps.site.fhir!.pageSize) };
  }

  /** Fetches a page (a search from a cursor, or a next link), stores what is new; returns the matches and how many were new. */
  async page(from: { link: string } | { op: 'ge' | 'gt'; cursor: string | null }): Promise<{ found: Resource[]; fresh: number; newest: string | null; next: string | null }> {
    if (this.s.pages >= MAX_PAGES_PER_PASS) throw new PageLimit();
    const page = 'link' in from
      ? await this.deps.client.search(from.link)
      : await this.deps.client.search(this.plan.type, { ...this.params, ...(from.cursor ? { _lastUpdated: `${from.op}${from.cursor}` } : {}) });
    this.s.pages++;
    const found = matches(page).filter((r) => r.resourceType === this.plan.type);
    const fresh = found.filter((r) => !this.seen.has(versionKey(r)));
    fresh.forEach((r) => this.seen.add(versionKey(r)));
    this.s.fetched += fresh.length;
    await storeResources(this.deps, fresh, this.s);
    this.onFresh?.(fresh);
    await recordContact(this.deps.db, this.deps.site.id);
    const newest = found.map(lastUpdated).filter((x): x is string => !!x).sort().pop() ?? null;
    return { found, fresh: fresh.length, newest, next: nextLink(page) };
  }

  /**
   * A run of resources with one lastUpdated longer than a page can only be
   * paged by the server's links, which (offset paging) skip a resource when
   * another leaves the run meanwhile (updated → a later lastUpdated). So the
   * run is walked again from its start until a whole walk finds nothing new.
   */
  async walkTie(cursor: string, firstNext: string): Promise<void> {
    for (let walk = 0; walk < MAX_TIE_WALKS; walk++) {
      let from: { link: string } | { op: 'ge'; cursor: string } = walk === 0 ? { link: firstNext } : { op: 'ge', cursor };
      let added = 0;
      for (;;) {
        const p = await this.page(from);
        added += p.fresh;
        if (!p.next || p.found.some((r) => (lastUpdated(r) ?? '') > cursor)) break;
        from = { link: p.next };
      }
      if (walk > 0 && added === 0) return;
    }
    this.deps.log.warn({ site: this.deps.site.id, type: this.plan.type }, 'a run of equal lastUpdated kept changing while paged; the next sync walks it again');
  }
}

class PageLimit extends Error {}

/**
 * One keyset pass over a plan (see the module comment). `persist` moves the
 * stored cursor after each stored page; a pass over one chunk of a chunked
 * scope does not (the caller moves it to the lowest end of all chunks).
 * Returns the highest lastUpdated seen, or the starting cursor.
 */
export async function pass(
  deps: SyncDeps, plan: WatchPlan, patients: readonly string[] | null, from: string | null, persist: boolean, s: SyncSummary,
  onFresh?: (found: readonly Resource[]) => void,
): Promise<string | null> {
  const p = new Pass(deps, plan, patients, s, onFresh);
  let cursor = from;
  let op: 'ge' | 'gt' = 'ge';
  try {
    for (;;) {
      const r = await p.page({ op, cursor });
      const advanced = !!r.newest && (!cursor || r.newest > cursor);
      // Stored first, then the cursor: a crash between the two refetches a page, never skips one.
      if (advanced) {
        cursor = r.newest;
        op = 'ge';
        if (persist) await advanceCursor(deps.db, deps.site.id, plan.cursorKey ?? plan.type, cursor!);
      }
      if (!r.next) return cursor;
      if (advanced) continue;
      if (!cursor) {
        // No lastUpdated to page by (a server that omits meta): follow its links to the end.
        for (let next: string | null = r.next; next; ) next = (await p.page({ link: next })).next;
        return cursor;
      }
      await p.walkTie(cursor, r.next);
      op = 'gt';
    }
  } catch (e) {
    if (!(e instanceof PageLimit)) throw e;
    deps.log.warn({ site: deps.site.id, type: plan.type, pages: MAX_PAGES_PER_PASS }, 'sync stopped at the page limit; the next sync continues from the cursor');
    return cursor;
  }
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
  const plans = pollPlans(fhir, deps.codes, deps.site.codeMap);
  // Enrollments first: a ResearchSubject fetched now widens the scope at the next sync (the map worker requests it).
  const patients = deps.patients ?? (await enrolledPatients(deps.db, deps.site.id));
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
