/**
 * A test SMART Backend Services token endpoint (SMART App Launch 2.x, "Backend
 * Services"; RFC 7523 §3 for the client assertion). It validates requests the
 * way a real authorization server must, so a connector bug (wrong aud, a
 * reused jti, a too-long exp) fails the tests instead of a hospital's server.
 * Mount `handler` on an express app with `app.post(path, handler)`.
 */
import crypto, { type KeyObject } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import { decodeJwt, jwtVerify } from 'jose';

export interface SmartClientRegistration {
  clientId: string;
  publicKey: KeyObject;
}

export interface SmartTokenServer {
  handler: RequestHandler;
  /** Whether `token` was issued here and is neither expired nor revoked. */
  isValid(token: string): boolean;
  /** Every token issued so far stops working (tests the refresh after a 401). */
  revokeAll(): void;
  /** Tokens issued so far. */
  readonly issued: number;
  /** Short reasons of each refused request, in order ("aud mismatch", "jti replayed", ...). */
  readonly rejections: string[];
}

export interface SmartTokenServerOptions {
  /** The token endpoint's own URL: the `aud` every assertion must carry. */
  tokenUrl: () => string;
  clients: SmartClientRegistration[];
  /** expires_in of issued tokens (default 300). */
  ttlSeconds?: number;
  /** Scopes this server grants (space-separated); a request for any other is invalid_scope. Default: anything asked. */
  scopes?: string;
  /** Clock in ms (default Date.now), shared with the client under test when it fakes time. */
  now?: () => number;
}

/** SMART: the assertion's exp SHALL be no more than five minutes in the future. */
const MAX_ASSERTION_LIFETIME_S = 300;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

class Refusal extends Error {
  constructor(
    readonly status: 400 | 401,
    readonly error: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** A token endpoint that checks everything SMART Backend Services and RFC 7523 require of a client_credentials request. */
export function smartTokenServer(opts: SmartTokenServerOptions): SmartTokenServer {
  const ttl = opts.ttlSeconds ?? 300;
  const now = opts.now ?? Date.now;
  const allowed = opts.scopes ? new Set(opts.scopes.split(/\s+/).filter(Boolean)) : null;
  const clients = new Map(opts.clients.map((c) => [c.clientId, c]));
  const tokens = new Map<string, number>(); // access token → expiry (ms)
  const seenJti = new Map<string, number>(); // jti → assertion exp (ms), kept while the assertion could still be replayed
  const rejections: string[] = [];
  let issued = 0;
  const urlencoded = express.urlencoded({ extended: false });

  // RFC 7523 §3: every problem with the assertion is invalid_client (401 here, as most servers do).
  const badClient = (reason: string) => new Refusal(401, 'invalid_client', reason);

  async function grant(form: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (form.grant_type !== 'client_credentials') throw new Refusal(400, 'unsupported_grant_type', 'grant_type not client_credentials');
    if (form.client_assertion_type !== JWT_BEARER) throw new Refusal(400, 'invalid_request', 'client_assertion_type not jwt-bearer');
    const assertion = form.client_assertion;
    if (typeof assertion !== 'string' || !assertion) throw new Refusal(400, 'invalid_request', 'client_assertion missing');
    const scope = typeof form.scope === 'string' ? form.scope.trim() : '';
    if (!scope) throw new Refusal(400, 'invalid_request', 'scope missing');
    if (allowed && scope.split(/\s+/).some((s) => !allowed.has(s))) throw new Refusal(400, 'invalid_scope', 'scope not allowed');

    let iss: unknown;
    try {
      iss = decodeJwt(assertion).iss;
    } catch {
      throw badClient('malformed assertion');
    }
    const client = typeof iss === 'string' ? clients.get(iss) : undefined;
    if (!client) throw badClient('unknown client');

    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, client.publicKey, {
        algorithms: ['RS384', 'ES384'],
        issuer: client.clientId,
        subject: client.clientId,
        audience: opts.tokenUrl(),
        requiredClaims: ['exp', 'jti'],
        currentDate: new Date(now()),
      }));
    } catch (e) {
      // Match jose's error codes (stable API), not its classes.
      const err = e as { code?: string; claim?: string; reason?: string };
      if (err.code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') throw badClient('bad signature');
      if (err.code === 'ERR_JOSE_ALG_NOT_ALLOWED') throw badClient('alg not allowed');
      if (err.code === 'ERR_JWT_EXPIRED') throw badClient('assertion expired');
      if (err.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') throw badClient(err.claim === 'aud' && err.reason !== 'missing' ? 'aud mismatch' : `${err.claim ?? 'claim'} ${err.reason === 'missing' ? 'missing' : 'invalid'}`);
      throw badClient('malformed assertion');
    }
    const expMs = (payload.exp as number) * 1000;
    if (expMs > now() + MAX_ASSERTION_LIFETIME_S * 1000) throw badClient('exp too far');
    const jti = payload.jti as string;
    for (const [j, until] of seenJti) if (until < now()) seenJti.delete(j);
    // SMART: the server SHALL reject an assertion whose jti it has already seen (replay).
    if (seenJti.has(jti)) throw badClient('jti replayed');
    seenJti.set(jti, expMs);

    const token = crypto.randomBytes(24).toString('base64url');
    tokens.set(token, now() + ttl * 1000);
    issued++;
    return { access_token: token, token_type: 'bearer', expires_in: ttl, scope };
  }

  const handler: RequestHandler = (req, res, next) => {
    if (req.method !== 'POST') {
      res.status(405).set('Allow', 'POST').json({ error: 'invalid_request', error_description: 'POST only' });
      return;
    }
    // RFC 6749 §4.4.2: the token request is application/x-www-form-urlencoded.
    if (!req.is('application/x-www-form-urlencoded')) {
      rejections.push('not form-encoded');
      res.status(400).json({ error: 'invalid_request', error_description: 'expected application/x-www-form-urlencoded' });
      return;
    }
    urlencoded(req, res, (err?: unknown) => {
      if (err) return next(err);
      grant((req.body ?? {}) as Record<string, unknown>).then(
        (body) => {
          // RFC 6749 §5.1: token responses must not be cached.
          res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json(body);
        },
        (e: unknown) => {
          if (!(e instanceof Refusal)) return next(e);
          rejections.push(e.reason);
          res.status(e.status).set('Cache-Control', 'no-store').json({ error: e.error, error_description: e.reason });
        },
      );
    });
  };

  return {
    handler,
    isValid: (token) => (tokens.get(token) ?? 0) > now(),
    revokeAll: () => tokens.clear(),
    get issued() {
      return issued;
    },
    rejections,
  };
}

/** The SiteRequestError a promise rejects with (fails the test if it resolves or rejects otherwise). */
export async function siteFailure(p: Promise<unknown>): Promise<import('../../src/connect/types').SiteRequestError> {
  const { SiteRequestError } = await import('../../src/connect/types');
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(SiteRequestError);
  return e as InstanceType<typeof SiteRequestError>;
}

/** Closes loopback servers a test started (keep-alive connections too, so jest sees no open handles). */
export async function closeServers(servers: import('node:http').Server[]): Promise<void> {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
}
