/**
 * Bearer-token authentication. Tokens are configured as SHA-256 digests only
 * (never stored in clear). Site tokens open /fhir, user tokens open /api, and
 * neither opens the other (README "Layout").
 */
import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { ROLES, type Role, type SiteConfig, type UserConfig } from '../config';
import { AppError } from '../errors';

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

/** SHA-256 hex digest of a bearer token (tokens are configured as digests only). */
export function sha256Hex(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
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

export function requireUser(users: readonly UserConfig[], sites: readonly SiteConfig[], roles: readonly Role[] = ROLES) {
  const byUser = index(users);
  const bySite = index(sites);
  return (req: Request, res: Response, next: NextFunction) => {
    const t = bearer(req);
    if (!t) return next(unauthenticated(res, false, 'Authorization: Bearer <user token> is required'));
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
}
