import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, ROLES } from '.';
import { grantsFromClaim } from './oidc';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-oidc-config-'));
const secretFile = path.join(dir, 'secret');
fs.writeFileSync(secretFile, 's3cret-value\n');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const base = { REDIS_URL: 'redis://x:1' };
const oidc = { TRIALBRIDGE_OIDC_ISSUER: 'https://sso.hospital.example/realms/h', TRIALBRIDGE_OIDC_CLIENT_ID: 'trialbridge', TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE: secretFile };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

describe('OIDC and session configuration', () => {
  test('optional: unset means token sign-in only; session defaults 30 minutes idle, 12 hours absolute', () => {
    const c = loadConfig(base);
    expect(c.oidc).toBeNull();
    expect(c.session).toEqual({ idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 });
  });

  test('defaults: claims, redirect URL from the public URL; the secret is read from its file, trimmed', () => {
    const c = loadConfig({ ...base, ...oidc, TRIALBRIDGE_PUBLIC_URL: 'https://tb.hospital.example/trials' });
    expect(c.oidc).toEqual({
      issuer: 'https://sso.hospital.example/realms/h', clientId: 'trialbridge', clientSecret: 's3cret-value',
      rolesClaim: 'trialbridge_roles', nameClaim: 'name', redirectUrl: 'https://tb.hospital.example/trials/ui/auth/callback',
    });
  });

  test('explicit claims, redirect URL and (fractional) lifetimes', () => {
    const c = loadConfig({
      ...base, ...oidc, TRIALBRIDGE_OIDC_ROLES_CLAIM: 'https://hospital.example/roles', TRIALBRIDGE_OIDC_NAME_CLAIM: 'preferred_username',
      TRIALBRIDGE_OIDC_REDIRECT_URL: 'http://127.0.0.1:9000/ui/auth/callback', TRIALBRIDGE_SESSION_IDLE_MINUTES: '0.5', TRIALBRIDGE_SESSION_MAX_HOURS: '2',
    });
    expect(c.oidc).toMatchObject({ rolesClaim: 'https://hospital.example/roles', nameClaim: 'preferred_username', redirectUrl: 'http://127.0.0.1:9000/ui/auth/callback' });
    expect(c.session).toEqual({ idleMs: 30_000, absoluteMs: 7_200_000 });
  });

  test('http issuers only on loopback', () => {
    expect(loadConfig({ ...base, ...oidc, TRIALBRIDGE_OIDC_ISSUER: 'http://127.0.0.1:4000', TRIALBRIDGE_PUBLIC_URL: 'http://127.0.0.1:8080' }).oidc?.issuer).toBe('http://127.0.0.1:4000');
    expect(problems({ ...oidc, TRIALBRIDGE_OIDC_ISSUER: 'http://sso.hospital.example', TRIALBRIDGE_PUBLIC_URL: 'https://tb.example' }).join('\n')).toMatch(/TRIALBRIDGE_OIDC_ISSUER: expected an https URL/);
  });

  test('every bad value is named at once, and the secret never appears in a message', () => {
    const p = problems({
      TRIALBRIDGE_OIDC_ISSUER: 'ftp://x', TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE: path.join(dir, 'missing'), TRIALBRIDGE_OIDC_ROLES_CLAIM: 'has space',
      TRIALBRIDGE_SESSION_IDLE_MINUTES: 'soon', TRIALBRIDGE_SESSION_MAX_HOURS: '0',
    }).join('\n');
    for (const name of ['TRIALBRIDGE_OIDC_ISSUER', 'TRIALBRIDGE_OIDC_CLIENT_ID', 'TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE: cannot read', 'TRIALBRIDGE_OIDC_ROLES_CLAIM', 'TRIALBRIDGE_OIDC_REDIRECT_URL', 'TRIALBRIDGE_SESSION_IDLE_MINUTES', 'TRIALBRIDGE_SESSION_MAX_HOURS']) {
      expect(p).toContain(name);
    }
    const withSecret = problems({ ...oidc, TRIALBRIDGE_OIDC_CLIENT_ID: '' }).join('\n');
    expect(withSecret).toContain('TRIALBRIDGE_OIDC_CLIENT_ID');
    expect(withSecret).not.toContain('s3cret');
  });

  test('an empty secret file and OIDC settings without an issuer are refused', () => {
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '\n');
    expect(problems({ ...oidc, TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE: empty, TRIALBRIDGE_PUBLIC_URL: 'https://tb.example' }).join('\n')).toMatch(/is empty/);
    expect(problems({ TRIALBRIDGE_OIDC_CLIENT_ID: 'x' }).join('\n')).toMatch(/TRIALBRIDGE_OIDC_ISSUER: required when TRIALBRIDGE_OIDC_CLIENT_ID is set/);
  });
});

describe('grantsFromClaim', () => {
  test.each([
    [['data-manager:NCT05985863:site-a', 'investigator:*:site-b'], [{ role: 'data-manager', trial: 'NCT05985863', site: 'site-a' }, { role: 'investigator', trial: '*', site: 'site-b' }]],
    ['monitor admin:T1', [{ role: 'monitor', trial: '*', site: '*' }, { role: 'admin', trial: 'T1', site: '*' }]],
    [['superuser', 'admin:a:b:c', 'admin:bad id', '', 7, null, 'monitor'], [{ role: 'monitor', trial: '*', site: '*' }]],
    [['monitor', 'monitor:*:*'], [{ role: 'monitor', trial: '*', site: '*' }]],
    [undefined, []],
    [{ role: 'admin' }, []],
  ])('%j', (claim, grants) => {
    expect(grantsFromClaim(claim, ROLES)).toEqual(grants);
  });
});
