/**
 * The only reader of process.env (design.md layout). Every variable is parsed
 * and checked at boot; a bad value stops boot with a message naming each bad
 * variable, all at once (design.md habit 2). The result is frozen.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { parseOidcConfig, parseSessionConfig, type OidcConfig, type SessionConfig } from './oidc';
import { parseSiteCodeMap, parseSiteFhir, parseStudyAliases, type SiteCodeMapEntry, type SiteFhirConfig, type StudyAliases } from './sites';
import { parsePrescreen, type PrescreenConfig } from './sites';
import { isEmailAddress, parseNotifyConfig, type NotifyConfig } from './notify';
export type { NotifyConfig, WebhookConfig, SmtpConfig } from './notify';
export type { PrescreenConfig, PrescreenScope } from './sites';

export type { OidcConfig, SessionConfig } from './oidc';
export { grantsFromClaim, OIDC_DEFAULTS, SESSION_DEFAULTS } from './oidc';

export type Role = 'admin' | 'data-manager' | 'investigator' | 'monitor';
export const ROLES: readonly Role[] = ['admin', 'data-manager', 'investigator', 'monitor'];

/**
 * One role in one part of the deployment: trial key and site id, `*` for all.
 * A user holds one or more grants; what they may see and do is the union.
 */
export interface Grant {
  readonly role: Role;
  readonly trial: string;
  readonly site: string;
}

/** A sending site (hospital EHR). Its inbound bearer token is stored only as a SHA-256 hex digest. */
export interface SiteConfig {
  readonly id: string;
  readonly name: string;
  readonly tokenSha256: string;
  /** IANA time zone of the site, for calendar-day visit windows (clinical-reference §6). */
  readonly timeZone: string;
  /** The site's FHIR server, for subscriptions, polling and bulk export; null = the site only pushes. */
  readonly fhir: SiteFhirConfig | null;
  /** Local ResearchStudy identifiers naming a trial at this site: trial key → aliases (README "Configuration"). */
  readonly studyAliases: StudyAliases;
  /** Local lab codes of this site → analyte or LOINC code (README "Connect a site", `codeMap`); checked against the rules at boot. */
  readonly codeMap: readonly SiteCodeMapEntry[];
  /**
   * A dateTime with a time but no UTC offset is invalid FHIR R4: `reject` it (default), or read it as
   * wall-clock time in `timeZone` (`site-zone`), recorded in the inbound row's context.
   */
  readonly localTimeWithoutOffset: LocalTimePolicy;
  /** Pre-screening of patients who are not enrolled (README "Pre-screening and alerts"); null = the site does not pre-screen. */
  readonly prescreen: PrescreenConfig | null;
}

/** What the door does with a dateTime that has a time but no offset (README "Configuration"). */
export type LocalTimePolicy = 'reject' | 'site-zone';
const LOCAL_TIME_POLICIES: readonly LocalTimePolicy[] = ['reject', 'site-zone'];

/** A person using /api. Token stored hashed, like site tokens. */
export interface UserConfig {
  readonly id: string;
  readonly role: Role;
  readonly tokenSha256: string;
  /** Display name (printed on signatures); defaults to the id. */
  readonly name: string;
  /** Trials and sites the role covers (`TRIALBRIDGE_USERS[i].trials/sites`, default `["*"]`). */
  readonly grants: readonly Grant[];
  /** Where flag alerts are emailed (README "Pre-screening and alerts"); null = none. */
  readonly email: string | null;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Unset → embedded PGlite in `dataDir`. */
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  /** PostgreSQL schema for all tables (search_path); null = the server default (public). */
  readonly dbSchema: string | null;
  readonly redisUrl: string;
  readonly queuePrefix: string;
  readonly mappingsDir: string;
  /** Trial definitions (mappings/trials). */
  readonly trialsDir: string;
  readonly workerConcurrency: number;
  /** Queues a `worker`/`start` process consumes: map-resource and/or evaluate-subject. */
  readonly workerQueues: readonly WorkerQueue[];
  readonly bodyLimitBytes: number;
  /** Public base URL for absolute Location headers (TRIALBRIDGE_PUBLIC_URL); null = the request's scheme and host. */
  readonly publicUrl: string | null;
  readonly logLevel: string;
  readonly sites: readonly SiteConfig[];
  readonly users: readonly UserConfig[];
  /** Rows left in `received` longer than this are re-enqueued by the sweeper (design.md data flow). */
  readonly sweepAfterMs: number;
  /** Resources of patients with no enrollment are purged this long after they arrived ([A] 30 days). */
  readonly unenrolledRetentionDays: number;
  /** OpenID Connect sign-in for the workbench (README "Sign-in"); null = token sign-in only. */
  readonly oidc: OidcConfig | null;
  /** Browser session lifetimes. */
  readonly session: SessionConfig;
  /** Flag alerts: SMTP, webhooks, digest (README "Pre-screening and alerts"). */
  readonly notify: NotifyConfig;
}

/** Named defaults (design.md habit 8). */
export const DEFAULTS = {
  port: 8080,
  host: '127.0.0.1',
  dataDir: '.data/pglite',
  queuePrefix: 'trialbridge',
  workerConcurrency: 8,
  bodyLimitBytes: 20 * 1024 * 1024,
  logLevel: 'info',
  sweepAfterMs: 60_000,
  timeZone: 'UTC',
  unenrolledRetentionDays: 30,
} as const;

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function intVar(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    problems.push(`${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
    return dflt;
  }
  return n;
}

function jsonArray(env: NodeJS.ProcessEnv, name: string, problems: string[]): unknown[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [];
  try {
    const v = JSON.parse(raw);
    if (Array.isArray(v)) return v;
    problems.push(`${name}: expected a JSON array`);
  } catch (e) {
    problems.push(`${name}: not valid JSON (${(e as Error).message})`);
  }
  return [];
}

export type WorkerQueue = 'map' | 'evaluate' | 'sites' | 'notify';
const WORKER_QUEUES: readonly WorkerQueue[] = ['map', 'evaluate', 'sites', 'notify'];

function parseQueues(raw: string | undefined, problems: string[]): WorkerQueue[] {
  if (!raw?.trim()) return [...WORKER_QUEUES];
  const qs = raw.split(',').map((q) => q.trim()).filter(Boolean);
  const bad = qs.filter((q) => !WORKER_QUEUES.includes(q as WorkerQueue));
  if (bad.length || !qs.length) problems.push(`TRIALBRIDGE_WORKER_QUEUES: expected a comma-separated list of ${WORKER_QUEUES.join(', ')}; got "${raw}"`);
  return qs.filter((q): q is WorkerQueue => WORKER_QUEUES.includes(q as WorkerQueue));
}

function parsePublicUrl(raw: string | undefined, problems: string[]): string | null {
  if (!raw?.trim()) return null;
  try {
    const u = new URL(raw.trim());
    if ((u.protocol === 'http:' || u.protocol === 'https:') && !u.search && !u.hash) return u.href.replace(/\/+$/, '');
  } catch {
    // reported below
  }
  problems.push('TRIALBRIDGE_PUBLIC_URL: expected an http(s) URL without query or fragment, e.g. https://trialbridge.hospital.example');
  return null;
}

function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function parseSites(env: NodeJS.ProcessEnv, problems: string[]): SiteConfig[] {
  const seen = new Set<string>();
  return jsonArray(env, 'TRIALBRIDGE_SITES', problems).flatMap((s, i) => {
    const at = `TRIALBRIDGE_SITES[${i}]`;
    const o = (s ?? {}) as Record<string, unknown>;
    const bad: string[] = [];
    if (typeof o.id !== 'string' || !ID.test(o.id)) bad.push(`${at}.id: expected 1-64 characters [A-Za-z0-9._-]`);
    else if (seen.has(o.id)) bad.push(`${at}.id: duplicate site id "${o.id}"`);
    const fhir = parseSiteFhir(o.fhir, `${at}.fhir`, bad);
    // A site that receives notifications may give the token itself (fhir.notificationToken) instead of its digest.
    const derived = fhir?.notificationToken ? crypto.createHash('sha256').update(fhir.notificationToken).digest('hex') : null;
    const tokenSha256 = o.tokenSha256 ?? derived;
    if (typeof tokenSha256 !== 'string' || !HEX64.test(tokenSha256))
      bad.push(`${at}.tokenSha256: expected the lowercase SHA-256 hex digest of the site's token (see \`trialbridge hash-token\`)`);
    else if (derived && tokenSha256 !== derived) bad.push(`${at}.tokenSha256: does not match fhir.notificationToken; give one or the other`);
    const studyAliases = parseStudyAliases(o.studyAliases, `${at}.studyAliases`, bad);
    const codeMap = parseSiteCodeMap(o.codeMap, `${at}.codeMap`, bad);
    const prescreen = parsePrescreen(o.prescreen, `${at}.prescreen`, !!fhir, bad);
    const tz = o.timeZone ?? DEFAULTS.timeZone;
    if (typeof tz !== 'string' || !isValidTimeZone(tz)) bad.push(`${at}.timeZone: not an IANA time zone`);
    const localTime = o.localTimeWithoutOffset ?? 'reject';
    if (!LOCAL_TIME_POLICIES.includes(localTime as LocalTimePolicy)) bad.push(`${at}.localTimeWithoutOffset: expected ${LOCAL_TIME_POLICIES.join(' or ')}`);
    problems.push(...bad);
    if (bad.length) return [];
    seen.add(o.id as string);
    return [{ id: o.id as string, name: typeof o.name === 'string' ? o.name : (o.id as string), tokenSha256: tokenSha256 as string, timeZone: tz as string, fhir, studyAliases, codeMap, localTimeWithoutOffset: localTime as LocalTimePolicy, prescreen }];
  });
}

function parseUsers(env: NodeJS.ProcessEnv, problems: string[]): UserConfig[] {
  return jsonArray(env, 'TRIALBRIDGE_USERS', problems).flatMap((u, i) => {
    const at = `TRIALBRIDGE_USERS[${i}]`;
    const o = (u ?? {}) as Record<string, unknown>;
    const bad: string[] = [];
    if (typeof o.id !== 'string' || !ID.test(o.id)) bad.push(`${at}.id: expected 1-64 characters [A-Za-z0-9._-]`);
    if (typeof o.role !== 'string' || !ROLES.includes(o.role as Role)) bad.push(`${at}.role: expected one of ${ROLES.join(', ')}`);
    if (typeof o.tokenSha256 !== 'string' || !HEX64.test(o.tokenSha256)) bad.push(`${at}.tokenSha256: expected a lowercase SHA-256 hex digest`);
    if (o.name !== undefined && (typeof o.name !== 'string' || !o.name.trim() || o.name.length > 200)) bad.push(`${at}.name: expected a non-empty string of at most 200 characters`);
    if (o.email !== undefined && !isEmailAddress(o.email)) bad.push(`${at}.email: expected an email address`);
    const list = (k: 'trials' | 'sites'): string[] => {
      const v = o[k];
      if (v === undefined) return ['*'];
      if (!Array.isArray(v) || !v.length || !v.every((x) => typeof x === 'string' && (x === '*' || ID.test(x)))) {
        bad.push(`${at}.${k}: expected a non-empty array of ids or "*"`);
        return [];
      }
      return v as string[];
    };
    const trials = list('trials');
    const sites = list('sites');
    problems.push(...bad);
    if (bad.length) return [];
    const role = o.role as Role;
    return [{ id: o.id as string, role, tokenSha256: o.tokenSha256 as string, name: ((o.name as string | undefined) ?? (o.id as string)).trim(), grants: trials.flatMap((trial) => sites.map((site) => ({ role, trial, site }))), email: typeof o.email === 'string' ? o.email.trim() : null }];
  });
}

/**
 * Reads and validates the environment. `needs` says which parts the command
 * uses, so `trialbridge migrate` does not demand a Redis URL.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, needs: { redis?: boolean } = { redis: true }): Config {
  const problems: string[] = [];
  const databaseUrl = env.DATABASE_URL?.trim() || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push('DATABASE_URL: expected a postgres:// or postgresql:// URL');
  const redisUrl = env.REDIS_URL?.trim() ?? '';
  if (needs.redis && !redisUrl) problems.push('REDIS_URL: required (e.g. redis://127.0.0.1:6379)');
  else if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL: expected a redis:// or rediss:// URL');
  const queuePrefix = env.TRIALBRIDGE_QUEUE_PREFIX || DEFAULTS.queuePrefix;
  // BullMQ builds keys as prefix:queue:...; a ':' in the prefix breaks Cluster hash tags.
  if (!/^[A-Za-z0-9_-]+$/.test(queuePrefix)) problems.push('TRIALBRIDGE_QUEUE_PREFIX: expected [A-Za-z0-9_-]+');
  const publicUrl = parsePublicUrl(env.TRIALBRIDGE_PUBLIC_URL, problems);
  const cfg: Config = {
    port: intVar(env, 'PORT', DEFAULTS.port, 0, 65535, problems),
    host: env.HOST || DEFAULTS.host,
    databaseUrl,
    dbSchema: env.TRIALBRIDGE_DB_SCHEMA || null,
    dataDir: path.resolve(env.TRIALBRIDGE_DATA_DIR || path.join(REPO_ROOT, DEFAULTS.dataDir)),
    redisUrl,
    queuePrefix,
    mappingsDir: path.resolve(env.TRIALBRIDGE_MAPPINGS_DIR || path.join(REPO_ROOT, 'mappings')),
    trialsDir: path.resolve(env.TRIALBRIDGE_TRIALS_DIR || path.join(REPO_ROOT, 'mappings', 'trials')),
    workerConcurrency: intVar(env, 'TRIALBRIDGE_WORKER_CONCURRENCY', DEFAULTS.workerConcurrency, 1, 500, problems),
    workerQueues: parseQueues(env.TRIALBRIDGE_WORKER_QUEUES, problems),
    bodyLimitBytes: intVar(env, 'TRIALBRIDGE_BODY_LIMIT_BYTES', DEFAULTS.bodyLimitBytes, 1024, 1024 * 1024 * 1024, problems),
    publicUrl,
    logLevel: env.LOG_LEVEL || DEFAULTS.logLevel,
    sites: parseSites(env, problems),
    users: parseUsers(env, problems),
    sweepAfterMs: intVar(env, 'TRIALBRIDGE_SWEEP_AFTER_MS', DEFAULTS.sweepAfterMs, 1000, 86_400_000, problems),
    unenrolledRetentionDays: intVar(env, 'TRIALBRIDGE_UNENROLLED_RETENTION_DAYS', DEFAULTS.unenrolledRetentionDays, 0, 3650, problems),
    oidc: parseOidcConfig(env, publicUrl, problems),
    session: parseSessionConfig(env, problems),
    notify: parseNotifyConfig(env, problems),
  };
  if (cfg.dbSchema && !/^[a-z_][a-z0-9_]{0,62}$/.test(cfg.dbSchema)) problems.push('TRIALBRIDGE_DB_SCHEMA: expected a lower-case SQL identifier');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(cfg.logLevel))
    problems.push('LOG_LEVEL: expected fatal, error, warn, info, debug, trace or silent');
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(cfg);
}
