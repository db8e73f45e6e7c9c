-- 017: who is in a connected site's pre-screen scope (README "Pre-screening and
-- alerts"): the members of its Group, or the patients with an encounter at its
-- location or service, as the last pre-screen sync read them from the EHR.
-- Pushed labs of other patients are not pre-screened (minimum necessary), and
-- until the scope has been read once nobody is.
CREATE TABLE prescreen_scope_reads (
  site     text PRIMARY KEY,
  kind     text NOT NULL,
  patients integer NOT NULL,
  read_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE prescreen_scope (
  site        text NOT NULL,
  patient_id  text NOT NULL,
  PRIMARY KEY (site, patient_id)
);
