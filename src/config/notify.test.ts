import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseNotifyConfig, isEmailAddress } from './notify';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-notify-cfg-'));
const secretFile = path.join(dir, 's');
fs.writeFileSync(secretFile, 'a-secret-of-enough-length\n');
const shortFile = path.join(dir, 'short');
fs.writeFileSync(shortFile, 'short');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const parse = (env: NodeJS.ProcessEnv) => {
  const problems: string[] = [];
  return { cfg: parseNotifyConfig(env, problems), problems };
};

describe('parseNotifyConfig', () => {
  test('defaults: no SMTP, no webhooks, a 07:00 UTC digest, 6 attempts', () => {
    expect(parse({})).toEqual({ problems: [], cfg: { smtp: null, mailFrom: null, webhooks: [], digestCron: '0 7 * * *', digestTimeZone: 'UTC', attempts: 6, retryBaseMs: 5000 } });
  });

  test('SMTP URL forms and TLS modes', () => {
    expect(parse({ TRIALBRIDGE_SMTP_URL: 'smtps://relay.example', TRIALBRIDGE_MAIL_FROM: 'a@b.example' }).cfg.smtp).toMatchObject({ host: 'relay.example', port: 465, tls: 'implicit', user: null });
    expect(parse({ TRIALBRIDGE_SMTP_URL: 'smtp://tb@relay.example:587', TRIALBRIDGE_SMTP_TLS: 'require', TRIALBRIDGE_MAIL_FROM: 'a@b.example', TRIALBRIDGE_SMTP_PASSWORD_FILE: secretFile }).cfg.smtp)
      .toMatchObject({ port: 587, tls: 'require', user: 'tb', password: 'a-secret-of-enough-length' });
    const errors = [
      [{ TRIALBRIDGE_SMTP_URL: 'http://relay', TRIALBRIDGE_MAIL_FROM: 'a@b.example' }, /TRIALBRIDGE_SMTP_URL/],
      [{ TRIALBRIDGE_SMTP_URL: 'smtp://u:p@relay', TRIALBRIDGE_MAIL_FROM: 'a@b.example' }, /PASSWORD_FILE/],
      [{ TRIALBRIDGE_SMTP_URL: 'smtp://relay' }, /TRIALBRIDGE_MAIL_FROM: required/],
      [{ TRIALBRIDGE_SMTP_URL: 'smtp://relay.example', TRIALBRIDGE_SMTP_TLS: 'none', TRIALBRIDGE_MAIL_FROM: 'a@b.example' }, /only for a relay on loopback/],
      [{ TRIALBRIDGE_SMTP_URL: 'smtps://relay', TRIALBRIDGE_SMTP_TLS: 'none', TRIALBRIDGE_MAIL_FROM: 'a@b.example' }, /TRIALBRIDGE_SMTP_TLS/],
      [{ TRIALBRIDGE_DIGEST_TZ: 'Mars/Olympus' }, /TRIALBRIDGE_DIGEST_TZ/],
      [{ TRIALBRIDGE_NOTIFY_ATTEMPTS: '0' }, /TRIALBRIDGE_NOTIFY_ATTEMPTS/],
    ] as const;
    for (const [env, re] of errors) expect(parse(env).problems.join('\n')).toMatch(re);
    expect(parse({ TRIALBRIDGE_SMTP_URL: 'smtp://127.0.0.1:2525', TRIALBRIDGE_SMTP_TLS: 'none', TRIALBRIDGE_MAIL_FROM: 'a@b.example' }).problems).toEqual([]);
  });

  test('webhooks: https (http only on loopback), a readable secret of 16+ bytes, unique ids, every problem at once', () => {
    const ok = parse({ TRIALBRIDGE_WEBHOOKS: JSON.stringify([{ id: 'ctms', url: 'https://ctms.example/hook', secretFile, trials: ['NCT05985863'], codes: ['eligible', 'potential-candidate'] }, { id: 'local', url: 'http://127.0.0.1:9/x', secretFile }]) });
    expect(ok.problems).toEqual([]);
    expect(ok.cfg.webhooks).toEqual([
      { id: 'ctms', url: 'https://ctms.example/hook', secret: 'a-secret-of-enough-length', trials: ['NCT05985863'], codes: ['eligible', 'potential-candidate'] },
      { id: 'local', url: 'http://127.0.0.1:9/x', secret: 'a-secret-of-enough-length', trials: ['*'], codes: ['*'] },
    ]);
    const bad = parse({ TRIALBRIDGE_WEBHOOKS: JSON.stringify([
      { id: 'a', url: 'http://ctms.example/hook', secretFile },
      { id: 'a', url: 'https://x.example', secretFile: shortFile },
      { id: 'c', url: 'https://x.example', secretFile: path.join(dir, 'missing'), codes: ['Bad Code'], extra: 1 },
    ]) });
    expect(bad.cfg.webhooks).toEqual([]);
    expect(bad.problems).toEqual([
      'TRIALBRIDGE_WEBHOOKS[0].url: expected an https URL (http only on loopback), without credentials or fragment',
      'TRIALBRIDGE_WEBHOOKS[1].id: duplicate webhook id "a"',
      'TRIALBRIDGE_WEBHOOKS[1].secretFile: the secret in the file is shorter than 16 bytes',
      'TRIALBRIDGE_WEBHOOKS[2].extra: unknown member (expected id, url, secretFile, trials, codes)',
      'TRIALBRIDGE_WEBHOOKS[2].secretFile: cannot read the file (ENOENT)',
      'TRIALBRIDGE_WEBHOOKS[2].codes: expected a non-empty array of ids or "*"',
    ]);
    expect(parse({ TRIALBRIDGE_WEBHOOKS: '{' }).problems[0]).toMatch(/not valid JSON/);
  });

  test.each([
    ['ivan@hospital.example', true],
    ['a.b+c@x.y', true],
    ['Ivan <ivan@h.example>', false],
    ['no-at', false],
    ['a@b', true],
    ['a@-b.example', false],
    [42, false],
  ])('isEmailAddress(%p) = %p', (v, ok) => expect(isEmailAddress(v)).toBe(ok));
});
