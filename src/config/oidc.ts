/**
 * Browser sign-in settings (README "Configuration", "Sign-in"): the OpenID
 * Connect provider (optional: token sign-in works without it) and session
 * lifetimes. Parsed at boot with every bad value reported, like the rest of
 * config/. The client secret is read from a file, so it never appears in the
 * environment of the process list or in logs.
 */
import fs from 'node:fs';

export interface OidcConfig {
  /** Issuer URL; discovery reads `${issuer}/.well-known/openid-configuration` at the first sign-in. */
  readonly issuer: string;
  readonly clientId: string;
  /** Read from TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE at boot. Never log it. */
  readonly clientSecret: string;
  /** Claim holding the user's trial roles (array or space-separated string). */
  readonly rolesClaim: string;
  /** Claim holding the printed name. */
  readonly nameClaim: string;
  /** Our callback, registered at the provider. */
  readonly redirectUrl: string;
}

export interface SessionConfig {
  /** Sliding idle lifetime (OWASP Session Management Cheat Sheet, "Idle Timeout"). */
  readonly idleMs: number;
  /** Absolute lifetime from sign-in, never extended ("Absolute Timeout"). */
  readonly absoluteMs: number;
}

/** Named defaults (design.md habit 8). */
export const SESSION_DEFAULTS = { idleMinutes: 30, maxHours: 12 } as const;
export const OIDC_DEFAULTS = { rolesClaim: 'trialbridge_roles', nameClaim: 'name' } as const;

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost)$/i;
const CLAIM = /^[\x21-\x7e]{1,200}$/;

function numberVar(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return dflt;
  const n = Number(raw);
  // Fractions are allowed so a test can ask for a few seconds.
  if (!Number.isFinite(n) || n < min || n > max) {
    problems.push(`${name}: expected a number from ${min} to ${max}, got "${raw}"`);
    return dflt;
  }
  return n;
}

export function parseSessionConfig(env: NodeJS.ProcessEnv, problems: string[]): SessionConfig {
  const idleMin = numberVar(env, 'TRIALBRIDGE_SESSION_IDLE_MINUTES', SESSION_DEFAULTS.idleMinutes, 0.01, 24 * 60, problems);
  const maxH = numberVar(env, 'TRIALBRIDGE_SESSION_MAX_HOURS', SESSION_DEFAULTS.maxHours, 0.001, 7 * 24, problems);
  return { idleMs: Math.round(idleMin * 60_000), absoluteMs: Math.round(maxH * 3_600_000) };
}

function parseIssuer(raw: string, problems: string[]): string | null {
  try {
    const u = new URL(raw);
    // OpenID Connect Discovery §3 requires https; plain http only where no network sees it (a test provider on loopback).
    if (!u.search && !u.hash && (u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.test(u.hostname)))) return u.href.replace(/\/+$/, '');
  } catch {
    // reported below
  }
  problems.push('TRIALBRIDGE_OIDC_ISSUER: expected an https URL without query or fragment (http only on loopback)');
  return null;
}

function readSecret(file: string | undefined, problems: string[]): string | null {
  if (!file?.trim()) {
    problems.push('TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE: required with TRIALBRIDGE_OIDC_ISSUER (a file holding the client secret)');
    return null;
  }
  let text: string;
  try {
    text = fs.readFileSync(file.trim(), 'utf8').trim();
  } catch (e) {
    problems.push(`TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE: cannot read ${file.trim()} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    return null;
  }
  if (!text) problems.push(`TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE: ${file.trim()} is empty`);
  return text || null;
}

/**
 * The OIDC settings, or null when TRIALBRIDGE_OIDC_ISSUER is unset. The
 * redirect URL defaults to `${publicUrl}/ui/auth/callback`, so either it or
 * TRIALBRIDGE_PUBLIC_URL must be set.
 */
export function parseOidcConfig(env: NodeJS.ProcessEnv, publicUrl: string | null, problems: string[]): OidcConfig | null {
  const issuerRaw = env.TRIALBRIDGE_OIDC_ISSUER?.trim();
  const related = ['TRIALBRIDGE_OIDC_CLIENT_ID', 'TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE', 'TRIALBRIDGE_OIDC_REDIRECT_URL'].filter((k) => env[k]?.trim());
  if (!issuerRaw) {
    if (related.length) problems.push(`TRIALBRIDGE_OIDC_ISSUER: required when ${related.join(', ')} ${related.length > 1 ? 'are' : 'is'} set`);
    return null;
  }
  const bad: string[] = [];
  const issuer = parseIssuer(issuerRaw, bad);
  const clientId = env.TRIALBRIDGE_OIDC_CLIENT_ID?.trim() ?? '';
  if (!clientId) bad.push('TRIALBRIDGE_OIDC_CLIENT_ID: required with TRIALBRIDGE_OIDC_ISSUER');
  const clientSecret = readSecret(env.TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE, bad);
  const claim = (name: string, dflt: string): string => {
    const v = env[name]?.trim() || dflt;
    if (!CLAIM.test(v)) bad.push(`${name}: expected a claim name without spaces (1-200 characters)`);
    return v;
  };
  const rolesClaim = claim('TRIALBRIDGE_OIDC_ROLES_CLAIM', OIDC_DEFAULTS.rolesClaim);
  const nameClaim = claim('TRIALBRIDGE_OIDC_NAME_CLAIM', OIDC_DEFAULTS.nameClaim);
  let redirectUrl: string | null = null;
  const rawRedirect = env.TRIALBRIDGE_OIDC_REDIRECT_URL?.trim();
  if (rawRedirect) {
    try {
      const u = new URL(rawRedirect);
      if ((u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.test(u.hostname))) && !u.hash) redirectUrl = u.href;
    } catch {
      // reported below
    }
    if (!redirectUrl) bad.push('TRIALBRIDGE_OIDC_REDIRECT_URL: expected an https URL without fragment (http only on loopback)');
  } else if (publicUrl) {
    redirectUrl = `${publicUrl}/ui/auth/callback`;
  } else {
    bad.push('TRIALBRIDGE_OIDC_REDIRECT_URL: required when TRIALBRIDGE_PUBLIC_URL is unset (the callback URL registered at the provider)');
  }
  problems.push(...bad);
  if (bad.length || !issuer || !clientSecret || !redirectUrl) return null;
  return Object.freeze({ issuer, clientId, clientSecret, rolesClaim, nameClaim, redirectUrl });
}

const GRANT_PART = /^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$/;

/**
 * Grants from the roles claim: an array (or space-separated string) of
 * `role`, `role:trial` or `role:trial:site`, `*` for all. Unknown roles and
 * malformed entries are ignored (a provider may carry roles for other
 * applications in the same claim); duplicates are dropped.
 */
export function grantsFromClaim<R extends string>(value: unknown, roles: readonly R[]): { role: R; trial: string; site: string }[] {
  const items = typeof value === 'string' ? value.split(/\s+/) : Array.isArray(value) ? value : [];
  const out = new Map<string, { role: R; trial: string; site: string }>();
  for (const item of items) {
    if (typeof item !== 'string' || !item) continue;
    const [role, trial = '*', site = '*', ...rest] = item.split(':');
    if (rest.length || !roles.includes(role as R) || !GRANT_PART.test(trial) || !GRANT_PART.test(site)) continue;
    out.set(`${role}:${trial}:${site}`, { role: role as R, trial, site });
  }
  return [...out.values()];
}
