-- 013: pre-screening of patients who are not enrolled (README "Pre-screening and alerts").
-- A potential candidate is a patient whose routine labs meet every lab-computable
-- criterion of a trial; its data are kept (minimum necessary) only while it is
-- potential, then for a retention after it is dismissed, withdrawn or moves to
-- screening, and purged with the patient's parked data (store/purge.ts).

CREATE TABLE prescreen_candidates (
  -- 'PS-' + 10 random base32 characters: never derived from the MRN or patient id,
  -- so the id can travel in flags, alerts and URLs without identifying anybody.
  id                  text PRIMARY KEY CHECK (id ~ '^PS-[A-Z2-7]{10}$'),
  trial               text NOT NULL,
  site                text NOT NULL,
  patient_id          text NOT NULL,
  status              text NOT NULL CHECK (status IN ('potential', 'withdrawn', 'dismissed', 'screening')),
  -- Qualifying values with dates and their source references (inbound ids, Observation/<id>).
  evidence            jsonb NOT NULL DEFAULT '[]',
  -- Judgement criteria the investigator must check: [{id, type, text}].
  to_check            jsonb NOT NULL DEFAULT '[]',
  -- Why it was withdrawn (the computable criterion that no longer holds) or dismissed.
  reason              text,
  note                text,
  age_years           integer,
  first_qualified_at  timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  dismissed_by        text,
  dismissed_by_name   text,
  dismissed_at        timestamptz,
  screening_subject   text,
  screening_by        text,
  screening_at        timestamptz,
  -- Days the row and the patient's parked data are kept once it is no longer potential
  -- (the site's prescreen.retentionDays when it was written).
  retain_days         integer NOT NULL DEFAULT 30 CHECK (retain_days >= 0)
);
-- One candidate per patient and trial at a site: a second qualifying lab updates it.
CREATE UNIQUE INDEX prescreen_candidates_patient_key ON prescreen_candidates (trial, site, patient_id);
-- The potential-candidates list per trial and site.
CREATE INDEX prescreen_candidates_list_idx ON prescreen_candidates (trial, site, status, first_qualified_at);
-- The purge looks candidates up by patient.
CREATE INDEX prescreen_candidates_patient_idx ON prescreen_candidates (site, patient_id);

-- Every view of a potential candidate (list or single): who, when, which candidate,
-- for the site's privacy officer (HIPAA 45 CFR 164.312(b) audit controls). Ids only.
CREATE TABLE prescreen_access_log (
  id            bigserial PRIMARY KEY,
  candidate_id  text NOT NULL,
  trial         text NOT NULL,
  site          text NOT NULL,
  user_id       text NOT NULL,
  user_role     text NOT NULL,
  -- list | view | dismiss | start-screening
  access        text NOT NULL,
  trace_id      text,
  at            timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX prescreen_access_log_candidate_idx ON prescreen_access_log (candidate_id, id);

-- The access log is append-only, like the audit trail (migration 008).
CREATE FUNCTION prescreen_access_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'prescreen_access_log rows are never changed: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER prescreen_access_log_no_update BEFORE UPDATE OR DELETE ON prescreen_access_log FOR EACH ROW EXECUTE FUNCTION prescreen_access_log_refuse();
