/**
 * The pre-screen watch of a connected site (README "Pre-screening and
 * alerts"): poll the trigger searches of prescreen-plan.ts with their own
 * cursors, and on a hit (a result of a patient who is not enrolled that meets
 * a trial's trigger) fetch that patient's labs in the trial's analyte groups
 * over the look-back and the Patient, nothing else. Everything fetched goes
 * through the front door (storeResources → ingest accept) like any poll: the
 * map worker parks it as unmatched and the pre-screen worker evaluates it.
 *
 * Scope (TRIALBRIDGE_SITES[i].prescreen.scope): every patient (no patient
 * filter), a FHIR Group (its members, read and chunked like the enrolled
 * scope: `_has:Group` chaining is rarely supported), or an encounter location
 * or service type (Encounter search → patients), as the server can search it.
 */
import crypto from 'node:crypto';
import type { Bundle, Encounter, Group, Observation, Resource } from '@medplum/fhirtypes';
import type { PrescreenConfig, PrescreenScope, SiteConfig } from '../config';
import type { MappingSet } from '../mapping';
import type { Trial, TrialSet } from '../protocol/trials';
import { saveScopePatients } from '../store/prescreen';
import { advanceCursor, getCursor, recordError } from '../store/sites';
import { SiteRequestError, type SiteClient } from './types';
import { criteriaString, scopeChunks, type WatchPlan } from './watch';
import { DEFAULT_PRESCREEN_LOOKBACK_DAYS, historyQueries, prescreenPlans, PRESCREEN_TRIGGER_DAYS, triggeredTrials, type PrescreenPlan } from './prescreen-plan';
import { matches, MAX_PAGES_PER_PASS, nextLink, pass, storeResources, type SyncDeps, type SyncSummary } from './sync';

/** What the connector needs to pre-screen (passed in, design.md habit 8). */
export interface PrescreenDeps {
  readonly trials: TrialSet;
  readonly mappings: MappingSet;
  /** Default DEFAULT_PRESCREEN_LOOKBACK_DAYS. */
  readonly lookbackDays?: number;
  /** A history fetched longer ago than this was purged meanwhile (unenrolled retention): fetch it whole again. */
  readonly retentionDays: number;
}

/** [A] An encounter scope covers patients with an encounter there in this many days. */
export const ENCOUNTER_SCOPE_DAYS = 30;
/** site_cursors key prefix remembering when a patient's history was fetched (per trial; the patient id is hashed). */
export const HISTORY_MARKER = 'prescreen-history';
/** Clock skew allowed between us and the server when asking for changes since the last history fetch. */
const SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

/** The site's pre-screen configuration (TRIALBRIDGE_SITES[i].prescreen), or null when it does not pre-screen. */
export function prescreenOf(site: SiteConfig): PrescreenConfig | null {
  return site.prescreen?.trials.length ? site.prescreen : null;
}

/** The search parameters a server declares per resource type (CapabilityStatement.rest.resource.searchParam), read once per sync. */
export class Capabilities {
  private statement: Promise<Map<string, Set<string>>> | null = null;
  constructor(private readonly client: SiteClient) {}

  async searchParams(type: string): Promise<ReadonlySet<string>> {
    this.statement ??= this.load();
    return (await this.statement).get(type) ?? new Set();
  }

  private async load(): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    try {
      const { body } = await this.client.request<{ rest?: { resource?: { type?: string; searchParam?: { name?: string }[] }[] }[] }>('GET', 'metadata');
      for (const rest of body?.rest ?? []) {
        for (const r of rest.resource ?? []) if (r.type) out.set(r.type, new Set((r.searchParam ?? []).map((p) => p.name ?? '').filter(Boolean)));
      }
    } catch (e) {
      // No statement: nothing is assumed supported beyond plain code and date searches.
      if (!(e instanceof SiteRequestError) || e.retriable) throw e;
    }
    return out;
  }
}

/** Patients of a non-trivial scope, sorted; null = every patient (no filter). */
export async function scopePatients(client: SiteClient, scope: PrescreenScope, caps: Capabilities, pageSize: number, now: Date): Promise<string[] | null> {
  if (scope.kind === 'all') return null;
  const ids = new Set<string>();
  const patientOf = (ref: string | undefined) => /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref ?? '')?.[1];
  if (scope.kind === 'group') {
    const ref = scope.group.includes('/') ? scope.group : `Group/${scope.group}`;
    const g = (await client.read(ref)) as Group | null;
    if (!g || g.resourceType !== 'Group') throw new SiteRequestError('rejected', `pre-screen scope ${ref} is not on the server`);
    // Group.member.inactive / period.end: members no longer in the group are out of scope (FHIR R4 Group).
    for (const m of g.member ?? []) {
      if (m.inactive || (m.period?.end && new Date(m.period.end) < now)) continue;
      const id = patientOf(m.entity?.reference);
      if (id) ids.add(id);
    }
    return [...ids].sort();
  }
  const param = scope.kind === 'location' ? 'location' : 'service-type';
  if (!(await caps.searchParams('Encounter')).has(param)) throw new SiteRequestError('rejected', `pre-screen scope: the server does not declare Encounter search by ${param}`);
  const value = scope.kind === 'location' ? (scope.location.includes('/') ? scope.location : `Location/${scope.location}`) : scope.serviceType;
  const since = new Date(now.getTime() - ENCOUNTER_SCOPE_DAYS * DAY_MS).toISOString().slice(0, 10);
  let page: Bundle | null = await client.search('Encounter', { [param]: value, date: `ge${since}`, _count: String(pageSize) });
  for (let n = 0; page && n < MAX_PAGES_PER_PASS; n++) {
    for (const e of matches(page) as Encounter[]) {
      const id = e.resourceType === 'Encounter' ? patientOf(e.subject?.reference) : undefined;
      if (id) ids.add(id);
    }
    const next = nextLink(page);
    page = next ? await client.search(next) : null;
  }
  return [...ids].sort();
}

/** The site's trials that pre-screen, loaded. */
function trialsOf(deps: PrescreenDeps, cfg: PrescreenConfig): Trial[] {
  return cfg.trials.map((k) => deps.trials.get(k)).filter((t): t is Trial => !!t);
}

/** The polling search of a plan (criteria for Subscriptions leave out the moving `date` bound). */
export function searchOf(site: SiteConfig, plan: PrescreenPlan, valueQuantity: boolean, scoped: boolean, now: Date | null): WatchPlan {
  const params: Record<string, string> = { ...(site.fhir?.searchParams.Observation ?? {}), code: plan.codes.join(',') };
  if (valueQuantity && plan.valueQuantity) params['value-quantity'] = plan.valueQuantity;
  if (now) params.date = `ge${new Date(now.getTime() - PRESCREEN_TRIGGER_DAYS * DAY_MS).toISOString().slice(0, 10)}`;
  return { type: 'Observation', params, scope: scoped ? 'patient' : null, cursorKey: plan.key };
}

/** What one pre-screen pass did (counts only). */
export interface PrescreenSummary {
  hits: number;
  patients: number;
  historyFetched: number;
}

/** A run's state: capabilities read once, histories fetched once per patient. */
export interface PrescreenRun {
  readonly caps: Capabilities;
  readonly fetched: Set<string>;
  readonly now: Date;
}

export const newRun = (client: SiteClient, now = new Date()): PrescreenRun => ({ caps: new Capabilities(client), fetched: new Set(), now });

/** Subscription criteria of the site's pre-screen plans (key → criteria), chunked by scope; [] when it does not pre-screen. */
export async function prescreenCriteria(deps: PrescreenDeps, site: SiteConfig, client: SiteClient, run: PrescreenRun): Promise<{ key: string; criteria: string }[]> {
  const cfg = prescreenOf(site);
  if (!cfg || !site.fhir) return [];
  const plans = prescreenPlans(trialsOf(deps, cfg), deps.mappings, site.codeMap);
  if (!plans.length) return [];
  const vq = (await run.caps.searchParams('Observation')).has('value-quantity');
  const patients = await scopePatients(client, cfg.scope, run.caps, site.fhir.pageSize, run.now);
  if (patients && !patients.length) return [];
  const out: { key: string; criteria: string }[] = [];
  for (const plan of plans) {
    const w = searchOf(site, plan, vq, !!patients, null);
    scopeChunks(w, patients, site.fhir.patientChunk).forEach((chunk, i) => {
      const scope: Record<string, string> = chunk ? { patient: chunk.map((p) => `Patient/${p}`).join(',') } : {};
      out.push({ key: chunk ? `${plan.key}-${i + 1}` : plan.key, criteria: criteriaString('Observation', { ...w.params, ...scope }) });
    });
  }
  return out;
}

/** Polls the site's pre-screen plans (see the module comment); a scope the server cannot give is recorded on the site and skipped. */
export async function syncPrescreen(deps: SyncDeps, pre: PrescreenDeps, enrolled: readonly string[], s: SyncSummary, run: PrescreenRun): Promise<PrescreenSummary> {
  const sum: PrescreenSummary = { hits: 0, patients: 0, historyFetched: 0 };
  const site = deps.site;
  const cfg = prescreenOf(site);
  if (!cfg || !site.fhir) return sum;
  const plans = prescreenPlans(trialsOf(pre, cfg), pre.mappings, site.codeMap);
  if (!plans.length) return sum;
  const vq = (await run.caps.searchParams('Observation')).has('value-quantity');
  let patients: string[] | null;
  try {
    patients = await scopePatients(deps.client, cfg.scope, run.caps, site.fhir.pageSize, run.now);
  } catch (e) {
    if (!(e instanceof SiteRequestError) || e.retriable) throw e;
    await recordError(deps.db, site.id, `pre-screen scope (${cfg.scope.kind}): ${e.message}`);
    deps.log.warn({ site: site.id, scope: cfg.scope.kind, err: e.message }, 'pre-screen scope could not be read; pre-screen skipped this sync');
    return sum;
  }
  // Pushed labs are pre-screened only for the patients in this scope (queue/prescreen.ts): saved before any hit is stored.
  if (patients) await saveScopePatients(deps.db, site.id, cfg.scope.kind, patients);
  if (patients && !patients.length) return sum;
  for (const plan of plans) {
    const w = searchOf(site, plan, vq, !!patients, run.now);
    const found: Observation[] = [];
    const collect = (rs: readonly Resource[]) => found.push(...(rs as Observation[]));
    const chunks = scopeChunks(w, patients, site.fhir.patientChunk);
    const from = await getCursor(deps.db, site.id, plan.key);
    const ends: (string | null)[] = [];
    for (const chunk of chunks) ends.push(await pass(deps, w, chunk, from, chunks.length === 1, s, collect));
    if (chunks.length > 1 && ends.every((e) => e)) await advanceCursor(deps.db, site.id, plan.key, (ends as string[]).sort()[0]);
    const h = await onHits(deps, pre, plan, found, enrolled, s, run);
    sum.hits += h.hits;
    sum.patients += h.patients;
    sum.historyFetched += h.historyFetched;
  }
  if (sum.hits) deps.log.info({ site: site.id, ...sum }, 'pre-screen hits');
  return sum;
}

/**
 * Observations fetched some other way (an id-only notification read by the
 * resolve job) that hit a pre-screen plan: the same history fetch as a poll's hit.
 */
export async function prescreenResolved(deps: SyncDeps, pre: PrescreenDeps, found: readonly Resource[], enrolled: readonly string[], s: SyncSummary, run: PrescreenRun): Promise<PrescreenSummary> {
  const sum: PrescreenSummary = { hits: 0, patients: 0, historyFetched: 0 };
  const cfg = prescreenOf(deps.site);
  const obs = found.filter((r): r is Observation => r.resourceType === 'Observation');
  if (!cfg || !obs.length) return sum;
  for (const plan of prescreenPlans(trialsOf(pre, cfg), pre.mappings, deps.site.codeMap)) {
    const h = await onHits(deps, pre, plan, obs, enrolled, s, run);
    sum.hits += h.hits;
    sum.patients += h.patients;
    sum.historyFetched += h.historyFetched;
  }
  return sum;
}

const patientIdOf = (o: Observation) => /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(o.subject?.reference ?? '')?.[1] ?? null;

async function onHits(deps: SyncDeps, pre: PrescreenDeps, plan: PrescreenPlan, found: readonly Observation[], enrolled: readonly string[], s: SyncSummary, run: PrescreenRun): Promise<PrescreenSummary> {
  const sum: PrescreenSummary = { hits: 0, patients: 0, historyFetched: 0 };
  const inScope = new Set(enrolled);
  const byPatient = new Map<string, Set<string>>();
  for (const o of found) {
    const pid = patientIdOf(o);
    // Enrolled patients follow the normal path (their labs are watched already).
    if (!pid || inScope.has(pid)) continue;
    const trials = triggeredTrials(o, plan, pre.mappings);
    if (!trials.length) continue;
    sum.hits++;
    const set = byPatient.get(pid) ?? new Set<string>();
    trials.forEach((t) => set.add(t));
    byPatient.set(pid, set);
  }
  for (const [pid, trials] of byPatient) {
    sum.patients++;
    if (await fetchHistory(deps, pre, pid, [...trials], s, run)) sum.historyFetched++;
  }
  return sum;
}

/** site_cursors key of a patient's history marker for one trial; the id is hashed so the site overview lists no patient ids. */
export function historyMarker(site: string, trial: string, patientId: string): string {
  return `${HISTORY_MARKER}:${trial}:${crypto.createHash('sha256').update(`${site}\n${patientId}`).digest('hex').slice(0, 32)}`;
}

/**
 * Fetches the labs of `patientId` in the analyte groups of `trialKeys` and the
 * Patient, and stores them. A trial whose history was fetched before (within
 * the retention) asks only for what changed since (`_lastUpdated`), so a
 * patient's history is not fetched again on every hit. Returns whether
 * anything was asked of the server.
 */
async function fetchHistory(deps: SyncDeps, pre: PrescreenDeps, patientId: string, trialKeys: readonly string[], s: SyncSummary, run: PrescreenRun): Promise<boolean> {
  const site = deps.site;
  const keys = trialKeys.filter((t) => !run.fetched.has(`${t}\n${patientId}`));
  if (!keys.length) return false;
  const cfg = prescreenOf(site);
  const lookback = cfg?.lookbackDays ?? pre.lookbackDays ?? DEFAULT_PRESCREEN_LOOKBACK_DAYS;
  const oldest = run.now.getTime() - pre.retentionDays * DAY_MS;
  const full: Trial[] = [];
  const since = new Map<string, Trial[]>();
  for (const k of keys) {
    const trial = pre.trials.get(k);
    if (!trial) continue;
    const marker = await getCursor(deps.db, site.id, historyMarker(site.id, k, patientId));
    if (marker && new Date(marker).getTime() > oldest) since.set(marker, [...(since.get(marker) ?? []), trial]);
    else full.push(trial);
  }
  const started = new Date(run.now.getTime() - SKEW_MS).toISOString();
  const resources: Resource[] = [];
  const batches: { trials: Trial[]; since: string | null }[] = [...(full.length ? [{ trials: full, since: null }] : []), ...[...since].map(([m, trials]) => ({ trials, since: m }))];
  for (const b of batches) {
    for (const q of historyQueries(b.trials, pre.mappings, lookback, site.codeMap)) {
      const params: Record<string, string> = {
        patient: `Patient/${patientId}`, code: q.codes.join(','), date: `ge${new Date(run.now.getTime() - q.days * DAY_MS).toISOString().slice(0, 10)}`,
        _count: String(site.fhir!.pageSize), ...(b.since ? { _lastUpdated: `ge${b.since}` } : {}),
      };
      let page: Bundle | null = await deps.client.search('Observation', params);
      for (let n = 0; page && n < MAX_PAGES_PER_PASS; n++) {
        s.pages++;
        resources.push(...matches(page).filter((r) => r.resourceType === 'Observation' && patientIdOf(r as Observation) === patientId));
        const next = nextLink(page);
        page = next ? await deps.client.search(next) : null;
      }
    }
  }
  // The Patient (birth date and sex decide age criteria) once per full fetch: it rarely changes.
  if (full.length) {
    const p = await deps.client.read(`Patient/${patientId}`);
    if (p && p.resourceType === 'Patient') resources.unshift(p);
  }
  const seen = new Set<string>();
  const fresh = resources.filter((r) => {
    const k = `${r.resourceType}/${r.id}/${r.meta?.versionId ?? ''}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
  s.fetched += fresh.length;
  await storeResources(deps, fresh, s);
  for (const k of keys) {
    run.fetched.add(`${k}\n${patientId}`);
    await advanceCursor(deps.db, site.id, historyMarker(site.id, k, patientId), started);
  }
  return true;
}
