-- 004: connecting to site EHRs (issue #5): per-site contact state, poll
-- cursors, our Subscriptions on each site's server, notifications received,
-- and the patients whose data each site is asked for.

-- One row per site with a FHIR server; no PHI (GET /api/sites shows it).
CREATE TABLE site_state (
  site                 text PRIMARY KEY,
  last_contact_at      timestamptz,
  last_notification_at timestamptz,
  last_error           text,
  last_error_at        timestamptz,
  -- Set when the site needs a person (authentication still refused after a
  -- token refresh); cleared by the next successful contact.
  alert                text,
  -- Hash of the patient scope the site's Subscriptions were last built for.
  scope_hash           text,
  updated_at           timestamptz NOT NULL DEFAULT now()
);

-- The poll/catch-up cursor per resource type: the server's meta.lastUpdated of
-- the newest resource stored. It only moves after the page holding it is stored.
CREATE TABLE site_cursors (
  site          text NOT NULL,
  resource_type text NOT NULL,
  cursor        timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site, resource_type)
);

-- The Subscriptions we created on the site's server, and the last event
-- number seen on each (Subscriptions Backport IG: a gap means a lost notification).
CREATE TABLE site_subscriptions (
  site              text NOT NULL,
  subscription_id   text NOT NULL,
  key               text NOT NULL,
  resource_type     text NOT NULL,
  criteria          text NOT NULL,
  status            text,
  error             text,
  last_event_number bigint NOT NULL DEFAULT 0,
  last_seen_at      timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site, subscription_id)
);

-- Every notification received. Rejected ones keep their body for inspection;
-- accepted ones keep what is needed to resolve them (id-only references).
CREATE TABLE notifications (
  id              bigserial PRIMARY KEY,
  site            text NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT now(),
  -- 'backport' (a SubscriptionStatus Bundle) or 'ping' (an R4 rest-hook without payload)
  kind            text NOT NULL,
  subscription_id text,
  type            text,
  content         text,
  refs            jsonb,
  state           text NOT NULL CHECK (state IN ('received', 'processed', 'duplicate', 'rejected', 'failed')),
  problem         text,
  body            text
);
CREATE INDEX notifications_site_idx ON notifications (site, id);

-- Event numbers applied per subscription: a notification repeated many times is applied once.
CREATE TABLE notification_events (
  site            text NOT NULL,
  subscription_id text NOT NULL,
  event_number    bigint NOT NULL,
  notification_id bigint NOT NULL REFERENCES notifications (id),
  PRIMARY KEY (site, subscription_id, event_number)
);

-- Patients whose data the site is asked for (enrolled), and whether their
-- history before the cursor has been fetched since they entered the scope.
CREATE TABLE scoped_patients (
  site          text NOT NULL,
  patient_id    text NOT NULL,
  backfilled_at timestamptz,
  PRIMARY KEY (site, patient_id)
);

-- Purging resources of patients never enrolled (retention) scans parked rows by age.
CREATE INDEX inbound_unmatched_age_idx ON inbound (site, received_at) WHERE state = 'unmatched';
