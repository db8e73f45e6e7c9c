-- 014: push of flags to people and EHRs (README "Pre-screening and alerts"): email,
-- webhooks and FHIR write-back, once per cause.

-- The transactional outbox: a trigger records every flag row raised and every
-- flag row resolved in the same transaction as the change, so the notifier never
-- misses one committed late and never sees one rolled back. One row per
-- (flag, event): a flag row is raised once and resolved at most once; a cause that
-- returns is a new flag row (saveFlags), hence a new cause to alert on.
CREATE TABLE notify_outbox (
  id            bigserial PRIMARY KEY,
  flag_id       bigint NOT NULL,
  event         text NOT NULL CHECK (event IN ('raised', 'resolved')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  processed_at  timestamptz,
  UNIQUE (flag_id, event)
);
-- The poller reads only what is left to fan out.
CREATE INDEX notify_outbox_pending_idx ON notify_outbox (id) WHERE processed_at IS NULL;

CREATE FUNCTION notify_outbox_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO notify_outbox (flag_id, event) VALUES (NEW.id, 'raised') ON CONFLICT DO NOTHING;
  ELSIF NEW.status = 'resolved' AND OLD.status IS DISTINCT FROM 'resolved' THEN
    INSERT INTO notify_outbox (flag_id, event) VALUES (NEW.id, 'resolved') ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END;
$$;
-- AFTER INSERT fires only for rows actually inserted: an upsert that updates an
-- open flag (the cause still there) records nothing, so an open flag never alerts twice.
CREATE TRIGGER flags_notify_insert AFTER INSERT ON flags FOR EACH ROW EXECUTE FUNCTION notify_outbox_record();
CREATE TRIGGER flags_notify_resolve AFTER UPDATE OF status ON flags FOR EACH ROW EXECUTE FUNCTION notify_outbox_record();

-- One delivery per cause, event, channel and target: the unique key makes a
-- second fan-out of the same event (a poller retried after a crash) a no-op.
-- channel email: target = user id; webhook: target = webhook id; fhir: target = site id.
CREATE TABLE notify_deliveries (
  id            bigserial PRIMARY KEY,
  flag_id       bigint NOT NULL,
  event         text NOT NULL CHECK (event IN ('raised', 'resolved')),
  channel       text NOT NULL CHECK (channel IN ('email', 'webhook', 'fhir')),
  target        text NOT NULL,
  -- email only: sent at once or gathered into the daily digest.
  mode          text NOT NULL DEFAULT 'immediate' CHECK (mode IN ('immediate', 'digest')),
  -- pending: to be queued; queued: a job exists; sent; failed: the last retry failed (an admin may resend).
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'queued', 'sent', 'failed')),
  attempts      integer NOT NULL DEFAULT 0,
  -- Incremented by a resend, so the new job id differs from the failed one.
  round         integer NOT NULL DEFAULT 0,
  -- The reason of the last failure, without PHI (a status code or a network error).
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  sent_at       timestamptz,
  UNIQUE (flag_id, event, channel, target)
);
-- The poller queues pending deliveries; admins list failed ones; the digest reads its own.
CREATE INDEX notify_deliveries_status_idx ON notify_deliveries (status, id);
CREATE INDEX notify_deliveries_digest_idx ON notify_deliveries (target, id) WHERE channel = 'email' AND mode = 'digest' AND status = 'pending';

-- What the EHR stored for a flag we wrote back: its Flag or DetectedIssue id, so
-- the resolution updates that same resource (FHIR R4 http.html#update).
CREATE TABLE notify_ehr_resources (
  flag_id       bigint PRIMARY KEY,
  site          text NOT NULL,
  resource_type text NOT NULL CHECK (resource_type IN ('Flag', 'DetectedIssue')),
  resource_id   text NOT NULL,
  version_id    text,
  status        text NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A user's choice of alerts (GET/PUT /api/me/notifications). No row = the default:
-- immediate email for eligibility and potential candidates, a daily digest for the rest.
CREATE TABLE notification_preferences (
  user_id     text PRIMARY KEY,
  -- Overrides the address configured in TRIALBRIDGE_USERS; null = that one.
  email       text,
  -- Flag codes wanted, or {'*'}; an empty array = no email at all.
  codes       text[] NOT NULL DEFAULT '{*}',
  -- default: immediate for urgent codes, digest otherwise; immediate / digest: everything that way.
  mode        text NOT NULL DEFAULT 'default' CHECK (mode IN ('default', 'immediate', 'digest')),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
