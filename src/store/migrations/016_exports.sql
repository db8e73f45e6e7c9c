-- 016: exports to the trial database (README "Send data to the trial database").
-- Every export is kept, with its file, so it can be downloaded again and shown
-- to an auditor byte for byte (21 CFR Part 11 §11.10(b): accurate and complete
-- copies of records); the transactional state says what each (trial, scope)
-- already received, so the next ODM Transactional file carries only changes.

CREATE TABLE exports (
  -- The export id is 'EXP-' || seq (also the ODM FileOID).
  seq           bigserial PRIMARY KEY,
  trial         text NOT NULL,
  format        text NOT NULL CHECK (format IN ('odm', 'odm-snapshot', 'redcap', 'lb', 'ex')),
  kind          text NOT NULL CHECK (kind IN ('snapshot', 'transactional')),
  -- The `until` of the previous transactional export of the same (trial, sites) this one continues.
  since         timestamptz,
  -- The instant the data was read (dataset asOf, ODM CreationDateTime).
  until         timestamptz NOT NULL,
  -- The exporter's scope: site ids, or {'*'} for every site of the trial.
  sites         text[] NOT NULL CHECK (cardinality(sites) > 0),
  -- The sites sorted and joined with ',': the key of the transactional state.
  sites_key     text NOT NULL,
  -- {subjects, values, inserted, updated, removed, administrations}.
  counts        jsonb NOT NULL,
  file_name     text NOT NULL,
  content_type  text NOT NULL,
  -- Size and SHA-256 (hex) of the file as delivered (uncompressed).
  bytes         bigint NOT NULL,
  sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  -- The file, gzip-compressed (RFC 1952): ODM and CSV shrink about tenfold.
  body_gzip     bytea NOT NULL,
  created_by    text NOT NULL,
  created_by_role text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The export list of a trial, newest first; the previous transactional export of a scope.
CREATE INDEX exports_trial_idx ON exports (trial, seq);
CREATE INDEX exports_transactional_idx ON exports (trial, sites_key, seq) WHERE kind = 'transactional';

-- An export is a record of what was sent: never changed, never removed.
CREATE FUNCTION exports_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'exports rows are never changed: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER exports_no_update BEFORE UPDATE OR DELETE ON exports FOR EACH ROW EXECUTE FUNCTION exports_refuse();

-- What the trial database holds after the transactional exports of one
-- (trial, sites): per value key (subject|event|repeat|form|item group repeat|item,
-- src/export/model.ts valueKey) the SHA-256 of the value as last sent, and that
-- value itself, so a later Remove can name its event, form and item group.
-- Written in the same transaction as the export row: a file is recorded as sent
-- exactly when the state moves with it.
CREATE TABLE export_sent (
  trial         text NOT NULL,
  sites_key     text NOT NULL,
  value_key     text NOT NULL,
  content_hash  text NOT NULL,
  value         jsonb NOT NULL,
  export_seq    bigint NOT NULL REFERENCES exports (seq),
  PRIMARY KEY (trial, sites_key, value_key)
);
