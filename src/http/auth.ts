/**
 * Authentication of sites and users. Bearer tokens are configured as SHA-256
 * digests only (never stored in clear). Site tokens open /fhir, user tokens
 * open /api, and neither opens the other (README "Layout"). Users may instead
 * hold a browser session (README "Sign-in"); those requests must also pass the
 * CSRF check when they change state.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ROLES, type Role, type SiteConfig, type UserConfig } from '../config';
import { AppError } from '../errors';
import { crossOriginReason, safeEqual, sha256Hex } from './security';
import { principalOfSession } from './session';
import type { Config } from '../config';

export { sha256Hex } from './security';

/** Realm named in `WWW-Authenticate` challenges. */
export const AUTH_REALM = 'trialbridge';

/**
 * The challenge a 401 carries (RFC 6750 §3): `Bearer realm="trialbridge"`, plus
 * `error="invalid_token"` when a token was sent and is not one we know.
 */
export function bearerChallenge(tokenGiven: boolean): string {
  return tokenGiven ? `Bearer realm="${AUTH_REALM}", error="invalid_token", error_description="unknown token"` : `Bearer realm="${AUTH_REALM}"`;
}

function unauthenticated(res: Response, tokenGiven: boolean, text: string): AppError {
  res.set('WWW-Authenticate', bearerChallenge(tokenGiven));
  return new AppError('unauthenticated', text);
}

function bearer(req: Request): string | null {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m ? m[1] : null;
}

declare module 'express-serve-static-core' {
  interface Request {
    site?: SiteConfig;
    user?: UserConfig;
    traceId?: string;
  }
}

/** Digest → principal lookup; the digest of a random token is not a secret worth a constant-time search. */
function index<T extends { tokenSha256: string }>(xs: readonly T[]): Map<string, T> {
  return new Map(xs.map((x) => [x.tokenSha256, x]));
}

export function requireSite(sites: readonly SiteConfig[], users: readonly UserConfig[]) {
  const bySite = index(sites);
  const byUser = index(users);
  return (req: Request, res: Response, next: NextFunction) => {
    const t = bearer(req);
    if (!t) return next(unauthenticated(res, false, 'Authorization: Bearer <site token> is required'));
    const digest = sha256Hex(t);
    const site = bySite.get(digest);
    if (site) {
      req.site = site;
      return next();
    }
    if (byUser.has(digest)) return next(new AppError('forbidden', 'a user token cannot send FHIR data; use the site token'));
    next(unauthenticated(res, true, 'unknown site token'));
  };
}

/** Methods that change state and so need the CSRF check (RFC 9110 §9.2.1: the others are safe). */
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Form bodies are read here when the CSRF token travels as the `_csrf` field; later parsers see the body already read. */
const formBody = express.urlencoded({ extended: false, limit: '1mb' });

/**
 * The CSRF check of a session request that changes state (OWASP CSRF
 * Prevention Cheat Sheet: synchronizer token, plus Origin and Fetch Metadata
 * verification): `X-CSRF-Token` or form field `_csrf` must equal the session's
 * token, and the request must be same-origin.
 */
export function csrfProblem(config: Pick<Config, 'publicUrl'>, req: Request): string | null {
  // The origin comes from TRIALBRIDGE_PUBLIC_URL when known (behind a TLS proxy the request's own scheme is not ours).
  const publicUrl = config.publicUrl ?? req.publicOrigin ?? null;
  const cross = crossOriginReason({ publicUrl }, req);
  if (cross) return cross;
  const header = req.get('x-csrf-token');
  const field = typeof req.body === 'object' && req.body !== null && typeof (req.body as Record<string, unknown>)._csrf === 'string' ? (req.body as Record<string, string>)._csrf : undefined;
  const given = header ?? field;
  if (!given) return 'the X-CSRF-Token header (or _csrf form field) is missing';
  if (!req.session || !safeEqual(given, req.session.csrfToken)) return 'the CSRF token does not match this session';
  return null;
}

/**
 * Who is asking, for /api and /ui: `Authorization: Bearer <user token>`
 * (wins when present) or the browser session resolved by sessionMiddleware.
 * Session requests that change state must pass `csrfProblem`. `roles`
 * restricts the endpoint to principals holding one of them somewhere.
 * `config` gives our origin for the CSRF check (publicUrl); without it the
 * session middleware's record of it is used, else the request's own host.
 */
export function requireUser(users: readonly UserConfig[], sites: readonly SiteConfig[], roles: readonly Role[] = ROLES, config: Pick<Config, 'publicUrl'> = { publicUrl: null }) {
  const byUser = index(users);
  const bySite = index(sites);
  return (req: Request, res: Response, next: NextFunction) => {
    const t = bearer(req);
    if (!t) return sessionUser(req, res, next);
    const digest = sha256Hex(t);
    const user = byUser.get(digest);
    if (!user) {
      if (bySite.has(digest)) return next(new AppError('forbidden', 'a site token cannot use /api'));
      return next(unauthenticated(res, true, 'unknown user token'));
    }
    if (!roles.includes(user.role)) return next(new AppError('forbidden', `role ${user.role} may not use this endpoint; allowed: ${roles.join(', ')}`));
    req.user = user;
    req.principal = { id: user.id, name: user.name, grants: user.grants, via: 'token' };
    next();
  };

  function sessionUser(req: Request, res: Response, next: NextFunction): void {
    const s = req.session;
    if (!s) {
      const why = req.sessionExpired ? `the session has expired (${req.sessionExpired === 'idle' ? 'inactivity' : 'maximum length'}); sign in again` : 'Authorization: Bearer <user token> or a signed-in session is required';
      return next(unauthenticated(res, false, why));
    }
    const p = principalOfSession(s);
    if (!p.grants.some((g) => roles.includes(g.role))) return next(new AppError('forbidden', `your roles may not use this endpoint; allowed: ${roles.join(', ')}`));
    const finish = () => {
      const problem = UNSAFE.has(req.method) ? csrfProblem(config, req) : null;
      if (problem) return next(new AppError('csrf-refused', problem));
      req.principal = p;
      next();
    };
    if (UNSAFE.has(req.method) && !req.get('x-csrf-token') && req.is('application/x-www-form-urlencoded')) {
      formBody(req, res, (err?: unknown) => (err ? next(err) : finish()));
      return;
    }
    finish();
  }
}
