/**
 * Sign-in end to end (README "Sign-in"): a real OpenID provider (oidc-provider
 * in a child process, its own login form), the real stack, a cookie-jar fetch.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sha256Hex } from '../../src/http';
import { reauthenticatedWithin, REAUTH_WINDOW_MS } from '../../src/http/session';
import type { Principal } from '../../src/http/scope';
import { startStack, USER_TOKENS, type TestStack } from '../helpers/stack';
import { Browser, freePort, metaRefreshTarget, startOidcProvider, submitProviderLogin, type OidcProviderHandle, type Reply } from '../helpers/oidc';

const TRIAL = 'NCT05985863';
const USERS = {
  dana: { name: 'Dana Manager', roles: [`data-manager:${TRIAL}:site-a`, 'superuser', 'monitor:a:b:c', 42 as unknown as string] },
  ines: { name: 'Ines Investigator', roles: 'investigator:*:site-b' },
  nobody: { name: 'No Roles', roles: [] },
};

let provider: OidcProviderHandle;
let stack: TestStack;
let base: string;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  provider = await startOidcProvider({ users: USERS, redirectUris: [`${base}/ui/auth/callback`], postLogoutRedirectUris: [`${base}/ui/login`] });
  stack = await startStack('signin', { ...provider.env, PORT: String(port), TRIALBRIDGE_PUBLIC_URL: base });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await provider?.stop();
});

const cookieName = 'tb_session';

/** Walks the code flow from /ui/auth/start (or a reauth URL) through the provider's login form to our callback. */
async function walkFlow(b: Browser, startUrl: string, login: string): Promise<{ start: Reply; authorize: URL; callback: Reply; chain: Reply[] }> {
  const start = await b.request(startUrl);
  expect(start.status).toBe(303);
  const authorize = new URL(start.headers.get('location')!);
  const toForm = await b.follow(start);
  const form = toForm[toForm.length - 1];
  expect(form.status).toBe(200);
  const afterLogin = await b.follow(await submitProviderLogin(b, form, login));
  const callback = afterLogin[afterLogin.length - 1];
  return { start, authorize, callback, chain: [...toForm, ...afterLogin] };
}

async function signIn(login: string, returnTo = '/ui/subjects'): Promise<{ b: Browser; callback: Reply; authorize: URL }> {
  const b = new Browser();
  const r = await walkFlow(b, `${base}/ui/auth/start?return_to=${encodeURIComponent(returnTo)}`, login);
  return { b, callback: r.callback, authorize: r.authorize };
}

async function me(b: Browser): Promise<{ status: number; body: any }> {
  const r = await b.request(`${base}/api/me`);
  return { status: r.status, body: JSON.parse(r.text) };
}

async function sessionRow(b: Browser) {
  const token = b.cookies(base).get(cookieName)!;
  const r = await stack.db.query<{ id: string; csrf_token: string; reauth_at: Date | null; ended_at: Date | null; user_id: string; user_name: string; grants: unknown }>(
    'SELECT id, csrf_token, reauth_at, ended_at, user_id, user_name, grants FROM sessions WHERE token_sha256 = $1', [sha256Hex(token)]);
  return r.rows[0];
}

const principalOf = (row: { id: string; user_id: string; user_name: string }): Principal => ({ id: row.user_id, name: row.user_name, grants: [], via: 'session', sessionId: row.id });

describe('OpenID Connect sign-in', () => {
  test('code flow with PKCE S256, state and nonce through the provider login form → a Strict HttpOnly session; /api/me shows the claim grants', async () => {
    const { b, callback, authorize } = await signIn('dana');
    expect(authorize.origin).toBe(provider.issuer);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('state')).toBeTruthy();
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${base}/ui/auth/callback`);

    expect(callback.url.startsWith(`${base}/ui/auth/callback?`)).toBe(true);
    expect(callback.status).toBe(200);
    expect(metaRefreshTarget(callback)).toBe('/ui/subjects');
    const set = callback.setCookies.find((c) => c.name === cookieName)!;
    expect(set.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(set.attrs).toMatchObject({ httponly: true, samesite: 'Strict', path: '/' });
    expect(set.attrs.secure).toBeUndefined();

    const m = await me(b);
    expect(m.status).toBe(200);
    // Unknown roles and malformed entries are ignored.
    expect(m.body).toEqual({ id: 'dana', name: 'Dana Manager', grants: [{ role: 'data-manager', trial: TRIAL, site: 'site-a' }], via: 'session' });

    // Only the digest of the cookie is stored.
    const row = await sessionRow(b);
    expect(row).toBeDefined();
    const clear = await stack.db.query("SELECT 1 FROM sessions WHERE token_sha256 = $1 OR id::text = $1", [set.value]);
    expect(clear.rows).toHaveLength(0);

    // The grants scope what the session sees: only site-a of the two configured sites.
    const sites = await b.request(`${base}/api/sites`);
    expect(sites.status).toBe(200);
    expect((JSON.parse(sites.text) as { sites: { id: string }[] }).sites.map((x) => x.id)).toEqual(['site-a']);
    // A data manager may not use an admin-only endpoint.
    const admin = await b.request(`${base}/api/unmapped-codes`);
    expect(admin.status).toBe(403);
  });

  test('roles as a space-separated string with wildcards', async () => {
    const { b } = await signIn('ines');
    expect((await me(b)).body.grants).toEqual([{ role: 'investigator', trial: '*', site: 'site-b' }]);
  });

  test('an account without trial roles is refused with a page that says so, and gets no session', async () => {
    const { b, callback } = await signIn('nobody');
    expect(callback.status).toBe(403);
    expect(callback.headers.get('content-type')).toMatch(/text\/html/);
    expect(callback.text).toContain('no trial roles');
    expect(b.cookies(base).has(cookieName)).toBe(false);
    expect((await me(b)).status).toBe(401);
  });

  test('a tampered state, a replayed callback, a callback in another browser and a wrong PKCE verifier are refused', async () => {
    // Tampered state: the provider sends it back, and we know no such request.
    const b1 = new Browser();
    const start = await b1.request(`${base}/ui/auth/start?return_to=/ui/`);
    const authorize = new URL(start.headers.get('location')!);
    authorize.searchParams.set('state', 'forged-state-value');
    const form = (await b1.follow(await b1.request(authorize.href))).pop()!;
    const cb1 = (await b1.follow(await submitProviderLogin(b1, form, 'dana'))).pop()!;
    expect(cb1.url).toContain('/ui/auth/callback');
    expect(cb1.status).toBe(400);
    expect(cb1.text).toContain('unknown, was already used or has expired');
    expect(b1.cookies(base).has(cookieName)).toBe(false);

    // Stop right before our callback, then play it in the wrong order and place.
    const stopAtCallback = async (b: Browser): Promise<string> => {
      const s = await b.request(`${base}/ui/auth/start?return_to=/ui/`);
      const f = (await b.follow(s)).pop()!;
      let r = await submitProviderLogin(b, f, 'dana');
      while (!r.headers.get('location')!.startsWith(`${base}/ui/auth/callback`)) r = await b.request(new URL(r.headers.get('location')!, r.url).href);
      return r.headers.get('location')!;
    };
    const b2 = new Browser();
    const cbUrl = await stopAtCallback(b2);
    const other = new Browser();
    const foreign = await other.request(cbUrl);
    expect(foreign.status).toBe(400);
    expect(foreign.text).toContain('another browser');
    // The state was consumed by that attempt: single use.
    const replay = await b2.request(cbUrl);
    expect(replay.status).toBe(400);
    expect(replay.text).toContain('already used');

    // PKCE: the provider checks the verifier against the challenge it saw.
    const b3 = new Browser();
    const cbUrl3 = await stopAtCallback(b3);
    const state = new URL(cbUrl3).searchParams.get('state')!;
    const changed = await stack.db.query("UPDATE login_states SET code_verifier = 'x' || substr(code_verifier, 2) WHERE state_sha256 = $1", [sha256Hex(state)]);
    expect(changed.rowCount).toBe(1);
    const cb3 = await b3.request(cbUrl3);
    expect(cb3.status).toBe(400);
    expect(cb3.text).toContain('invalid_grant');
    expect(b3.cookies(base).has(cookieName)).toBe(false);
  });

  test('return_to must be a path under /ui', async () => {
    for (const bad of ['https://evil.example/ui/', '//evil.example/ui/', '/api/me', '/ui\\..\\x']) {
      const r = await new Browser().request(`${base}/ui/auth/start?return_to=${encodeURIComponent(bad)}`);
      expect(r.status).toBe(400);
    }
  });
});

describe('CSRF on session requests', () => {
  let b: Browser;
  let csrf: string;
  beforeAll(async () => {
    b = (await signIn('dana')).b;
    csrf = (await sessionRow(b)).csrf_token;
  });

  const outcomeCode = (r: Reply) => JSON.parse(r.text).issue[0].details.coding[0].code;

  test('POST with the cookie but no token → 403 csrf-refused', async () => {
    const r = await b.request(`${base}/api/crf-values/1/accept`, { json: {} });
    expect(r.status).toBe(403);
    expect(outcomeCode(r)).toBe('csrf-refused');
  });

  test('a wrong token, a foreign Origin, Sec-Fetch-Site cross-site → 403 csrf-refused', async () => {
    for (const headers of [{ 'x-csrf-token': 'not-the-token' }, { 'x-csrf-token': csrf, origin: 'https://evil.example' }, { 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' }] as Record<string, string>[]) {
      const r = await b.request(`${base}/api/crf-values/1/accept`, { json: {}, headers });
      expect(r.status).toBe(403);
      expect(outcomeCode(r)).toBe('csrf-refused');
    }
  });

  test('the right token from our origin passes the check; bearer requests are exempt', async () => {
    const ok = await b.request(`${base}/api/crf-values/1/accept`, { json: {}, headers: { 'x-csrf-token': csrf, origin: base, 'sec-fetch-site': 'same-origin' } });
    expect(ok.status).not.toBe(403);
    const bearer = await fetch(`${base}/api/crf-values/1/accept`, { method: 'POST', headers: { authorization: `Bearer ${USER_TOKENS.dm}`, 'content-type': 'application/json', origin: 'https://evil.example' }, body: '{}' });
    expect(bearer.status).not.toBe(403);
  });

  test('the sign-out form without its _csrf field is refused and the session lives on', async () => {
    const noToken = await b.request(`${base}/ui/logout`, { form: {} });
    expect(noToken.status).toBe(403);
    expect((await me(b)).status).toBe(200);
  });
});

describe('re-authentication', () => {
  test('prompt=login at the provider sets the reauth time; a different account or a token session cannot', async () => {
    const { b } = await signIn('dana');
    const row = await sessionRow(b);
    expect(await reauthenticatedWithin(stack.db, principalOf(row), REAUTH_WINDOW_MS)).toBe(false);

    const flow = await walkFlow(b, `${base}/ui/auth/reauth?return_to=${encodeURIComponent('/ui/subjects/S-001')}`, 'dana');
    expect(flow.authorize.searchParams.get('prompt')).toBe('login');
    expect(flow.authorize.searchParams.get('max_age')).toBe('0');
    expect(flow.callback.status).toBe(200);
    expect(metaRefreshTarget(flow.callback)).toBe('/ui/subjects/S-001');
    expect(await reauthenticatedWithin(stack.db, principalOf(row), REAUTH_WINDOW_MS)).toBe(true);
    expect(await reauthenticatedWithin(stack.db, principalOf(row), 0)).toBe(false);
    // Same session, same cookie: re-authentication does not sign in anew.
    expect((await sessionRow(b)).id).toBe(row.id);
    expect(await reauthenticatedWithin(stack.db, { ...principalOf(row), via: 'token' }, REAUTH_WINDOW_MS)).toBe(false);

    // Someone else at the provider's form: refused, reauth time untouched.
    const { b: b2 } = await signIn('dana');
    const row2 = await sessionRow(b2);
    const other = await walkFlow(b2, `${base}/ui/auth/reauth?return_to=/ui/`, 'ines');
    expect(other.callback.status).toBe(400);
    expect(other.callback.text).toContain('signed-in user');
    expect(await reauthenticatedWithin(stack.db, principalOf(row2), REAUTH_WINDOW_MS)).toBe(false);

    // A token session has no provider account to confirm.
    const t = await tokenSignIn(USER_TOKENS.inv);
    const r = await t.request(`${base}/ui/auth/reauth?return_to=/ui/`);
    expect(r.status).toBe(400);
    expect(r.text).toContain('access token cannot re-authenticate');
  });
});

describe('sign-out', () => {
  test('POST /ui/logout ends the session and goes to the provider end_session_endpoint with id_token_hint', async () => {
    const { b } = await signIn('dana');
    const row = await sessionRow(b);
    const cookie = b.cookies(base).get(cookieName)!;
    const out = await b.request(`${base}/ui/logout`, { form: { _csrf: row.csrf_token } });
    expect(out.status).toBe(303);
    const end = new URL(out.headers.get('location')!);
    expect(end.origin).toBe(provider.issuer);
    expect(end.searchParams.get('id_token_hint')).toBeTruthy();
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${base}/ui/login`);
    expect(out.setCookies.find((c) => c.name === cookieName)?.attrs.expires).toBeDefined();
    const ended = await stack.db.query<{ ended_at: Date | null; end_reason: string }>('SELECT ended_at, end_reason FROM sessions WHERE id = $1', [row.id]);
    expect(ended.rows[0].ended_at).not.toBeNull();
    expect(ended.rows[0].end_reason).toBe('logout');
    // The old cookie no longer opens anything.
    const replay = await fetch(`${base}/api/me`, { headers: { cookie: `${cookieName}=${cookie}` } });
    expect(replay.status).toBe(401);

    // The provider asks to confirm, then sends the browser back to our sign-in page.
    const confirm = (await b.follow(out)).pop()!;
    const action = /<form[^>]*id="op.logoutForm"[^>]*action="([^"]+)"|<form[^>]*action="([^"]+)"[^>]*id="op.logoutForm"/.exec(confirm.text);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.text)?.[1];
    expect(action && xsrf).toBeTruthy();
    const done = await b.request(new URL((action![1] ?? action![2]).replace(/&amp;/g, '&'), confirm.url).href, { form: { xsrf: xsrf!, logout: 'yes' } });
    const back = (await b.follow(done)).map((r) => r.url);
    expect(back).toContain(`${base}/ui/login`);
  });
});

async function tokenSignIn(token: string, returnTo = '/ui/'): Promise<Browser> {
  const b = new Browser();
  const page = await b.request(`${base}/ui/login?return_to=${encodeURIComponent(returnTo)}`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
  const r = await b.request(`${base}/ui/login/token`, { form: { token, _csrf: csrf, return_to: returnTo } });
  expect(r.status).toBe(303);
  return b;
}

describe('sign-in with an access token', () => {
  test('the sign-in page offers single sign-on and the token form, accessibly', async () => {
    const r = await new Browser().request(`${base}/ui/login?return_to=/ui/flags`);
    expect(r.status).toBe(200);
    expect(r.text).toContain('<html lang="en">');
    expect(r.text.match(/<h1>/g)).toHaveLength(1);
    expect(r.text).toContain('Sign in with hospital single sign-on');
    expect(r.text).toContain('href="/ui/auth/start?return_to=%2Fui%2Fflags"');
    expect(r.text).toMatch(/<label for="token">[^<]+<\/label> <input id="token" name="token" type="password"/);
  });

  test('a user token opens a session with that user\'s grants; the form is protected by a double-submit cookie', async () => {
    const b = new Browser();
    const page = await b.request(`${base}/ui/login?return_to=/ui/flags`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
    expect(b.cookies(base).get('tb_login')).toBe(csrf);

    // Posted from another origin, or without the cookie: refused.
    const foreign = await b.request(`${base}/ui/login/token`, { form: { token: USER_TOKENS.dm, _csrf: csrf, return_to: '/ui/flags' }, headers: { origin: 'https://evil.example' } });
    expect(foreign.status).toBe(403);
    const noCookie = await new Browser().request(`${base}/ui/login/token`, { form: { token: USER_TOKENS.dm, _csrf: csrf, return_to: '/ui/flags' } });
    expect(noCookie.status).toBe(403);
    expect(noCookie.setCookies.find((c) => c.name === cookieName)).toBeUndefined();

    const ok = await b.request(`${base}/ui/login/token`, { form: { token: USER_TOKENS.dm, _csrf: csrf, return_to: '/ui/flags' } });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/ui/flags');
    expect(ok.setCookies.find((c) => c.name === cookieName)?.attrs).toMatchObject({ httponly: true, samesite: 'Strict', path: '/' });
    expect((await me(b)).body).toEqual({ id: 'dora', name: 'dora', grants: [{ role: 'data-manager', trial: '*', site: '*' }], via: 'session' });
  });

  test('a wrong token is refused and no session starts', async () => {
    const b = new Browser();
    const page = await b.request(`${base}/ui/login`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
    const r = await b.request(`${base}/ui/login/token`, { form: { token: 'not-a-token', _csrf: csrf, return_to: '/ui/' } });
    expect(r.status).toBe(401);
    expect(r.text).toContain('not valid');
    expect(b.cookies(base).has(cookieName)).toBe(false);
  });
});

describe('security headers', () => {
  const csp = () => `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self' ${provider.issuer}; base-uri 'none'; object-src 'none'`;
  test.each(['/ui/login', '/api/me', '/api/nowhere'])('%s', async (p) => {
    const r = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${USER_TOKENS.dm}` } });
    expect(r.headers.get('content-security-policy')).toBe(csp());
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('referrer-policy')).toBe('same-origin');
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    expect(r.headers.get('cache-control')).toBe('no-store');
    // http public URL: no HSTS (a unit test covers https).
    expect(r.headers.get('strict-transport-security')).toBeNull();
  });
  test('/fhir keeps its own headers', async () => {
    const r = await stack.fhir('GET', '/metadata');
    expect(r.headers.get('content-security-policy')).toBeNull();
  });
});

describe('session expiry and throttling (short lifetimes)', () => {
  let short: TestStack;
  let sbase: string;
  beforeAll(async () => {
    // Idle 3 s, absolute 7.2 s.
    short = await startStack('signin-short', { TRIALBRIDGE_SESSION_IDLE_MINUTES: '0.05', TRIALBRIDGE_SESSION_MAX_HOURS: '0.002' });
    sbase = short.url;
  }, 60_000);
  afterAll(async () => short?.stop());

  const login = async (token: string): Promise<Browser> => {
    const b = new Browser();
    const page = await b.request(`${sbase}/ui/login`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
    const r = await b.request(`${sbase}/ui/login/token`, { form: { token, _csrf: csrf, return_to: '/ui/' } });
    expect(r.status).toBe(303);
    return b;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('idle expiry slides with activity; the absolute expiry does not', async () => {
    const b = await login(USER_TOKENS.dm);
    const started = Date.now();
    // Active every 0.5 s: alive past the first idle deadline (3 s), until the absolute one (7.2 s).
    let last = 200;
    while (Date.now() - started < 6_500) {
      last = (await b.request(`${sbase}/api/me`)).status;
      expect(last).toBe(200);
      await sleep(500);
    }
    while (Date.now() - started < 7_600) await sleep(100);
    const r = await b.request(`${sbase}/api/me`);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.text).issue[0].diagnostics).toContain('maximum length');
    const row = await short.db.query<{ end_reason: string }>("SELECT end_reason FROM sessions WHERE user_id = 'dora' ORDER BY created_at DESC LIMIT 1");
    expect(row.rows[0].end_reason).toBe('absolute');
  }, 20_000);

  test('idle: no activity for longer than the idle lifetime → 401 on /api, sign-in page on /ui', async () => {
    const b = await login(USER_TOKENS.inv);
    expect((await b.request(`${sbase}/api/me`)).status).toBe(200);
    await sleep(3_400);
    const r = await b.request(`${sbase}/api/me`);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.text).issue[0].diagnostics).toContain('inactivity');
    const b2 = await login(USER_TOKENS.inv);
    await sleep(3_400);
    const ui = await b2.request(`${sbase}/ui/flags`, { headers: { accept: 'text/html' } });
    expect(ui.status).toBe(302);
    expect(ui.headers.get('location')).toBe('/ui/login?return_to=%2Fui%2Fflags');
    const reauth = await b2.request(`${sbase}/ui/auth/reauth?return_to=/ui/flags`);
    expect(reauth.status).toBe(303);
    expect(reauth.headers.get('location')).toBe('/ui/login?return_to=%2Fui%2Fflags');
  }, 20_000);

  test('failed token sign-ins are throttled per address', async () => {
    const b = new Browser();
    const page = await b.request(`${sbase}/ui/login`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
    const post = (token: string) => b.request(`${sbase}/ui/login/token`, { form: { token, _csrf: csrf, return_to: '/ui/' } });
    for (let i = 0; i < 10; i++) expect((await post(`wrong-${i}`)).status).toBe(401);
    const blocked = await post(USER_TOKENS.dm);
    expect(blocked.status).toBe(429);
    expect(b.cookies(sbase).has(cookieName)).toBe(false);
  });
});

describe('a provider that is down', () => {
  test('does not stop boot; sign-in answers 503 until it is up, then discovery is retried', async () => {
    const [appPort, idpPort] = [await freePort(), await freePort()];
    const appBase = `http://127.0.0.1:${appPort}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-oidc-down-'));
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, 'later-secret');
    const s = await startStack('signin-down', {
      PORT: String(appPort), TRIALBRIDGE_PUBLIC_URL: appBase, TRIALBRIDGE_OIDC_ISSUER: `http://127.0.0.1:${idpPort}`,
      TRIALBRIDGE_OIDC_CLIENT_ID: 'trialbridge-test', TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE: secretFile,
    });
    let idp: OidcProviderHandle | undefined;
    try {
      const down = await new Browser().request(`${appBase}/ui/auth/start?return_to=/ui/`);
      expect(down.status).toBe(503);
      expect(down.text).toContain('cannot be reached');
      // Token sign-in works meanwhile.
      expect((await new Browser().request(`${appBase}/ui/login`)).status).toBe(200);
      idp = await startOidcProvider({ users: USERS, redirectUris: [`${appBase}/ui/auth/callback`], port: idpPort, clientSecret: 'later-secret' });
      const b = new Browser();
      const flow = await walkFlow(b, `${appBase}/ui/auth/start?return_to=/ui/`, 'dana');
      expect(flow.callback.status).toBe(200);
      expect((await b.request(`${appBase}/api/me`)).status).toBe(200);
    } finally {
      await s.stop();
      await idp?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
