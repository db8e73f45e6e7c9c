-- 001: inbound resources, patients, enrollments, CRF values, review items.

-- Every accepted resource version, stored before anything is queued (design.md
-- data flow). The unique key makes a redelivery of the same version a no-op.
CREATE TABLE inbound (
  id            bigserial PRIMARY KEY,
  site          text NOT NULL,
  resource_type text NOT NULL,
  resource_id   text NOT NULL,
  -- meta.versionId, or 'h' + content hash when the sender gives none.
  version       text NOT NULL,
  -- meta.lastUpdated, used to order versions; arrival order when absent.
  last_updated  timestamptz,
  content_hash  text NOT NULL,
  body          jsonb NOT NULL,
  -- What the sender's Bundle told us beyond the resource (e.g. the effective
  -- time of the DiagnosticReport that lists an Observation lacking its own).
  context       jsonb,
  -- 'Patient/<id>' the resource is about, resolved at ingest; used to re-map
  -- parked rows when an enrollment arrives.
  patient_id    text,
  state         text NOT NULL DEFAULT 'received'
                CHECK (state IN ('received', 'mapped', 'unmatched', 'needs_review', 'superseded', 'failed')),
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text,
  received_at   timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (site, resource_type, resource_id, version)
);
-- Listing by state (API) and the sweeper scanning 'received'.
CREATE INDEX inbound_state_idx ON inbound (state, id);
-- Finding parked rows of a patient when the ResearchSubject arrives.
CREATE INDEX inbound_unmatched_idx ON inbound (site, patient_id) WHERE state = 'unmatched';
-- Finding the other versions of one resource (supersede / stale checks).
CREATE INDEX inbound_resource_idx ON inbound (site, resource_type, resource_id);

-- Patients as the site knows them: the logical id and the identifiers, so a
-- ResearchSubject that names its individual by identifier can be resolved.
CREATE TABLE patients (
  site        text NOT NULL,
  patient_id  text NOT NULL,
  inbound_id  bigint NOT NULL REFERENCES inbound (id),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site, patient_id)
);
CREATE TABLE patient_identifiers (
  site        text NOT NULL,
  system      text NOT NULL,
  value       text NOT NULL,
  patient_id  text NOT NULL,
  PRIMARY KEY (site, system, value)
);

-- Enrollments, from ResearchSubject resources: one row per ResearchSubject.
CREATE TABLE enrollments (
  site                text NOT NULL,
  research_subject_id text NOT NULL,
  trial               text NOT NULL,
  -- The trial's subject number (ResearchSubject.identifier), else the ResearchSubject id.
  subject             text NOT NULL,
  -- Resolved 'Patient' logical id; null while the individual is named by an
  -- identifier we have not yet seen on a Patient.
  patient_id          text,
  individual_system   text,
  individual_value    text,
  arm                 text,
  status              text NOT NULL,
  period_start        text,
  inbound_id          bigint NOT NULL REFERENCES inbound (id),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site, research_subject_id)
);
CREATE INDEX enrollments_patient_idx ON enrollments (site, patient_id);
CREATE INDEX enrollments_subject_idx ON enrollments (subject);

-- CRF values with provenance. Upserts are keyed on the source resource id and
-- version plus the rule, so an at-least-once worker never duplicates a value.
CREATE TABLE crf_values (
  id              bigserial PRIMARY KEY,
  trial           text NOT NULL,
  subject         text NOT NULL,
  site            text NOT NULL,
  form            text NOT NULL,
  item            text NOT NULL,
  value           jsonb NOT NULL,
  unit            text,
  original_value  jsonb NOT NULL,
  original_unit   text,
  effective       timestamptz NOT NULL,
  source_type     text NOT NULL,
  source_id       text NOT NULL,
  source_version  text NOT NULL,
  inbound_id      bigint NOT NULL REFERENCES inbound (id),
  rule_id         text NOT NULL,
  code            text NOT NULL,
  status          text NOT NULL DEFAULT 'auto'
                  CHECK (status IN ('auto', 'superseded', 'accepted', 'corrected', 'rejected')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (trial, subject, site, source_type, source_id, source_version, rule_id)
);
CREATE INDEX crf_values_subject_idx ON crf_values (subject, trial, form, item, effective);
-- Superseding the values of older versions of one source resource.
CREATE INDEX crf_values_source_idx ON crf_values (site, source_type, source_id);

-- Permanent problems for a data manager: no rule, unit not convertible, ...
CREATE TABLE review_items (
  id          bigserial PRIMARY KEY,
  inbound_id  bigint NOT NULL REFERENCES inbound (id),
  trial       text NOT NULL DEFAULT '',
  subject     text NOT NULL DEFAULT '',
  rule_id     text NOT NULL DEFAULT '',
  reason      text NOT NULL,
  detail      text NOT NULL,
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- A redelivered job must not raise the same item twice.
  UNIQUE (inbound_id, trial, rule_id, reason)
);
CREATE INDEX review_items_open_idx ON review_items (status, reason, id);
