-- 010: browser sessions and pending sign-ins (README "Sign-in").
--
-- The session id travels only in the browser's cookie; the table keeps its
-- SHA-256, so a copy of the database (backup, replica) cannot be replayed as a
-- live session (OWASP Session Management Cheat Sheet, "Session ID storage").
CREATE TABLE sessions (
  id                  uuid PRIMARY KEY,
  token_sha256        text NOT NULL UNIQUE,
  user_id             text NOT NULL,
  user_name           text NOT NULL,
  -- [{role, trial, site}] as granted at sign-in (roles claim or TRIALBRIDGE_USERS).
  grants              jsonb NOT NULL,
  via                 text NOT NULL CHECK (via IN ('oidc', 'token')),
  -- The provider's `sub`, so re-authentication can check it is the same person.
  oidc_sub            text,
  -- Kept only as id_token_hint for RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2).
  id_token            text,
  csrf_token          text NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  last_seen_at        timestamptz NOT NULL DEFAULT now(),
  idle_expires_at     timestamptz NOT NULL,
  absolute_expires_at timestamptz NOT NULL,
  -- When the user last re-entered credentials at the provider (21 CFR Part 11 §11.200(a)(1)).
  reauth_at           timestamptz,
  ended_at            timestamptz,
  end_reason          text
);
-- Listing and ending a user's sessions.
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE ended_at IS NULL;

-- One row per authorization request in flight: single use, ten minutes of life.
-- The state and the browser binding are stored as SHA-256 digests for the same
-- reason as session ids.
CREATE TABLE login_states (
  state_sha256    text PRIMARY KEY,
  browser_sha256  text NOT NULL,
  code_verifier   text NOT NULL,
  nonce           text NOT NULL,
  return_to       text NOT NULL,
  purpose         text NOT NULL CHECK (purpose IN ('login', 'reauth')),
  -- For purpose 'reauth': the session whose user must sign in again.
  session_id      uuid REFERENCES sessions (id) ON DELETE CASCADE,
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- Sweeping expired rows.
CREATE INDEX login_states_created_idx ON login_states (created_at);
