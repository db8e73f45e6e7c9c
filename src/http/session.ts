/**
 * Browser sessions (README "Sign-in"): the cookie, its lookup, idle and
 * absolute expiry, and what pages and e-signatures ask of a session.
 *
 * The cookie holds 32 random bytes; the database keeps only their SHA-256
 * (OWASP Session Management Cheat Sheet). It is HttpOnly (no script reads it),
 * SameSite=Strict (no other site's page sends it) and, over https, Secure with
 * the `__Host-` prefix (RFC 6265bis §4.1.3.2: no Domain, Path=/, Secure, so a
 * sibling subdomain cannot plant or overwrite it).
 */
import type { CookieOptions, NextFunction, Request, Response } from 'express';
import type { Config, Grant } from '../config';
import type { Db } from '../store/db';
import { createSession, endSession, findSession, reauthenticatedSince, touchSession, type SessionRow, type SessionVia } from '../store/sessions';
import type { Principal } from './scope';
import { cookiesOf, randomToken, sha256Hex } from './security';

/**
 * How recently a user must have re-entered credentials for an e-signature
 * (21 CFR Part 11 §11.200(a)(1)(i): signings outside one continuous session of
 * controlled access need every signature component; within it, a fresh
 * re-authentication stands for them).
 */
export const REAUTH_WINDOW_MS = 5 * 60_000;

/** Activity is written at most this often (idle expiry slides with it). */
export const TOUCH_EVERY_MS = 60_000;

declare module 'express-serve-static-core' {
  interface Request {
    /** The live session named by the request's cookie (set by the session middleware). */
    session?: SessionRow;
    /** Set when the cookie named a session that has expired (so the 401 can say so). */
    sessionExpired?: 'idle' | 'absolute';
    /** TRIALBRIDGE_PUBLIC_URL's origin, for the CSRF origin check wherever requireUser is mounted. */
    publicOrigin?: string;
  }
}

const secure = (config: Config): boolean => config.publicUrl?.startsWith('https:') ?? false;

/** `__Host-tb_session` over https, `tb_session` on plain http (the prefix requires Secure). */
export function sessionCookieName(config: Config): string {
  return secure(config) ? '__Host-tb_session' : 'tb_session';
}

/** Attributes of our cookies; `sameSite` is Strict except for the sign-in binding that must survive the provider's redirect back. */
export function cookieOptions(config: Config, sameSite: 'strict' | 'lax' = 'strict', maxAgeMs?: number): CookieOptions {
  return { httpOnly: true, sameSite, path: '/', secure: secure(config), ...(maxAgeMs !== undefined ? { maxAge: maxAgeMs } : {}) };
}

/** The CSRF token of the request's session, for pages (`page({ csrf })`); null without a session. */
export function csrfTokenOf(req: Request): string | null {
  return req.session?.csrfToken ?? null;
}

/**
 * True when `principal` is a browser session whose user re-authenticated at the
 * provider (prompt=login) within `ms`. Token principals never are.
 */
export async function reauthenticatedWithin(db: Db, principal: Principal | undefined, ms: number): Promise<boolean> {
  if (!principal || principal.via !== 'session' || !principal.sessionId) return false;
  return reauthenticatedSince(db, principal.sessionId, ms);
}

/** The principal a live session stands for. */
export function principalOfSession(s: SessionRow): Principal {
  return { id: s.userId, name: s.userName, grants: s.grants, via: 'session', sessionId: s.id };
}

/**
 * Resolves the session cookie on /ui and /api: a live session is put on
 * `req.session` and its idle expiry slides; an expired one is ended and its
 * cookie cleared. Authentication itself (and CSRF) is requireUser's.
 */
export function sessionMiddleware(config: Config, db: Db) {
  const name = sessionCookieName(config);
  // A short idle lifetime (tests) must still slide: write at least four times per idle period.
  const every = Math.min(TOUCH_EVERY_MS, Math.floor(config.session.idleMs / 4));
  const publicOrigin = config.publicUrl ? new URL(config.publicUrl).origin : undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    req.publicOrigin = publicOrigin;
    const token = cookiesOf(req)[name];
    if (!token) return next();
    (async () => {
      const s = await findSession(db, sha256Hex(token));
      if (!s) {
        res.clearCookie(name, cookieOptions(config));
        return;
      }
      if (s.expired) {
        await endSession(db, s.id, s.expired);
        req.sessionExpired = s.expired;
        res.clearCookie(name, cookieOptions(config));
        return;
      }
      req.session = s;
      if (Date.now() - s.lastSeenAt.getTime() >= every) await touchSession(db, s.id, config.session.idleMs, every);
    })().then(() => next(), next);
  };
}

/** Starts a session for a signed-in user and sets its cookie; returns the row id. */
export async function startSession(
  config: Config,
  db: Db,
  res: Response,
  u: { id: string; name: string; grants: readonly Grant[]; via: SessionVia; oidcSub?: string | null; idToken?: string | null; reauthenticated?: boolean },
): Promise<string> {
  const token = randomToken();
  const id = await createSession(db, {
    tokenSha256: sha256Hex(token), userId: u.id, userName: u.name, grants: u.grants, via: u.via, oidcSub: u.oidcSub, idToken: u.idToken,
    csrfToken: randomToken(), idleMs: config.session.idleMs, absoluteMs: config.session.absoluteMs, reauthNow: u.reauthenticated,
  });
  // No Max-Age: a browser session cookie; the server-side expiry is what counts.
  res.cookie(sessionCookieName(config), token, cookieOptions(config));
  return id;
}

/** Ends the request's session (if any) and clears its cookie. */
export async function stopSession(config: Config, db: Db, req: Request, res: Response): Promise<SessionRow | null> {
  const s = req.session ?? null;
  if (s) await endSession(db, s.id, 'logout');
  res.clearCookie(sessionCookieName(config), cookieOptions(config));
  req.session = undefined;
  return s;
}
