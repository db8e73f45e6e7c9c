-- 003: per-subject evaluation (issue #4): the latest report, visit assignments
-- and flags with their history.

-- The latest subject report as served by GET /api/subjects/{s}/report (the same
-- JSON the offline `trialbridge evaluate` prints).
CREATE TABLE subject_reports (
  trial         text NOT NULL,
  subject       text NOT NULL,
  site          text NOT NULL,
  report        jsonb NOT NULL,
  evaluated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (trial, subject, site)
);

-- Which CRF value counts for which visit, replaced at each evaluation.
CREATE TABLE visit_assignments (
  trial         text NOT NULL,
  subject       text NOT NULL,
  site          text NOT NULL,
  visit         text NOT NULL,
  item          text NOT NULL,
  crf_value_id  bigint NOT NULL REFERENCES crf_values (id),
  placement     text NOT NULL,
  PRIMARY KEY (trial, subject, site, visit, item, crf_value_id)
);

-- Flags are raised once and resolved when their cause goes away; rows are never
-- deleted, so the history of a flag (raised, resolved, raised again) stays.
CREATE TABLE flags (
  id           bigserial PRIMARY KEY,
  trial        text NOT NULL,
  subject      text NOT NULL,
  site         text NOT NULL,
  -- Identity of the cause: code plus visit and/or criterion.
  key          text NOT NULL,
  code         text NOT NULL,
  severity     text NOT NULL,
  visit        text,
  criterion    text,
  message      text NOT NULL,
  evidence     jsonb NOT NULL DEFAULT '[]',
  status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  raised_at    timestamptz NOT NULL DEFAULT now(),
  resolved_at  timestamptz
);
-- At most one open flag per cause: raising is idempotent.
CREATE UNIQUE INDEX flags_open_key ON flags (trial, subject, site, key) WHERE status = 'open';
CREATE INDEX flags_subject_idx ON flags (subject, trial, status);
