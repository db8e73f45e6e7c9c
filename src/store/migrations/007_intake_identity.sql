-- 007: identity and version at the front door (README "FHIR receiver"), and
-- rejected notifications kept only as far as diagnosis needs.

-- meta.versionId as the sender gave it, kept as provenance. Our version
-- (inbound.version) is the sender's while it names one content; a second
-- content under the same meta.versionId (a corrected result re-sent without a
-- new versionId) is a new version of ours with the same sender_version.
ALTER TABLE inbound ADD COLUMN sender_version text;
-- Rows stored so far used the sender's versionId as version, or 'h' + the
-- first 16 hex digits of the content hash when it sent none.
UPDATE inbound SET sender_version = version WHERE version <> 'h' || left(content_hash, 16);

-- Conditional create (If-None-Exist: identifier=system|value) looks resources
-- up by identifier; containment (@>) on the identifier array uses this index.
CREATE INDEX inbound_identifier_idx ON inbound USING gin ((body -> 'identifier') jsonb_path_ops);

-- Observations with no natural id (POSTed without id or identifier) are
-- stored under an id derived from their content; a second one for the same
-- patient, code and time is a possible duplicate, looked up through this index.
CREATE INDEX inbound_content_id_idx ON inbound (site, patient_id)
  WHERE resource_type = 'Observation' AND resource_id = 'h' || left(content_hash, 40);

-- Rejected notifications no longer keep their body (up to 1 MiB, possibly
-- PHI): only its length, SHA-256 and the first bytes with digits masked, and
-- they are purged after the retention like applied ones.
ALTER TABLE notifications ADD COLUMN body_bytes integer;
ALTER TABLE notifications ADD COLUMN body_sha256 text;
UPDATE notifications SET body_bytes = octet_length(body), body_sha256 = encode(sha256(convert_to(body, 'UTF8')), 'hex'),
  body = regexp_replace(left(body, 200), '[0-9]', '#', 'g')
  WHERE body IS NOT NULL;
