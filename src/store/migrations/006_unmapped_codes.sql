-- 006: Observations whose codes belong to no analyte group of any trial are
-- counted for the IT team instead of raising review items (README "Mapping
-- rules"), and a CRF value records the site's local code it came through.

-- One row per site, code and day of arrival: counts only, terminology only
-- (system, code, display, unit), never a value, a patient or a date of care.
-- Daily rows let the purge keep exactly the retention (TRIALBRIDGE_UNENROLLED_RETENTION_DAYS).
CREATE TABLE unmapped_codes (
  site         text NOT NULL,
  system       text NOT NULL,
  code         text NOT NULL,
  day          date NOT NULL,
  display      text,
  unit         text,
  count        bigint NOT NULL,
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site, system, code, day)
);
-- The purge deletes by day across sites.
CREATE INDEX unmapped_codes_day_idx ON unmapped_codes (day);

-- `system|code` of the site's local coding when the value was matched through
-- the site's code map (provenance); NULL for a LOINC coding.
ALTER TABLE crf_values ADD COLUMN local_code text;
