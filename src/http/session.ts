/**
 * Browser sessions (README "Sign-in"): the cookie, its lookup, idle and
 * absolute expiry, and what pages and e-signatures ask of a session.
 */
import type { Request } from 'express';
import type { Db } from '../store/db';
import { reauthenticatedSince, type SessionRow } from '../store/sessions';
import type { Principal } from './scope';

/**
 * How recently a user must have re-entered credentials for an e-signature
 * (21 CFR Part 11 §11.200(a)(1)(i): signings outside one continuous session of
 * controlled access need every signature component; within it, a fresh
 * re-authentication stands for them).
 */
export const REAUTH_WINDOW_MS = 5 * 60_000;

declare module 'express-serve-static-core' {
  interface Request {
    /** The live session named by the request's cookie (set by the session middleware). */
    session?: SessionRow;
  }
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
