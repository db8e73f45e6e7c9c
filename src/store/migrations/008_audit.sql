-- 008: the audit trail (21 CFR Part 11 §11.10(e)): one append-only row per
-- human action and per automatic change to a CRF value.

-- Site time zones as configured, written at boot, so the audit row can record
-- the site-local wall time of the moment it was written.
CREATE TABLE site_time_zones (
  site       text PRIMARY KEY,
  time_zone  text NOT NULL
);

CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- Site-local wall time with its UTC offset, e.g. 2026-12-01T08:00:00+08:00 (null when the site is unknown).
  at_local    text,
  -- User id, or 'trialbridge' for automatic changes; role, or 'system'.
  actor       text NOT NULL,
  actor_role  text NOT NULL,
  actor_name  text,
  trial       text,
  site        text,
  subject     text,
  -- What changed: entity kind and id, the field, the action (insert, update, accept, correct, ...).
  entity      text NOT NULL,
  entity_id   text NOT NULL,
  action      text NOT NULL,
  field       text,
  old_value   jsonb,
  new_value   jsonb,
  reason      text,
  trace_id    text
);
CREATE INDEX audit_log_subject_idx ON audit_log (trial, subject, id);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, id);

-- The site-local ISO 8601 time of `t` for `site`, with offset.
CREATE FUNCTION audit_local_time(t timestamptz, s text) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  tz text;
  wall timestamp;
  off interval;
BEGIN
  SELECT time_zone INTO tz FROM site_time_zones WHERE site = s;
  IF tz IS NULL THEN
    RETURN NULL;
  END IF;
  wall := t AT TIME ZONE tz;
  off := wall - (t AT TIME ZONE 'UTC');
  RETURN to_char(wall, 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN off < interval '0' THEN '-' ELSE '+' END
    || to_char(abs(extract(epoch FROM off))::int / 3600, 'FM00') || ':'
    || to_char((abs(extract(epoch FROM off))::int % 3600) / 60, 'FM00');
END;
$$;

-- Append-only: the database itself refuses to change or remove a row.
CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();

-- Who is acting, set per transaction by the application with
-- set_config('trialbridge.actor', '{"id":..,"role":..,"name":..}', true) and
-- set_config('trialbridge.reason' / 'trialbridge.action' / 'trialbridge.trace', ..., true);
-- unset means the automatic pipeline.
CREATE FUNCTION audit_actor() RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  a text := current_setting('trialbridge.actor', true);
BEGIN
  IF a IS NULL OR a = '' THEN
    RETURN '{"id": "trialbridge", "role": "system", "name": "trialbridge"}'::jsonb;
  END IF;
  RETURN a::jsonb;
END;
$$;

-- Every change to a CRF value, automatic or human, writes its audit rows here, so no code path can skip them.
CREATE FUNCTION crf_values_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  who jsonb := audit_actor();
  why text := nullif(current_setting('trialbridge.reason', true), '');
  act text := nullif(current_setting('trialbridge.action', true), '');
  trace text := nullif(current_setting('trialbridge.trace', true), '');
  loc text := audit_local_time(clock_timestamp(), NEW.site);
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO audit_log (at_local, actor, actor_role, actor_name, trial, site, subject, entity, entity_id, action, field, old_value, new_value, reason, trace_id)
    VALUES (loc, who->>'id', who->>'role', who->>'name', NEW.trial, NEW.site, NEW.subject, 'crf_value', NEW.id::text, coalesce(act, 'insert'), NEW.form || '.' || NEW.item,
            NULL, jsonb_build_object('value', NEW.value, 'unit', NEW.unit, 'status', NEW.status), why, trace);
    RETURN NEW;
  END IF;
  IF NEW.value IS DISTINCT FROM OLD.value OR NEW.unit IS DISTINCT FROM OLD.unit OR NEW.status IS DISTINCT FROM OLD.status THEN
    INSERT INTO audit_log (at_local, actor, actor_role, actor_name, trial, site, subject, entity, entity_id, action, field, old_value, new_value, reason, trace_id)
    VALUES (loc, who->>'id', who->>'role', who->>'name', NEW.trial, NEW.site, NEW.subject, 'crf_value', NEW.id::text, coalesce(act, 'update'), NEW.form || '.' || NEW.item,
            jsonb_build_object('value', OLD.value, 'unit', OLD.unit, 'status', OLD.status),
            jsonb_build_object('value', NEW.value, 'unit', NEW.unit, 'status', NEW.status), why, trace);
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER crf_values_audit AFTER INSERT OR UPDATE ON crf_values FOR EACH ROW EXECUTE FUNCTION crf_values_audit();
