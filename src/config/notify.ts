/**
 * Configuration of flag alerts (README "Pre-screening and alerts"): the SMTP
 * relay for email, the webhooks, and the daily digest. Checked at boot with
 * every problem listed at once (design.md habit 2). Webhook secrets are read
 * from files so they never sit in the environment or in logs.
 */
import fs from 'node:fs';

/** How the SMTP connection is protected (nodemailer `secure`, `requireTLS`, `ignoreTLS`). */
export type SmtpTls = 'implicit' | 'starttls' | 'require' | 'none';

export interface SmtpConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: SmtpTls;
  readonly user: string | null;
  readonly password: string | null;
  /** PEM of the CA that signs the relay's certificate (a hospital CA); null = the system store. */
  readonly ca: string | null;
}

export interface WebhookConfig {
  readonly id: string;
  readonly url: string;
  /** HMAC-SHA256 key (read from secretFile at boot). */
  readonly secret: string;
  /** Trial keys, or ["*"]. */
  readonly trials: readonly string[];
  /** Flag codes, or ["*"]. */
  readonly codes: readonly string[];
}

export interface NotifyConfig {
  /** null = no email is sent (deliveries are not created for the email channel). */
  readonly smtp: SmtpConfig | null;
  readonly mailFrom: string | null;
  readonly webhooks: readonly WebhookConfig[];
  /** Cron pattern of the daily digest (BullMQ job scheduler) and its time zone. */
  readonly digestCron: string;
  readonly digestTimeZone: string;
  /** Attempts per delivery (BullMQ `attempts`) and the first backoff delay (exponential). */
  readonly attempts: number;
  readonly retryBaseMs: number;
}

/** Named defaults (design.md habit 8). */
export const NOTIFY_DEFAULTS = { digestCron: '0 7 * * *', digestTimeZone: 'UTC', smtpPort: 25, smtpsPort: 465, attempts: 6, retryBaseMs: 5000 } as const;

/** Shortest webhook secret accepted: 128 bits (NIST SP 800-107 §5.3.4 for HMAC keys). */
export const MIN_SECRET_BYTES = 16;

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const CODE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const TLS_MODES: readonly SmtpTls[] = ['starttls', 'require', 'none'];

/** A plain addr-spec (RFC 5322 §3.4.1) without display name, comments or whitespace. */
export function isEmailAddress(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 254 && /^[^\s@<>(),;:"[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(v.trim());
}

const isLoopback = (host: string) => host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

function readSecretFile(file: unknown, at: string, problems: string[]): string | null {
  if (typeof file !== 'string' || !file) {
    problems.push(`${at}: expected the path of a file holding the secret`);
    return null;
  }
  try {
    const s = fs.readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(s) >= MIN_SECRET_BYTES) return s;
    problems.push(`${at}: the secret in the file is shorter than ${MIN_SECRET_BYTES} bytes`);
  } catch (e) {
    problems.push(`${at}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return null;
}

function parseSmtp(env: NodeJS.ProcessEnv, problems: string[]): SmtpConfig | null {
  const raw = env.TRIALBRIDGE_SMTP_URL?.trim();
  if (!raw) return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    problems.push('TRIALBRIDGE_SMTP_URL: expected smtp://host:port or smtps://host:port');
    return null;
  }
  if ((u.protocol !== 'smtp:' && u.protocol !== 'smtps:') || !u.hostname || u.pathname.replace(/\/+$/, '') || u.search || u.password) {
    problems.push('TRIALBRIDGE_SMTP_URL: expected smtp://[user@]host:port or smtps://[user@]host:port (the password goes in TRIALBRIDGE_SMTP_PASSWORD_FILE)');
    return null;
  }
  const implicit = u.protocol === 'smtps:';
  let tls: SmtpTls = implicit ? 'implicit' : 'starttls';
  const asked = env.TRIALBRIDGE_SMTP_TLS?.trim();
  if (asked) {
    if (implicit || !TLS_MODES.includes(asked as SmtpTls)) problems.push(`TRIALBRIDGE_SMTP_TLS: expected ${TLS_MODES.join(', ')} with an smtp:// URL (smtps:// is always TLS)`);
    else tls = asked as SmtpTls;
  }
  // Alerts name trials and pre-screen ids: in clear text only to a relay on this host.
  if (tls === 'none' && !isLoopback(u.hostname)) problems.push('TRIALBRIDGE_SMTP_TLS: none is allowed only for a relay on loopback');
  let password: string | null = null;
  if (env.TRIALBRIDGE_SMTP_PASSWORD_FILE) password = readSecretFile(env.TRIALBRIDGE_SMTP_PASSWORD_FILE, 'TRIALBRIDGE_SMTP_PASSWORD_FILE', problems);
  let ca: string | null = null;
  if (env.TRIALBRIDGE_SMTP_CA_FILE) {
    try {
      ca = fs.readFileSync(env.TRIALBRIDGE_SMTP_CA_FILE, 'utf8');
    } catch (e) {
      problems.push(`TRIALBRIDGE_SMTP_CA_FILE: cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : implicit ? NOTIFY_DEFAULTS.smtpsPort : NOTIFY_DEFAULTS.smtpPort,
    tls,
    user: u.username ? decodeURIComponent(u.username) : null,
    password,
    ca,
  };
}

function idList(v: unknown, pattern: RegExp, at: string, problems: string[]): string[] {
  if (v === undefined) return ['*'];
  if (!Array.isArray(v) || !v.length || !v.every((x) => typeof x === 'string' && (x === '*' || pattern.test(x)))) {
    problems.push(`${at}: expected a non-empty array of ids or "*"`);
    return [];
  }
  return [...new Set(v as string[])];
}

function parseWebhooks(env: NodeJS.ProcessEnv, problems: string[]): WebhookConfig[] {
  const raw = env.TRIALBRIDGE_WEBHOOKS?.trim();
  if (!raw) return [];
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch (e) {
    problems.push(`TRIALBRIDGE_WEBHOOKS: not valid JSON (${(e as Error).message})`);
    return [];
  }
  if (!Array.isArray(list)) {
    problems.push('TRIALBRIDGE_WEBHOOKS: expected a JSON array');
    return [];
  }
  const seen = new Set<string>();
  return list.flatMap((w, i) => {
    const at = `TRIALBRIDGE_WEBHOOKS[${i}]`;
    const o = (w ?? {}) as Record<string, unknown>;
    const bad: string[] = [];
    for (const k of Object.keys(o)) if (!['id', 'url', 'secretFile', 'trials', 'codes'].includes(k)) bad.push(`${at}.${k}: unknown member (expected id, url, secretFile, trials, codes)`);
    if (typeof o.id !== 'string' || !ID.test(o.id)) bad.push(`${at}.id: expected 1-64 characters [A-Za-z0-9._-]`);
    else if (seen.has(o.id)) bad.push(`${at}.id: duplicate webhook id "${o.id}"`);
    else seen.add(o.id);
    let url: URL | null = null;
    try {
      url = typeof o.url === 'string' ? new URL(o.url) : null;
    } catch {
      url = null;
    }
    // HTTPS only (the body names trials and subjects); plain HTTP for a receiver on this host.
    if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname))) || url.username || url.password || url.hash)
      bad.push(`${at}.url: expected an https URL (http only on loopback), without credentials or fragment`);
    const secret = readSecretFile(o.secretFile, `${at}.secretFile`, bad);
    const trials = idList(o.trials, ID, `${at}.trials`, bad);
    const codes = idList(o.codes, CODE, `${at}.codes`, bad);
    problems.push(...bad);
    if (bad.length) return [];
    return [{ id: o.id as string, url: url!.href, secret: secret!, trials, codes }];
  });
}

/** Reads TRIALBRIDGE_SMTP_*, TRIALBRIDGE_MAIL_FROM, TRIALBRIDGE_WEBHOOKS and TRIALBRIDGE_DIGEST_*. */
export function parseNotifyConfig(env: NodeJS.ProcessEnv, problems: string[]): NotifyConfig {
  const smtp = parseSmtp(env, problems);
  const mailFrom = env.TRIALBRIDGE_MAIL_FROM?.trim() || null;
  if (mailFrom && !isEmailAddress(mailFrom)) problems.push('TRIALBRIDGE_MAIL_FROM: expected an email address');
  if (smtp && !mailFrom) problems.push('TRIALBRIDGE_MAIL_FROM: required with TRIALBRIDGE_SMTP_URL');
  const digestCron = env.TRIALBRIDGE_DIGEST_CRON?.trim() || NOTIFY_DEFAULTS.digestCron;
  if (digestCron.split(/\s+/).length < 5 || digestCron.split(/\s+/).length > 6) problems.push('TRIALBRIDGE_DIGEST_CRON: expected a cron pattern of 5 or 6 fields, e.g. "0 7 * * *"');
  const digestTimeZone = env.TRIALBRIDGE_DIGEST_TZ?.trim() || NOTIFY_DEFAULTS.digestTimeZone;
  try {
    new Intl.DateTimeFormat('en', { timeZone: digestTimeZone });
  } catch {
    problems.push('TRIALBRIDGE_DIGEST_TZ: not an IANA time zone');
  }
  const int = (name: string, dflt: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return dflt;
    const n = Number(raw);
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    problems.push(`${name}: expected an integer from ${min} to ${max}`);
    return dflt;
  };
  const attempts = int('TRIALBRIDGE_NOTIFY_ATTEMPTS', NOTIFY_DEFAULTS.attempts, 1, 20);
  const retryBaseMs = int('TRIALBRIDGE_NOTIFY_RETRY_MS', NOTIFY_DEFAULTS.retryBaseMs, 10, 3_600_000);
  return { smtp, mailFrom, webhooks: parseWebhooks(env, problems), digestCron, digestTimeZone, attempts, retryBaseMs };
}
