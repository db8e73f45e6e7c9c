/**
 * A real OpenID provider for tests (oidc-provider in a child process, see
 * oidc-provider.mjs), and a fetch with a cookie jar that walks its login form
 * the way a browser would.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface OidcUser {
  readonly name?: string;
  /** The `trialbridge_roles` claim: e.g. ["data-manager:NCT05985863:site-a"]. */
  readonly roles?: readonly string[] | string;
}

export interface OidcProviderHandle {
  readonly issuer: string;
  readonly clientId: string;
  /** A file holding the client secret (TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE). */
  readonly clientSecretFile: string;
  /** Env for startStack: issuer, client id, secret file. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Starts the provider; `redirectUris` must list the app's callback (e.g. `${publicUrl}/ui/auth/callback`).
 * Post-logout redirect URIs default to the sign-in page beside each callback.
 */
export async function startOidcProvider(o: { users: Record<string, OidcUser>; redirectUris: readonly string[]; postLogoutRedirectUris?: readonly string[]; port?: number; clientSecret?: string }): Promise<OidcProviderHandle> {
  const clientId = 'trialbridge-test';
  const clientSecret = o.clientSecret ?? crypto.randomBytes(24).toString('base64url');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-oidc-'));
  const clientSecretFile = path.join(dir, 'client-secret');
  fs.writeFileSync(clientSecretFile, `${clientSecret}\n`, { mode: 0o600 });
  const arg = JSON.stringify({ clientId, clientSecret, redirectUris: o.redirectUris, postLogoutRedirectUris: o.postLogoutRedirectUris ?? o.redirectUris.map((u) => u.replace(/\/ui\/auth\/callback$/, '/ui/login')), users: o.users, port: o.port });
  const child = spawn(process.execPath, [path.join(__dirname, 'oidc-provider.mjs'), arg], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const issuer = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`oidc-provider did not start: ${stderr}`)), 15_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve((JSON.parse(out.slice(0, nl)) as { issuer: string }).issuer);
      } catch (e) {
        reject(e);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`oidc-provider exited (${code}): ${stderr}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return {
    issuer, clientId, clientSecretFile, stop,
    env: { TRIALBRIDGE_OIDC_ISSUER: issuer, TRIALBRIDGE_OIDC_CLIENT_ID: clientId, TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE: clientSecretFile },
  };
}

/** A free loopback port, so the app's public URL (and so its redirect URI) is known before it starts. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export interface SetCookie {
  readonly name: string;
  readonly value: string;
  /** Attributes as sent, lower-cased names (httponly, samesite, path, secure, max-age, ...). */
  readonly attrs: Record<string, string | true>;
}

export function parseSetCookie(line: string): SetCookie {
  const [pair, ...rest] = line.split(';');
  const i = pair.indexOf('=');
  const attrs: Record<string, string | true> = {};
  for (const a of rest) {
    const j = a.indexOf('=');
    if (j < 0) attrs[a.trim().toLowerCase()] = true;
    else attrs[a.slice(0, j).trim().toLowerCase()] = a.slice(j + 1).trim();
  }
  return { name: pair.slice(0, i).trim(), value: pair.slice(i + 1).trim(), attrs };
}

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly setCookies: SetCookie[];
  readonly url: string;
}

/**
 * fetch with a cookie jar, one per simulated browser. Like a browser, cookies
 * are kept per host (not port: RFC 6265 §8.5) and ignore paths; redirects are
 * not followed (`follow` does that, step by step).
 */
export class Browser {
  readonly jar = new Map<string, Map<string, string>>();

  cookies(url: string): Map<string, string> {
    const host = new URL(url).hostname;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    return this.jar.get(host)!;
  }

  async request(url: string, init: { method?: string; headers?: Record<string, string>; form?: Record<string, string>; json?: unknown } = {}): Promise<Reply> {
    const jar = this.cookies(url);
    const headers: Record<string, string> = { ...init.headers };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    } else if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    const res = await fetch(url, { method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    const setCookies = res.headers.getSetCookie().map(parseSetCookie);
    for (const c of setCookies) {
      const gone = c.attrs['max-age'] === '0' || (typeof c.attrs.expires === 'string' && Date.parse(c.attrs.expires) <= Date.now());
      if (gone) jar.delete(c.name);
      else jar.set(c.name, c.value);
    }
    return { status: res.status, headers: res.headers, text: await res.text(), setCookies, url };
  }

  /**
   * Follows redirects (GET) from `r` until a non-redirect answer, also posting
   * the provider's self-submitting forms (what its script does in a browser,
   * e.g. ending the previous account's session when another one signs in);
   * returns every answer seen, the last one last.
   */
  async follow(r: Reply, max = 20): Promise<Reply[]> {
    const seen = [r];
    while (seen.length <= max) {
      if (r.status >= 300 && r.status < 400 && r.headers.get('location')) {
        r = await this.request(new URL(r.headers.get('location')!, r.url).href);
      } else if (r.status === 200 && /document\.forms\[0\]\.submit\(\)/.test(r.text)) {
        const action = /<form method="post" action="([^"]+)"/.exec(r.text)![1].replace(/&amp;/g, '&');
        const form: Record<string, string> = {};
        for (const m of r.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\s*\/?>/g)) form[m[1]] = m[2].replace(/&amp;/g, '&');
        r = await this.request(new URL(action, r.url).href, { form });
      } else break;
      seen.push(r);
    }
    return seen;
  }
}

/** The provider's development login form (devInteractions): fill it in and post it; returns the answer after the post. */
export async function submitProviderLogin(b: Browser, formPage: Reply, login: string): Promise<Reply> {
  const action = /<form[^>]*action="([^"]+)"/.exec(formPage.text)?.[1];
  if (!action) throw new Error(`no login form at ${formPage.url} (status ${formPage.status})`);
  return b.request(new URL(action.replace(/&amp;/g, '&'), formPage.url).href, { form: { prompt: 'login', login, password: 'any-password' } });
}

/** The URL the meta refresh of our post-sign-in page points to. */
export function metaRefreshTarget(r: Reply): string | null {
  const m = /<meta http-equiv="refresh" content="0; url=([^"]+)">/.exec(r.text);
  return m ? m[1].replace(/&amp;/g, '&') : null;
}
