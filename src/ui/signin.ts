/**
 * Sign-in for the workbench (README "Sign-in"): the sign-in page, the OpenID
 * Connect code flow (start, callback, re-authentication before e-signatures),
 * sign-in with a user access token, and sign-out.
 *
 * The callback answers with a small page that moves on by meta refresh rather
 * than a 303: the browser arrives from the provider's site, and a SameSite=Strict
 * cookie set on a navigation that began cross-site is not sent on a redirect of
 * that same navigation; a fresh same-origin navigation does send it.
 */
import express, { type Request, type Response, type Router } from 'express';
import { grantsFromClaim, ROLES, type Config } from '../config';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { Db } from '../store/db';
import { saveLoginState, sessionById, takeLoginState, markReauthenticated, LOGIN_STATE_TTL_MS } from '../store/sessions';
import {
  ah, cookieOptions, cookiesOf, crossOriginReason, randomToken, relyingParty, requireUser, safeEqual, sha256Hex, startSession, stopSession,
  AUTH_TIME_SKEW_MS, type RelyingParty,
} from '../http';
import { html, page } from './html';

export interface SignInDeps {
  readonly config: Config;
  readonly db: Db;
  readonly log: Logger;
}

/** Failed token sign-ins allowed per address per window (OWASP Authentication Cheat Sheet, "Login Throttling"). */
export const TOKEN_SIGNIN_MAX_FAILURES = 10;
export const TOKEN_SIGNIN_WINDOW_MS = 15 * 60_000;

/** A same-origin path under /ui, or null (OWASP Unvalidated Redirects and Forwards: never redirect to a given URL). */
export function safeReturnTo(raw: unknown): string | null {
  if (raw === undefined || raw === '') return '/ui/';
  if (typeof raw !== 'string' || raw.length > 2000 || !raw.startsWith('/') || raw.startsWith('//') || /[\\\x00-\x1f]/.test(raw)) return null;
  const u = new URL(raw, 'http://x.invalid');
  if (u.origin !== 'http://x.invalid' || !(u.pathname === '/ui' || u.pathname.startsWith('/ui/'))) return null;
  if (u.pathname.startsWith('/ui/auth/') || u.pathname.startsWith('/ui/login') || u.pathname === '/ui/logout') return '/ui/';
  return u.pathname + u.search;
}

/** Counts failures per key in fixed windows; in memory (one process answers a given browser long enough for this purpose). */
export class FailureCounter {
  private readonly seen = new Map<string, { n: number; until: number }>();
  constructor(readonly max: number, readonly windowMs: number, private readonly now: () => number = Date.now) {}
  blocked(key: string): boolean {
    const e = this.seen.get(key);
    return !!e && e.until > this.now() && e.n >= this.max;
  }
  fail(key: string): void {
    const t = this.now();
    if (this.seen.size > 10_000) for (const [k, e] of this.seen) if (e.until <= t) this.seen.delete(k);
    const e = this.seen.get(key);
    if (!e || e.until <= t) this.seen.set(key, { n: 1, until: t + this.windowMs });
    else e.n++;
  }
  clear(key: string): void {
    this.seen.delete(key);
  }
}

const secureCookies = (c: Config): boolean => c.publicUrl?.startsWith('https:') ?? false;
/** Binds an authorization request to the browser that started it (Lax: it must come back with the provider's redirect). */
const bindingCookie = (c: Config): string => (secureCookies(c) ? '__Host-tb_auth' : 'tb_auth');
/** Double-submit token of the pre-session token form (OWASP CSRF Prevention, "Login CSRF"). */
const formCookie = (c: Config): string => (secureCookies(c) ? '__Host-tb_login' : 'tb_login');
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

function problemPage(res: Response, e: AppError): void {
  const title = e.code === 'no-trial-roles' ? 'No trial roles' : e.code === 'sign-in-throttled' ? 'Too many attempts' : e.code === 'sso-unavailable' ? 'Sign-on unavailable' : 'Sign-in failed';
  const more = e.code === 'no-trial-roles'
    ? html`<p>Your account has no trial roles in trialbridge. Ask the study's data manager to grant you a role for your trial and site.</p>`
    : '';
  res.status(e.status).type('html').send(page({ title }, html`<p class="error" role="alert">${e.diagnostics ?? e.message}</p>${more}<p><a href="/ui/login">Back to sign-in</a></p>`));
}

/** A page that moves to `to` by a same-origin navigation (see the module comment). */
function continuePage(res: Response, to: string, title: string): void {
  res.status(200).type('html').send(`<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0; url=${to}">
<title>${title} · trialbridge</title><link rel="stylesheet" href="/ui/static/app.css"></head>
<body><main id="main"><h1>${title}</h1><p><a href="${to}">Continue</a></p></main></body></html>`.text}`);
}

export function signinRouter(deps: SignInDeps): Router {
  const { config, db, log } = deps;
  const r = express.Router();
  const rp: RelyingParty | null = config.oidc ? relyingParty(config.oidc, log) : null;
  const failures = new FailureCounter(TOKEN_SIGNIN_MAX_FAILURES, TOKEN_SIGNIN_WINDOW_MS);
  const users = new Map(config.users.map((u) => [u.tokenSha256, u]));
  const form = express.urlencoded({ extended: false, limit: '16kb' });
  const postLogout = config.publicUrl ? `${config.publicUrl}/ui/login` : config.oidc ? new URL('../login', config.oidc.redirectUrl).href : '/ui/login';

  /** Pages of this router render their refusals as HTML (they are only ever opened by a browser). */
  const page$ = (fn: (req: Request, res: Response) => Promise<void>) => ah(async (req, res) => {
    try {
      await fn(req, res);
    } catch (e) {
      if (e instanceof AppError) return problemPage(res, e);
      throw e;
    }
  });

  r.get('/login', (req, res) => {
    const returnTo = safeReturnTo(req.query.return_to) ?? '/ui/';
    if (req.session) return res.redirect(303, returnTo);
    const csrf = cookiesOf(req)[formCookie(config)] ?? randomToken();
    res.cookie(formCookie(config), csrf, cookieOptions(config, 'strict', LOGIN_STATE_TTL_MS * 6));
    const sso = rp
      ? html`<p><a class="button" href="/ui/auth/start?return_to=${encodeURIComponent(returnTo)}">Sign in with hospital single sign-on</a></p>
<h2>Or with an access token</h2>`
      : '';
    res.type('html').send(page({ title: 'Sign in' }, html`${sso}<form class="form" method="post" action="/ui/login/token">
<input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="return_to" value="${returnTo}">
<p><label for="token">Access token</label> <input id="token" name="token" type="password" autocomplete="off" required></p>
<p><button type="submit" class="button">Sign in with access token</button></p></form>`));
  });

  r.post('/login/token', form, page$(async (req, res) => {
    const ip = req.ip ?? 'unknown';
    if (failures.blocked(ip)) throw new AppError('sign-in-throttled', 'too many failed sign-ins from this address; wait 15 minutes and try again');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const expected = cookiesOf(req)[formCookie(config)];
    const cross = crossOriginReason(config, req);
    if (cross || !expected || typeof body._csrf !== 'string' || !safeEqual(body._csrf, expected)) {
      throw new AppError('csrf-refused', cross ?? 'the sign-in form has expired; open the sign-in page again');
    }
    const returnTo = safeReturnTo(body.return_to);
    if (!returnTo) throw new AppError('sign-in-failed', 'return_to must be a path under /ui');
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    const user = token ? users.get(sha256Hex(token)) : undefined;
    if (!user) {
      failures.fail(ip);
      log.info({ via: 'token', ip }, 'token sign-in refused');
      throw new AppError('unauthenticated', 'that access token is not valid');
    }
    failures.clear(ip);
    // A fresh id on every sign-in (OWASP Session Management, "Renew the Session ID After Any Privilege Level Change").
    await stopSession(config, db, req, res);
    await startSession(config, db, res, { id: user.id, name: user.name, grants: user.grants, via: 'token' });
    res.clearCookie(formCookie(config), cookieOptions(config));
    log.info({ user: user.id, via: 'token' }, 'signed in');
    res.redirect(303, returnTo);
  }));

  const begin = async (req: Request, res: Response, purpose: 'login' | 'reauth', sessionId: string | null): Promise<void> => {
    if (!rp) throw new AppError('not-found', 'single sign-on is not configured');
    const returnTo = safeReturnTo(req.query.return_to);
    if (!returnTo) throw new AppError('sign-in-failed', 'return_to must be a path under /ui');
    const a = await rp.authorizationRequest(purpose === 'reauth');
    const existing = cookiesOf(req)[bindingCookie(config)];
    const browser = existing && TOKEN_SHAPE.test(existing) ? existing : randomToken();
    await saveLoginState(db, { stateSha256: sha256Hex(a.state), browserSha256: sha256Hex(browser), codeVerifier: a.codeVerifier, nonce: a.nonce, returnTo, purpose, sessionId });
    res.cookie(bindingCookie(config), browser, cookieOptions(config, 'lax', LOGIN_STATE_TTL_MS));
    res.redirect(303, a.url);
  };

  r.get('/auth/start', page$(async (req, res) => begin(req, res, 'login', null)));

  r.get('/auth/reauth', page$(async (req, res) => {
    const s = req.session;
    if (!s) return res.redirect(303, `/ui/login?return_to=${encodeURIComponent(safeReturnTo(req.query.return_to) ?? '/ui/')}`);
    if (s.via !== 'oidc') throw new AppError('sign-in-failed', 'a session signed in with an access token cannot re-authenticate; sign out and sign in with single sign-on');
    await begin(req, res, 'reauth', s.id);
  }));

  r.get('/auth/callback', page$(async (req, res) => {
    if (!rp || !config.oidc) throw new AppError('not-found', 'single sign-on is not configured');
    const q = req.query;
    if (typeof q.error === 'string') throw new AppError('sign-in-failed', `the provider did not sign you in (${q.error.slice(0, 64)})`);
    if (typeof q.state !== 'string' || typeof q.code !== 'string') throw new AppError('sign-in-failed', 'the provider\'s answer lacks code or state');
    const pending = await takeLoginState(db, sha256Hex(q.state));
    if (!pending) throw new AppError('sign-in-failed', 'this sign-in is unknown, was already used or has expired; start again');
    const browser = cookiesOf(req)[bindingCookie(config)];
    if (!browser || !safeEqual(sha256Hex(browser), pending.browserSha256)) throw new AppError('sign-in-failed', 'this sign-in was started in another browser; start again');
    const got = await rp.callback(req.originalUrl, { state: q.state, nonce: pending.nonce, codeVerifier: pending.codeVerifier });
    res.clearCookie(bindingCookie(config), cookieOptions(config, 'lax'));

    if (pending.purpose === 'reauth') {
      const s = pending.sessionId ? await sessionById(db, pending.sessionId) : null;
      if (!s || s.endedAt || s.expired) throw new AppError('sign-in-failed', 'the session to re-authenticate has ended; sign in again');
      if (s.oidcSub !== got.sub) throw new AppError('sign-in-failed', 're-authentication must be by the signed-in user');
      // max_age=0 and prompt=login ask for fresh credentials; auth_time proves they were entered after this request began (OpenID Connect Core §3.1.2.1).
      if (got.authTime === null || got.authTime * 1000 < pending.createdAt.getTime() - AUTH_TIME_SKEW_MS) throw new AppError('sign-in-failed', 'the provider did not ask for your credentials again');
      await markReauthenticated(db, s.id, got.idToken);
      log.info({ user: s.userId, session: s.id }, 're-authenticated');
      return continuePage(res, pending.returnTo, 'Identity confirmed');
    }

    const grants = grantsFromClaim(got.claims[config.oidc.rolesClaim], ROLES);
    if (!grants.length) throw new AppError('no-trial-roles', 'your account has no trial roles in trialbridge');
    const nameClaim = got.claims[config.oidc.nameClaim];
    const name = typeof nameClaim === 'string' && nameClaim.trim() ? nameClaim.trim().slice(0, 200) : got.sub;
    await startSession(config, db, res, { id: got.sub, name, grants, via: 'oidc', oidcSub: got.sub, idToken: got.idToken });
    log.info({ user: got.sub, via: 'oidc', grants: grants.length }, 'signed in');
    continuePage(res, pending.returnTo, 'Signed in');
  }));

  const signedIn = requireUser(config.users, config.sites, ROLES, config);
  r.post('/logout', (req, res, next) => {
    // Nothing to end: no session, no bearer token. Sign-out is then a no-op, not an error.
    if (!req.session && !req.headers.authorization) return res.redirect(303, '/ui/login');
    signedIn(req, res, next);
  }, ah(async (req, res) => {
    const s = await stopSession(config, db, req, res);
    if (s) log.info({ user: s.userId, session: s.id }, 'signed out');
    const end = s?.via === 'oidc' && s.idToken && rp ? await rp.endSessionUrl(s.idToken, postLogout) : null;
    res.redirect(303, end ?? '/ui/login');
  }));

  return r;
}
