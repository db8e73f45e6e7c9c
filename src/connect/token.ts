/**
 * Outbound access tokens for a site's FHIR server.
 *
 * `smart-backend` implements SMART App Launch 2.x "Backend Services": the
 * OAuth 2.0 client-credentials grant where the client authenticates with a
 * signed JWT (RFC 7523 §2.2, `private_key_jwt`). The assertion and the access
 * token are credentials: they are never logged.
 */
import crypto from 'node:crypto';
import type { Logger } from '../logger';
import { parseRetryAfter } from './retry';
import type { OutboundAuth } from '../config/sites';
import { SiteRequestError, type TokenSource } from './types';
import { SignJWT } from 'jose';

export { parseRetryAfter } from './retry';

/** Assertion lifetime: SMART Backend Services says `exp` SHALL be no more than five minutes in the future. */
export const ASSERTION_LIFETIME_S = 300;
/** Refresh this long before the token expires (clock skew, request latency)... */
export const TOKEN_SKEW_MS = 60_000;
/** Token endpoint request timeout when none is given. */
export const TOKEN_TIMEOUT_MS = 30_000;
/** Used when the server omits expires_in (SMART requires it; be conservative if it is missing). */
const DEFAULT_EXPIRES_IN_S = 300;

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface TokenSourceDeps {
  readonly log: Logger;
  readonly fetch?: typeof fetch;
  /** Clock in ms since the epoch (tests). */
  readonly now?: () => number;
  /** Token endpoint request timeout (default 30 s). */
  readonly timeoutMs?: number;
}

type SmartBackend = Extract<OutboundAuth, { type: 'smart-backend' }>;

/**
 * The TokenSource for a site's outbound auth: `none` gives null, `bearer` its
 * static token (invalidate() is a no-op for both: there is nothing to
 * refresh), `smart-backend` fetches, caches and refreshes tokens.
 * token() throws SiteRequestError when the token endpoint refuses or fails.
 */
export function createTokenSource(auth: OutboundAuth, deps: TokenSourceDeps): TokenSource {
  switch (auth.type) {
    case 'none':
      return { token: async () => null, invalidate: () => undefined };
    case 'bearer':
      return { token: async () => auth.token, invalidate: () => undefined };
    case 'smart-backend':
      return smartBackend(auth, deps);
  }
}

/**
 * How long to trust a token: its lifetime minus the skew, but never less than
 * half the lifetime, so a short-lived token (say 60 s) is still reused.
 */
export function cacheLifetimeMs(expiresInS: number): number {
  const life = expiresInS * 1000;
  return Math.max(life - TOKEN_SKEW_MS, life / 2);
}


function smartBackend(auth: SmartBackend, deps: TokenSourceDeps): TokenSource {
  const now = deps.now ?? Date.now;
  const doFetch = deps.fetch ?? fetch;
  const timeoutMs = deps.timeoutMs ?? TOKEN_TIMEOUT_MS;
  const log = deps.log.child({ tokenUrl: auth.tokenUrl, clientId: auth.clientId });
  let key: crypto.KeyObject | null = null;
  let cached: { token: string; refreshAt: number } | null = null;
  let inFlight: Promise<string> | null = null;

  /** RFC 7523 §3 / SMART "Authenticating to the Token endpoint": the client_assertion claims. */
  async function assertion(): Promise<string> {
    try {
      key ??= crypto.createPrivateKey(auth.privateKeyPem);
    } catch (e) {
      throw new SiteRequestError('auth', `token: the private key of client ${auth.clientId} is unreadable (${(e as Error).message})`);
    }
    const iat = Math.floor(now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: auth.alg, typ: 'JWT', ...(auth.kid ? { kid: auth.kid } : {}) })
      .setIssuer(auth.clientId)
      .setSubject(auth.clientId)
      .setAudience(auth.tokenUrl)
      .setExpirationTime(iat + ASSERTION_LIFETIME_S)
      // A fresh jti per assertion: the server rejects replays (SMART: "jti ... MUST NOT be reused").
      .setJti(crypto.randomUUID())
      .sign(key);
  }

  async function fetchToken(): Promise<string> {
    const started = Date.now();
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: auth.scope,
      client_assertion_type: JWT_BEARER_ASSERTION,
      client_assertion: await assertion(),
    });
    let res: Response;
    let text: string;
    try {
      res = await doFetch(auth.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why = err.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
      log.warn({ err: why }, 'token: endpoint unreachable');
      throw new SiteRequestError('unavailable', `token endpoint ${auth.tokenUrl}: ${why}`);
    }
    const ms = Date.now() - started;
    let json: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = text ? JSON.parse(text) : null;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
    } catch {
      json = null;
    }
    if (!res.ok) {
      // RFC 6749 §5.2 error response: {error, error_description}; both are safe to log.
      const oauth = json && typeof json.error === 'string' ? `${json.error}${typeof json.error_description === 'string' ? `: ${json.error_description}` : ''}` : null;
      const what = `token endpoint ${auth.tokenUrl} answered ${res.status}${oauth ? ` (${oauth})` : ''}`;
      log.warn({ status: res.status, error: json?.error, ms }, 'token: refused');
      if (res.status === 429 || res.status === 503) throw new SiteRequestError('retry-later', what, res.status, parseRetryAfter(res.headers.get('retry-after'), Date.now()));
      if (res.status >= 500) throw new SiteRequestError('unavailable', what, res.status);
      // Bad credentials, unknown client, wrong key or scope: retrying will not help; raise a site alert.
      if (res.status === 400 || res.status === 401 || res.status === 403) throw new SiteRequestError('auth', what, res.status);
      throw new SiteRequestError('rejected', what, res.status);
    }
    const token = json?.access_token;
    const type = json?.token_type;
    const expiresIn = json?.expires_in ?? DEFAULT_EXPIRES_IN_S;
    if (typeof token !== 'string' || !token || typeof type !== 'string' || type.toLowerCase() !== 'bearer' || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
      log.warn({ status: res.status, ms }, 'token: unusable response');
      throw new SiteRequestError('bad-response', `token endpoint ${auth.tokenUrl} answered ${res.status} without a bearer access_token and a positive expires_in`, res.status);
    }
    cached = { token, refreshAt: now() + cacheLifetimeMs(expiresIn) };
    log.debug({ status: res.status, ms, expiresIn, scope: json?.scope }, 'token: obtained');
    return token;
  }

  return {
    async token() {
      if (cached && now() < cached.refreshAt) return cached.token;
      // Concurrent callers share one request instead of each spending an assertion.
      inFlight ??= fetchToken().finally(() => {
        inFlight = null;
      });
      return inFlight;
    },
    invalidate() {
      cached = null;
    },
  };
}
