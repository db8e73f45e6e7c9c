/**
 * Browser-facing protections shared by /ui and /api: response headers (OWASP
 * HTTP Headers Cheat Sheet), the same-origin test behind CSRF refusal (OWASP
 * CSRF Prevention Cheat Sheet, "Verifying Origin With Standard Headers" and
 * "Fetch Metadata"), and a constant-time comparison for secrets.
 */
import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../config';

/** HSTS lifetime when we are served over https (one year, RFC 6797 §6.1.1). */
export const HSTS_MAX_AGE_S = 31_536_000;

/**
 * The Content-Security-Policy of every /ui and /api response. Only same-origin
 * script and style: pages carry no inline code, so an injected `<script>`
 * cannot run. `form-action` names the provider because sign-out ends with a
 * redirect there, which browsers check against form-action.
 */
export function contentSecurityPolicy(config: Config): string {
  const provider = config.oidc ? ` ${new URL(config.oidc.issuer).origin}` : '';
  return [
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "frame-ancestors 'none'", `form-action 'self'${provider}`, "base-uri 'none'", "object-src 'none'",
  ].join('; ');
}

/** Sets the security headers; mounted on /ui and /api. Static files under /ui/static stay cacheable. */
export function securityHeaders(config: Config) {
  const csp = contentSecurityPolicy(config);
  const https = config.publicUrl?.startsWith('https:') ?? false;
  return (req: Request, res: Response, next: NextFunction) => {
    res.set('Content-Security-Policy', csp);
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Referrer-Policy', 'same-origin');
    res.set('X-Frame-Options', 'DENY');
    // Pages and API answers hold trial data: no shared or browser cache may keep them (OWASP Session Management, "Web Content Caching").
    if (!req.path.startsWith('/static/')) res.set('Cache-Control', 'no-store');
    if (https) res.set('Strict-Transport-Security', `max-age=${HSTS_MAX_AGE_S}`);
    next();
  };
}

/** Our origin: that of TRIALBRIDGE_PUBLIC_URL, else the request's own scheme and host. */
export function ourOrigin(config: Pick<Config, 'publicUrl'>, req: Request): string {
  if (config.publicUrl) return new URL(config.publicUrl).origin;
  return `${req.protocol}://${req.get('host') ?? ''}`;
}

/**
 * Why a state-changing browser request is not same-origin, or null when it is:
 * an `Origin` header naming another origin, or `Sec-Fetch-Site: cross-site`
 * (same-site requests from a sibling subdomain are refused too: only
 * same-origin and user-initiated `none` pass).
 */
export function crossOriginReason(config: Pick<Config, 'publicUrl'>, req: Request): string | null {
  const origin = req.get('origin');
  if (origin !== undefined && origin !== ourOrigin(config, req)) return 'the request comes from another origin';
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `the browser marks the request ${site}`;
  return null;
}

/** Constant-time string equality (the length of a random token is not secret). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/** SHA-256 hex digest of a token (bearer tokens, session ids and sign-in states are kept as digests only). */
export function sha256Hex(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh random token, base64url (32 bytes = 256 bits, OWASP Session Management "Session ID Entropy"). */
export function randomToken(bytes = 32): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

/** Cookie values of the request (RFC 6265 §5.4 `name=value` pairs); no dependency on a cookie parser. */
export function cookiesOf(req: Request): Record<string, string> {
  // No prototype: a cookie named `__proto__` or `constructor` is just a name.
  const out: Record<string, string> = Object.create(null);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 1) continue;
    const name = part.slice(0, i).trim();
    if (Object.hasOwn(out, name)) continue;
    const v = part.slice(i + 1).trim();
    try {
      out[name] = decodeURIComponent(v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v);
    } catch {
      out[name] = v;
    }
  }
  return out;
}
