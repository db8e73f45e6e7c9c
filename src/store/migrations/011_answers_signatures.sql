-- 011: investigators' answers to judgement criteria, electronic signatures
-- (21 CFR Part 11 §11.50, §11.70, §11.200), and people acting on flags.

-- One row per answer an investigator gives in the workbench. Rows are never
-- changed: a new answer to the same criterion is a new row and the latest wins,
-- so the history of a decision stays readable beside the audit trail.
CREATE TABLE clinician_answers (
  id            bigserial PRIMARY KEY,
  trial         text NOT NULL,
  site          text NOT NULL,
  subject       text NOT NULL,
  criterion     text NOT NULL,
  answer        text NOT NULL CHECK (answer IN ('met', 'not-met', 'not-applicable')),
  note          text,
  user_id       text NOT NULL,
  user_role     text NOT NULL,
  printed_name  text NOT NULL,
  answered_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The latest answer per criterion of one subject (DISTINCT ON ... ORDER BY id DESC).
CREATE INDEX clinician_answers_subject_idx ON clinician_answers (trial, subject, site, criterion, id);

CREATE FUNCTION clinician_answers_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'clinician_answers rows are never changed: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER clinician_answers_no_update BEFORE UPDATE OR DELETE ON clinician_answers FOR EACH ROW EXECUTE FUNCTION clinician_answers_refuse();

-- An electronic signature: the signature manifestation of §11.50 (printed name,
-- date and time, meaning) and the link of §11.70 (the ids of the values signed
-- and a SHA-256 of their canonical JSON, so any later change is detected and the
-- signature voided rather than carried over to data nobody signed).
CREATE TABLE signatures (
  id               bigserial PRIMARY KEY,
  trial            text NOT NULL,
  site             text NOT NULL,
  subject          text NOT NULL,
  -- A visit code (W1, SCR, ...) or NULL for the subject's whole CRF.
  visit            text,
  meaning          text NOT NULL,
  signer_id        text NOT NULL,
  signer_role      text NOT NULL,
  printed_name     text NOT NULL,
  signed_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- Site-local wall time with offset, as the site reads it.
  signed_at_local  text,
  -- The browser session that re-authenticated before signing (§11.200(a)(1)).
  session_id       text,
  value_ids        bigint[] NOT NULL,
  -- What was signed: [{id, item, value, unit, status}] ordered by id, and its SHA-256.
  signed_values    jsonb NOT NULL,
  values_hash      text NOT NULL,
  voided_at        timestamptz,
  void_reason      text
);
CREATE INDEX signatures_subject_idx ON signatures (trial, subject, site, id);

-- A signature is final: only voiding it (once) may change the row, and no row is removed.
CREATE FUNCTION signatures_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'signatures are never removed' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.voided_at IS NOT NULL OR NEW.voided_at IS NULL
     OR (to_jsonb(NEW) - 'voided_at' - 'void_reason') IS DISTINCT FROM (to_jsonb(OLD) - 'voided_at' - 'void_reason') THEN
    RAISE EXCEPTION 'a signature may only be voided, once' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER signatures_guard BEFORE UPDATE OR DELETE ON signatures FOR EACH ROW EXECUTE FUNCTION signatures_guard();

-- People acting on flags: acknowledging (seen, being handled) and resolving with
-- a note. resolved_evidence_hash remembers the cause as it was when a person
-- resolved the flag: the next evaluation raises the same flag again only when
-- that evidence has changed.
ALTER TABLE flags
  ADD COLUMN acknowledged_by       text,
  ADD COLUMN acknowledged_by_name  text,
  ADD COLUMN acknowledged_at       timestamptz,
  ADD COLUMN acknowledge_note      text,
  ADD COLUMN resolved_by           text,
  ADD COLUMN resolved_by_name      text,
  ADD COLUMN resolution_note       text,
  ADD COLUMN resolved_evidence_hash text;
-- The latest row per cause (person-resolved flags are looked up at each evaluation).
CREATE INDEX flags_key_idx ON flags (trial, subject, site, key, id);
