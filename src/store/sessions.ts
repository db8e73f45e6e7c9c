/**
 * Browser sessions and pending sign-ins (migration 010, README "Sign-in").
 *
 * Callers pass SHA-256 hex digests of the session cookie and of the OIDC
 * `state`; the clear values never reach the database. Times come from the
 * database clock (`now()`), so every process agrees on expiry.
 */
import crypto from 'node:crypto';
import type { Grant } from '../config';
import type { Db } from './db';

export type SessionVia = 'oidc' | 'token';

export interface SessionRow {
  readonly id: string;
  readonly userId: string;
  readonly userName: string;
  readonly grants: readonly Grant[];
  readonly via: SessionVia;
  readonly oidcSub: string | null;
  readonly idToken: string | null;
  readonly csrfToken: string;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  readonly idleExpiresAt: Date;
  readonly absoluteExpiresAt: Date;
  readonly reauthAt: Date | null;
  readonly endedAt: Date | null;
  /** Computed at read time from the database clock. */
  readonly expired: 'idle' | 'absolute' | null;
}

export interface NewSession {
  readonly tokenSha256: string;
  readonly userId: string;
  readonly userName: string;
  readonly grants: readonly Grant[];
  readonly via: SessionVia;
  readonly oidcSub?: string | null;
  readonly idToken?: string | null;
  readonly csrfToken: string;
  readonly idleMs: number;
  readonly absoluteMs: number;
  /** Re-authentication time to start with (a fresh sign-in with prompt=login counts). */
  readonly reauthNow?: boolean;
}

type Raw = {
  id: string; user_id: string; user_name: string; grants: Grant[]; via: SessionVia; oidc_sub: string | null; id_token: string | null;
  csrf_token: string; created_at: Date; last_seen_at: Date; idle_expires_at: Date; absolute_expires_at: Date; reauth_at: Date | null;
  ended_at: Date | null; expired: 'idle' | 'absolute' | null;
};

const COLUMNS = `id, user_id, user_name, grants, via, oidc_sub, id_token, csrf_token, created_at, last_seen_at, idle_expires_at,
  absolute_expires_at, reauth_at, ended_at,
  CASE WHEN now() >= absolute_expires_at THEN 'absolute' WHEN now() >= idle_expires_at THEN 'idle' END AS expired`;

function fromRaw(r: Raw): SessionRow {
  return {
    id: r.id, userId: r.user_id, userName: r.user_name, grants: r.grants, via: r.via, oidcSub: r.oidc_sub, idToken: r.id_token,
    csrfToken: r.csrf_token, createdAt: new Date(r.created_at), lastSeenAt: new Date(r.last_seen_at), idleExpiresAt: new Date(r.idle_expires_at),
    absoluteExpiresAt: new Date(r.absolute_expires_at), reauthAt: r.reauth_at ? new Date(r.reauth_at) : null, endedAt: r.ended_at ? new Date(r.ended_at) : null,
    expired: r.expired,
  };
}

/** Stores a new session; returns its row id. */
export async function createSession(db: Db, s: NewSession): Promise<string> {
  const id = crypto.randomUUID();
  await db.query(
    `INSERT INTO sessions (id, token_sha256, user_id, user_name, grants, via, oidc_sub, id_token, csrf_token,
       idle_expires_at, absolute_expires_at, reauth_at)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9,
       now() + make_interval(secs => least($10, $11)::float8 / 1000), now() + make_interval(secs => $11::float8 / 1000),
       CASE WHEN $12 THEN now() END)`,
    [id, s.tokenSha256, s.userId, s.userName, JSON.stringify(s.grants), s.via, s.oidcSub ?? null, s.idToken ?? null, s.csrfToken,
      s.idleMs, s.absoluteMs, Boolean(s.reauthNow)],
  );
  return id;
}

/** The session a cookie digest names, unless ended (expired ones are returned with `expired` set, so callers can say why). */
export async function findSession(db: Db, tokenSha256: string): Promise<SessionRow | null> {
  const r = await db.query<Raw>(`SELECT ${COLUMNS} FROM sessions WHERE token_sha256 = $1 AND ended_at IS NULL`, [tokenSha256]);
  return r.rows[0] ? fromRaw(r.rows[0]) : null;
}

/** By row id (re-authentication checks, tests). */
export async function sessionById(db: Db, id: string): Promise<SessionRow | null> {
  const r = await db.query<Raw>(`SELECT ${COLUMNS} FROM sessions WHERE id = $1`, [id]);
  return r.rows[0] ? fromRaw(r.rows[0]) : null;
}

/**
 * Slides the idle expiry: records activity and moves `idle_expires_at` to
 * now + idle, never past the absolute expiry. Written only when the last write
 * is older than `everyMs`, so a busy page does not write on every request.
 */
export async function touchSession(db: Db, id: string, idleMs: number, everyMs: number): Promise<void> {
  await db.query(
    `UPDATE sessions SET last_seen_at = now(), idle_expires_at = least(now() + make_interval(secs => $2::float8 / 1000), absolute_expires_at)
      WHERE id = $1 AND ended_at IS NULL AND last_seen_at <= now() - make_interval(secs => $3::float8 / 1000)`,
    [id, idleMs, everyMs],
  );
}

/** Ends a session (logout, expiry seen, replaced). Idempotent. */
export async function endSession(db: Db, id: string, reason: 'logout' | 'idle' | 'absolute' | 'reauth-mismatch'): Promise<void> {
  await db.query('UPDATE sessions SET ended_at = now(), end_reason = $2 WHERE id = $1 AND ended_at IS NULL', [id, reason]);
}

/** Records that the session's user re-entered credentials at the provider just now. */
export async function markReauthenticated(db: Db, id: string, idToken: string | null): Promise<void> {
  await db.query('UPDATE sessions SET reauth_at = now(), id_token = coalesce($2, id_token) WHERE id = $1 AND ended_at IS NULL', [id, idToken]);
}

/** True when the live, unexpired session `id` re-authenticated within the last `ms`. */
export async function reauthenticatedSince(db: Db, id: string, ms: number): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>(
    `SELECT (reauth_at IS NOT NULL AND reauth_at >= now() - make_interval(secs => $2::float8 / 1000)) AS ok
       FROM sessions WHERE id = $1 AND ended_at IS NULL AND now() < idle_expires_at AND now() < absolute_expires_at`,
    [id, ms],
  );
  return Boolean(r.rows[0]?.ok);
}

/** A pending authorization request (OpenID Connect Core §3.1.2.1, RFC 7636). */
export interface LoginState {
  readonly stateSha256: string;
  /** Digest of the random value in the browser's sign-in cookie: the callback must come from the browser that started. */
  readonly browserSha256: string;
  readonly codeVerifier: string;
  readonly nonce: string;
  readonly returnTo: string;
  readonly purpose: 'login' | 'reauth';
  readonly sessionId: string | null;
}

/** How long an authorization request may stay pending. */
export const LOGIN_STATE_TTL_MS = 10 * 60_000;

export async function saveLoginState(db: Db, s: LoginState): Promise<void> {
  // Expired rows are swept here, on the path that creates them, so the table stays small without a timer.
  await db.query('DELETE FROM login_states WHERE created_at < now() - make_interval(secs => $1::float8 / 1000)', [LOGIN_STATE_TTL_MS]);
  await db.query(
    `INSERT INTO login_states (state_sha256, browser_sha256, code_verifier, nonce, return_to, purpose, session_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [s.stateSha256, s.browserSha256, s.codeVerifier, s.nonce, s.returnTo, s.purpose, s.sessionId],
  );
}

/** Removes and returns the pending request for a state digest (single use), or null when unknown or older than its life. */
export async function takeLoginState(db: Db, stateSha256: string): Promise<(LoginState & { createdAt: Date }) | null> {
  const r = await db.query<{ state_sha256: string; browser_sha256: string; code_verifier: string; nonce: string; return_to: string; purpose: 'login' | 'reauth'; session_id: string | null; created_at: Date; fresh: boolean }>(
    `DELETE FROM login_states WHERE state_sha256 = $1
     RETURNING state_sha256, browser_sha256, code_verifier, nonce, return_to, purpose, session_id, created_at,
       created_at >= now() - make_interval(secs => $2::float8 / 1000) AS fresh`,
    [stateSha256, LOGIN_STATE_TTL_MS],
  );
  const x = r.rows[0];
  if (!x || !x.fresh) return null;
  return { stateSha256: x.state_sha256, browserSha256: x.browser_sha256, codeVerifier: x.code_verifier, nonce: x.nonce, returnTo: x.return_to, purpose: x.purpose, sessionId: x.session_id, createdAt: new Date(x.created_at) };
}
