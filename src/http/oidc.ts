/**
 * The OpenID Connect relying party (OpenID Connect Core 1.0 §3.1, the
 * authorization code flow) with PKCE S256 (RFC 7636), `state` and `nonce`,
 * through openid-client. Discovery runs at the first sign-in, not at boot, and
 * is retried after a failure: a provider that is down stops sign-in, never
 * the server (README "Sign-in").
 */
import { generators, Issuer, type BaseClient, type IdTokenClaims, type UserinfoResponse } from 'openid-client';
import type { OidcConfig } from '../config';
import { AppError } from '../errors';
import type { Logger } from '../logger';

/** Scopes asked for: `profile` carries the name and, at providers configured for it, the roles claim. */
export const OIDC_SCOPE = 'openid profile';

/** Clock skew allowed when checking `auth_time` against the start of a re-authentication. */
export const AUTH_TIME_SKEW_MS = 5_000;

export interface AuthorizationRequest {
  readonly url: string;
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

export interface SignedIn {
  readonly sub: string;
  /** id token claims, completed from userinfo when the id token lacks the name or roles claim. */
  readonly claims: Record<string, unknown>;
  /** Seconds since the epoch, when the provider says (always after max_age). */
  readonly authTime: number | null;
  readonly idToken: string | null;
}

export interface RelyingParty {
  /** An authorization request; `reauth` forces the provider to ask for credentials again (prompt=login, max_age=0). */
  authorizationRequest(reauth: boolean): Promise<AuthorizationRequest>;
  /** Redeems the callback's code; every verification failure becomes `sign-in-failed`. */
  callback(callbackUrl: string, pending: { state: string; nonce: string; codeVerifier: string }): Promise<SignedIn>;
  /** The provider's end-session URL for RP-initiated logout, or null when it has none. */
  endSessionUrl(idToken: string, postLogoutRedirect: string): Promise<string | null>;
}

export function relyingParty(cfg: OidcConfig, log: Logger): RelyingParty {
  let pending: Promise<BaseClient> | null = null;

  const client = (): Promise<BaseClient> => {
    pending ??= Issuer.discover(cfg.issuer).then(
      (issuer) => new issuer.Client({ client_id: cfg.clientId, client_secret: cfg.clientSecret, redirect_uris: [cfg.redirectUrl], response_types: ['code'] }),
      (e: Error) => {
        // Forget the failure so the next sign-in tries again.
        pending = null;
        log.warn({ issuer: cfg.issuer, err: e.message }, 'OpenID provider discovery failed');
        throw new AppError('sso-unavailable', 'the sign-on provider cannot be reached; try again shortly');
      },
    );
    return pending;
  };

  return {
    async authorizationRequest(reauth) {
      const c = await client();
      const state = generators.state();
      const nonce = generators.nonce();
      const codeVerifier = generators.codeVerifier();
      const url = c.authorizationUrl({
        scope: OIDC_SCOPE, state, nonce, code_challenge: generators.codeChallenge(codeVerifier), code_challenge_method: 'S256',
        ...(reauth ? { prompt: 'login', max_age: 0 } : {}),
      });
      return { url, state, nonce, codeVerifier };
    },

    async callback(callbackUrl, p) {
      const c = await client();
      const params = c.callbackParams(callbackUrl);
      let tokens;
      try {
        tokens = await c.callback(cfg.redirectUrl, params, { state: p.state, nonce: p.nonce, code_verifier: p.codeVerifier, response_type: 'code' });
      } catch (e) {
        // OPError: the provider refused (e.g. invalid_grant for a wrong verifier); RPError: a check failed here. Neither text is shown (it may echo values).
        const err = e as { name?: string; error?: string };
        log.warn({ kind: err.name, error: err.error }, 'OpenID callback refused');
        throw new AppError('sign-in-failed', err.name === 'OPError' ? `the provider refused the sign-in (${err.error ?? 'error'})` : 'the provider\'s answer failed verification');
      }
      const idClaims: IdTokenClaims = tokens.claims();
      let claims: Record<string, unknown> = { ...idClaims };
      if ((claims[cfg.rolesClaim] === undefined || claims[cfg.nameClaim] === undefined) && c.issuer.metadata.userinfo_endpoint && tokens.access_token) {
        const info: UserinfoResponse = await c.userinfo(tokens).catch((e: Error) => {
          log.warn({ err: e.name }, 'OpenID userinfo failed');
          throw new AppError('sign-in-failed', 'the provider\'s userinfo could not be read');
        });
        claims = { ...info, ...claims, [cfg.rolesClaim]: claims[cfg.rolesClaim] ?? info[cfg.rolesClaim], [cfg.nameClaim]: claims[cfg.nameClaim] ?? info[cfg.nameClaim] };
      }
      return { sub: idClaims.sub, claims, authTime: typeof idClaims.auth_time === 'number' ? idClaims.auth_time : null, idToken: tokens.id_token ?? null };
    },

    async endSessionUrl(idToken, postLogoutRedirect) {
      const c = await client().catch(() => null);
      if (!c?.issuer.metadata.end_session_endpoint) return null;
      return c.endSessionUrl({ id_token_hint: idToken, post_logout_redirect_uri: postLogoutRedirect, client_id: cfg.clientId });
    },
  };
}
