/**
 * The outbound half of a site's configuration: where its FHIR
 * server is, how we authenticate to it, and how we learn about new data
 * (subscription, polling, or both). Parsed from the `fhir` member of a
 * TRIALBRIDGE_SITES entry by src/config.ts; every problem is reported with its
 * JSON path, all at once (design.md habit 2).
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import type { StudyAliases } from '../protocol/study-ref';

/** SMART Backend Services signing algorithms (SMART App Launch 2.x, "Backend Services": RS384 and ES384 are required). */
export type SigningAlg = 'RS384' | 'ES384';

export type OutboundAuth =
  | { readonly type: 'none' }
  | { readonly type: 'bearer'; readonly token: string }
  | {
      readonly type: 'smart-backend';
      /** The server's token endpoint (from .well-known/smart-configuration). */
      readonly tokenUrl: string;
      readonly clientId: string;
      readonly alg: SigningAlg;
      /** PKCS#8 (or PKCS#1 / SEC1) PEM of the private key registered with the EHR (its JWKS holds the public half). */
      readonly privateKeyPem: string;
      /** `kid` of the JWK the EHR holds, sent in the JWT header so it can pick the key. */
      readonly kid: string | null;
      /** e.g. "system/Observation.rs system/MedicationAdministration.rs". */
      readonly scope: string;
    };

export type SiteMode = 'subscription' | 'poll';
export type SubscriptionPayload = 'full-resource' | 'id-only' | 'empty';

export interface SiteFhirConfig {
  /** FHIR base URL of the site's server, without a trailing slash. */
  readonly baseUrl: string;
  readonly auth: OutboundAuth;
  readonly modes: readonly SiteMode[];
  /** Resource types to watch; null = every type the loaded mapping rules read plus ResearchSubject and Patient. */
  readonly resourceTypes: readonly string[] | null;
  /** LOINC codes to watch; null = every code the loaded mapping rules map. */
  readonly loincCodes: readonly string[] | null;
  readonly pollIntervalMs: number;
  /** `_count` per search page; some EHR vendors cap it. */
  readonly pageSize: number;
  /** Extra search parameters per resource type, e.g. {"Observation": {"category": "laboratory"}}. */
  readonly searchParams: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Scope searches and subscription criteria to enrolled patients (`patient=` list); off for servers that cannot. */
  readonly patientScope: boolean;
  /** Patients per `patient=` list in one search or criteria (URL length limits). */
  readonly patientChunk: number;
  /** Our notification endpoint as the EHR reaches it (Subscription.channel.endpoint). */
  readonly notificationUrl: string | null;
  /** The inbound token the EHR sends with notifications (channel.header); its SHA-256 is the site's tokenSha256. */
  readonly notificationToken: string | null;
  readonly payload: SubscriptionPayload;
  /** Per-request timeout towards the site's server. */
  readonly timeoutMs: number;
  /** Write flags back to the site's EHR as FHIR Flag / DetectedIssue (README "Pre-screening and alerts"); absent = false. */
  readonly writeBack?: boolean;
}

/** Named defaults (design.md habit 8); [A] choices, all overridable per site. */
export const SITE_FHIR_DEFAULTS = {
  pollIntervalMs: 5 * 60_000,
  pageSize: 100,
  patientChunk: 50,
  payload: 'id-only' as SubscriptionPayload,
  timeoutMs: 30_000,
  scope: 'system/Observation.rs system/MedicationAdministration.rs system/ResearchSubject.rs system/ResearchStudy.rs system/Patient.rs system/Subscription.cruds',
} as const;

const MODES: readonly SiteMode[] = ['subscription', 'poll'];
const PAYLOADS: readonly SubscriptionPayload[] = ['full-resource', 'id-only', 'empty'];
const TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const LOINC = /^\d{1,7}-\d$/;

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function httpUrl(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? v.replace(/\/+$/, '') : null;
  } catch {
    return null;
  }
}

function secret(o: Record<string, unknown>, inline: string, file: string, at: string, bad: string[]): string | null {
  if (typeof o[inline] === 'string' && o[inline]) return o[inline] as string;
  if (typeof o[file] === 'string' && o[file]) {
    try {
      return fs.readFileSync(o[file] as string, 'utf8').trim();
    } catch (e) {
      bad.push(`${at}.${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      return null;
    }
  }
  bad.push(`${at}: expected ${inline} or ${file}`);
  return null;
}

function parseAuth(v: unknown, at: string, bad: string[]): OutboundAuth {
  if (v === undefined) return { type: 'none' };
  if (!isObj(v)) {
    bad.push(`${at}: expected an object with type none, bearer or smart-backend`);
    return { type: 'none' };
  }
  switch (v.type) {
    case 'none':
      return { type: 'none' };
    case 'bearer': {
      const token = secret(v, 'token', 'tokenFile', at, bad);
      return { type: 'bearer', token: token ?? '' };
    }
    case 'smart-backend': {
      const tokenUrl = httpUrl(v.tokenUrl);
      if (!tokenUrl) bad.push(`${at}.tokenUrl: expected an http(s) URL`);
      if (typeof v.clientId !== 'string' || !v.clientId) bad.push(`${at}.clientId: required`);
      const alg = v.alg ?? 'RS384';
      if (alg !== 'RS384' && alg !== 'ES384') bad.push(`${at}.alg: expected RS384 or ES384`);
      const pem = secret(v, 'privateKeyPem', 'privateKeyFile', at, bad);
      if (pem) {
        try {
          const key = crypto.createPrivateKey(pem);
          const want = alg === 'ES384' ? 'ec' : 'rsa';
          if (key.asymmetricKeyType !== want) bad.push(`${at}: ${alg} needs an ${want.toUpperCase()} private key, got ${key.asymmetricKeyType}`);
          else if (alg === 'ES384' && key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') bad.push(`${at}: ES384 needs a P-384 key, got ${key.asymmetricKeyDetails?.namedCurve}`);
        } catch (e) {
          bad.push(`${at}: the private key is not a readable PEM (${(e as Error).message})`);
        }
      }
      if (v.kid !== undefined && typeof v.kid !== 'string') bad.push(`${at}.kid: expected a string`);
      if (v.scope !== undefined && typeof v.scope !== 'string') bad.push(`${at}.scope: expected a space-separated string`);
      return {
        type: 'smart-backend', tokenUrl: tokenUrl ?? '', clientId: String(v.clientId ?? ''), alg: alg as SigningAlg, privateKeyPem: pem ?? '',
        kid: typeof v.kid === 'string' ? v.kid : null, scope: typeof v.scope === 'string' ? v.scope : SITE_FHIR_DEFAULTS.scope,
      };
    }
    default:
      bad.push(`${at}.type: expected none, bearer or smart-backend`);
      return { type: 'none' };
  }
}

function strList(v: unknown, at: string, re: RegExp, what: string, bad: string[]): string[] | null {
  if (v === undefined) return null;
  if (!Array.isArray(v) || !v.length || v.some((x) => typeof x !== 'string' || !re.test(x))) {
    bad.push(`${at}: expected a non-empty array of ${what}`);
    return null;
  }
  return [...new Set(v as string[])];
}

function int(v: unknown, dflt: number, min: number, max: number, at: string, bad: string[]): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    bad.push(`${at}: expected an integer from ${min} to ${max}`);
    return dflt;
  }
  return v;
}

/** Parses `TRIALBRIDGE_SITES[i].fhir`; undefined → null (a push-only site). Problems are appended to `bad`. */
export function parseSiteFhir(v: unknown, at: string, bad: string[]): SiteFhirConfig | null {
  if (v === undefined || v === null) return null;
  if (!isObj(v)) {
    bad.push(`${at}: expected an object`);
    return null;
  }
  const baseUrl = httpUrl(v.baseUrl);
  if (!baseUrl) bad.push(`${at}.baseUrl: expected the http(s) FHIR base URL of the site's server`);
  const modesRaw = v.modes ?? (v.mode !== undefined ? [v.mode] : ['poll']);
  const modes = Array.isArray(modesRaw) ? modesRaw : [modesRaw];
  if (!modes.length || modes.some((m) => !MODES.includes(m as SiteMode))) bad.push(`${at}.modes: expected a list of subscription, poll`);
  const searchParams: Record<string, Record<string, string>> = {};
  if (v.searchParams !== undefined) {
    if (!isObj(v.searchParams)) bad.push(`${at}.searchParams: expected {"ResourceType": {"param": "value"}}`);
    else
      for (const [type, params] of Object.entries(v.searchParams)) {
        if (!TYPE.test(type) || !isObj(params) || Object.values(params).some((p) => typeof p !== 'string'))
          bad.push(`${at}.searchParams.${type}: expected a resource type mapping to {"param": "string value"}`);
        else searchParams[type] = params as Record<string, string>;
      }
  }
  const notificationUrl = v.notificationUrl === undefined ? null : httpUrl(v.notificationUrl);
  if (v.notificationUrl !== undefined && !notificationUrl) bad.push(`${at}.notificationUrl: expected an http(s) URL`);
  if (modes.includes('subscription') && !notificationUrl) bad.push(`${at}.notificationUrl: required in subscription mode (our /fhir endpoint as the EHR reaches it)`);
  let notificationToken: string | null = null;
  if (v.notificationToken !== undefined || v.notificationTokenFile !== undefined) notificationToken = secret(v, 'notificationToken', 'notificationTokenFile', at, bad);
  else if (modes.includes('subscription')) bad.push(`${at}.notificationToken: required in subscription mode (sent by the EHR as "Authorization: Bearer ..."; tokenSha256 must be its digest)`);
  const payload = v.payload ?? SITE_FHIR_DEFAULTS.payload;
  if (!PAYLOADS.includes(payload as SubscriptionPayload)) bad.push(`${at}.payload: expected full-resource, id-only or empty`);
  if (v.patientScope !== undefined && typeof v.patientScope !== 'boolean') bad.push(`${at}.patientScope: expected true or false`);
  if (v.writeBack !== undefined && typeof v.writeBack !== 'boolean') bad.push(`${at}.writeBack: expected true or false`);
  return {
    baseUrl: baseUrl ?? '',
    auth: parseAuth(v.auth, `${at}.auth`, bad),
    modes: modes.filter((m): m is SiteMode => MODES.includes(m as SiteMode)),
    resourceTypes: strList(v.resourceTypes, `${at}.resourceTypes`, TYPE, 'FHIR resource type names', bad),
    loincCodes: strList(v.loincCodes, `${at}.loincCodes`, LOINC, 'LOINC codes (e.g. "1975-2")', bad),
    pollIntervalMs: int(v.pollIntervalMs, SITE_FHIR_DEFAULTS.pollIntervalMs, 1000, 86_400_000, `${at}.pollIntervalMs`, bad),
    pageSize: int(v.pageSize, SITE_FHIR_DEFAULTS.pageSize, 1, 1000, `${at}.pageSize`, bad),
    searchParams,
    patientScope: v.patientScope !== false,
    patientChunk: int(v.patientChunk, SITE_FHIR_DEFAULTS.patientChunk, 1, 1000, `${at}.patientChunk`, bad),
    notificationUrl,
    notificationToken,
    payload: payload as SubscriptionPayload,
    timeoutMs: int(v.timeoutMs, SITE_FHIR_DEFAULTS.timeoutMs, 100, 600_000, `${at}.timeoutMs`, bad),
    writeBack: v.writeBack === true,
  };
}

export type { StudyAliases };

/**
 * Parses `TRIALBRIDGE_SITES[i].studyAliases`, e.g. `{"NCT05985863": ["IRB-2023-19"]}`,
 * for sites whose ResearchStudy carries only a local protocol number. One
 * alias naming two trials is a problem; whether each key is a configured
 * trial is checked once the trials are loaded (unknownAliasTrials).
 */
export function parseStudyAliases(v: unknown, at: string, bad: string[]): StudyAliases {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) {
    bad.push(`${at}: expected {"<trial key>": ["<local ResearchStudy identifier>", ...]}`);
    return {};
  }
  const out: Record<string, string[]> = {};
  const seen = new Map<string, string>();
  for (const [trial, names] of Object.entries(v)) {
    if (!Array.isArray(names) || !names.length || names.some((n) => typeof n !== 'string' || !n.trim())) {
      bad.push(`${at}.${trial}: expected a non-empty array of identifier values (non-empty strings)`);
      continue;
    }
    for (const n of names as string[]) {
      const other = seen.get(n);
      if (other && other !== trial) bad.push(`${at}.${trial}: alias "${n}" already names ${other}; an alias names one trial`);
      else if (n === trial) bad.push(`${at}.${trial}: alias "${n}" is the trial key itself (trial keys need no alias)`);
      seen.set(n, trial);
    }
    out[trial] = [...new Set(names as string[])];
  }
  return out;
}

/**
 * Problems with the sites' aliases that need the trial list: an alias for a
 * trial that is not configured, or an alias that is another trial's key.
 * Boot and `trialbridge evaluate` stop on any.
 */
export function unknownAliasTrials(sites: readonly { id: string; studyAliases: StudyAliases }[], trialKeys: readonly string[]): string[] {
  const keys = new Set(trialKeys);
  const bad: string[] = [];
  sites.forEach((s, i) => {
    for (const [trial, names] of Object.entries(s.studyAliases)) {
      const at = `TRIALBRIDGE_SITES[${i}].studyAliases.${trial}`;
      if (!keys.has(trial)) bad.push(`${at}: no trial "${trial}" is configured (known: ${[...keys].sort().join(', ')})`);
      for (const n of names) if (keys.has(n) && n !== trial) bad.push(`${at}: alias "${n}" is the key of another trial`);
    }
  });
  return bad;
}

/** One `codeMap` entry: the site's local coding and the analyte id or LOINC code it stands for. */
export interface SiteCodeMapEntry {
  readonly system: string;
  readonly code: string;
  readonly target: string;
}

/**
 * Parses `TRIALBRIDGE_SITES[i].codeMap`, e.g. `{"http://lab.hospital-a.example/codes|BILT": "TBIL"}`:
 * `system|code` of a local lab code → an analyte id (mappings/analytes.json) or a LOINC code of a
 * group. The shape is checked here; which analytes and codes exist is checked at boot against the
 * loaded mapping rules (src/mapping/site-code-map.ts).
 */
export function parseSiteCodeMap(v: unknown, at: string, bad: string[]): SiteCodeMapEntry[] {
  if (v === undefined || v === null) return [];
  if (!isObj(v)) {
    bad.push(`${at}: expected {"<system>|<code>": "<analyte id or LOINC code>", ...}`);
    return [];
  }
  const out: SiteCodeMapEntry[] = [];
  for (const [key, target] of Object.entries(v)) {
    const cut = key.lastIndexOf('|');
    const system = cut > 0 ? key.slice(0, cut).trim() : '';
    const code = cut > 0 ? key.slice(cut + 1).trim() : '';
    if (!system || !code || /\s/.test(system)) bad.push(`${at}["${key}"]: expected the key "<code system URI>|<code>"`);
    else if (system === 'http://loinc.org') bad.push(`${at}["${key}"]: LOINC codes need no site code map`);
    else if (typeof target !== 'string' || !target.trim()) bad.push(`${at}["${key}"]: expected an analyte id (e.g. "TBIL") or a LOINC code (e.g. "1975-2")`);
    else out.push({ system, code, target: target.trim() });
  }
  return out;
}

/**
 * Which patients a site pre-screens (README "Pre-screening and alerts"):
 * every patient whose labs it sends, the members of a FHIR Group, or the
 * patients with an encounter at a Location or of a service type, as the
 * site's server can search them (FHIR R4 Encounter search `location`,
 * `service-type`).
 */
export type PrescreenScope =
  | { readonly kind: 'all' }
  | { readonly kind: 'group'; readonly group: string }
  | { readonly kind: 'location'; readonly location: string }
  | { readonly kind: 'service'; readonly serviceType: string };

/** `TRIALBRIDGE_SITES[i].prescreen`, parsed. */
export interface PrescreenConfig {
  /** Trial keys pre-screened at this site (checked against the loaded trials at boot: unknownPrescreenTrials). */
  readonly trials: readonly string[];
  readonly scope: PrescreenScope;
  /**
   * Days a candidate's data are kept once it is no longer potential (dismissed,
   * withdrawn, or moved to screening), then purged with the patient's parked data.
   */
  readonly retentionDays: number;
  /** Connected sites: look-back of the labs fetched on a hit (the watch plan's default when absent). */
  readonly lookbackDays?: number;
}

/** [A] Potential candidates are kept this long after they stop being potential (README "Pre-screening and alerts"). */
export const PRESCREEN_RETENTION_DAYS = 30;

const GROUP_REF = /^(?:Group\/)?[A-Za-z0-9\-.]{1,64}$/;
const LOCATION_REF = /^(?:Location\/)?[A-Za-z0-9\-.]{1,64}$/;

function parsePrescreenScope(v: unknown, at: string, connected: boolean, bad: string[]): PrescreenScope {
  if (v === undefined || v === 'all') return { kind: 'all' };
  const one = isObj(v) ? Object.keys(v) : [];
  if (!isObj(v) || one.length !== 1 || !['group', 'location', 'service'].includes(one[0]) || typeof v[one[0]] !== 'string') {
    bad.push(`${at}: expected "all", {"group": "Group/<id>"}, {"location": "Location/<id>"} or {"service": "<service type code>"}`);
    return { kind: 'all' };
  }
  const value = (v[one[0]] as string).trim();
  if (!connected) {
    // Group and Encounter are not resources a site pushes to us (ingest stores none of them), so a push-only
    // site cannot tell who is in such a scope: it sends only the patients it means to pre-screen, with "all".
    bad.push(`${at}: a push-only site (no fhir) pre-screens "all" the patients whose labs it sends; ${one[0]} membership is read from the site's FHIR server`);
    return { kind: 'all' };
  }
  if (one[0] === 'group') {
    if (!GROUP_REF.test(value)) bad.push(`${at}.group: expected "Group/<id>"`);
    return { kind: 'group', group: value.startsWith('Group/') ? value : `Group/${value}` };
  }
  if (one[0] === 'location') {
    if (!LOCATION_REF.test(value)) bad.push(`${at}.location: expected "Location/<id>"`);
    return { kind: 'location', location: value.startsWith('Location/') ? value : `Location/${value}` };
  }
  if (!value || /\s/.test(value)) bad.push(`${at}.service: expected a service type code, or "<system>|<code>"`);
  return { kind: 'service', serviceType: value };
}

/**
 * Parses `TRIALBRIDGE_SITES[i].prescreen`, e.g.
 * `{"trials": ["NCT05985863"], "scope": {"group": "Group/hepatology"}}`; undefined → null
 * (the site does not pre-screen). Whether each trial is configured is checked at boot.
 */
export function parsePrescreen(v: unknown, at: string, connected: boolean, bad: string[]): PrescreenConfig | null {
  if (v === undefined || v === null) return null;
  if (!isObj(v)) {
    bad.push(`${at}: expected {"trials": ["<trial key>", ...], "scope": "all" | {"group": ...} | {"location": ...}}`);
    return null;
  }
  for (const k of Object.keys(v)) if (!['trials', 'scope', 'retentionDays', 'lookbackDays'].includes(k)) bad.push(`${at}.${k}: unknown member (expected trials, scope, retentionDays, lookbackDays)`);
  const trials = v.trials;
  if (!Array.isArray(trials) || !trials.length || trials.some((t) => typeof t !== 'string' || !t.trim())) bad.push(`${at}.trials: expected a non-empty array of trial keys`);
  const out: PrescreenConfig = {
    trials: Array.isArray(trials) ? [...new Set(trials.filter((t): t is string => typeof t === 'string' && !!t.trim()))] : [],
    scope: parsePrescreenScope(v.scope, `${at}.scope`, connected, bad),
    retentionDays: int(v.retentionDays, PRESCREEN_RETENTION_DAYS, 0, 3650, `${at}.retentionDays`, bad),
  };
  return v.lookbackDays === undefined ? out : { ...out, lookbackDays: int(v.lookbackDays, 0, 1, 3650, `${at}.lookbackDays`, bad) };
}

/** Pre-screen trials that are not configured; boot stops on any (like unknownAliasTrials). */
export function unknownPrescreenTrials(sites: readonly { id: string; prescreen?: PrescreenConfig | null }[], trialKeys: readonly string[]): string[] {
  const keys = new Set(trialKeys);
  const bad: string[] = [];
  sites.forEach((s, i) => {
    for (const t of s.prescreen?.trials ?? []) {
      if (!keys.has(t)) bad.push(`TRIALBRIDGE_SITES[${i}].prescreen.trials: no trial "${t}" is configured (known: ${[...keys].sort().join(', ')})`);
    }
  });
  return bad;
}
