-- 005: enrollment as EHRs send it (a ResearchStudy resource named by
-- reference), and subjects that belong to one site.

-- The ResearchStudy resources each site sent. ResearchSubject.study and the
-- workflow-researchStudy extension name them by the EHR's own id; their
-- identifier values say which trial it is (README "Enrollment").
CREATE TABLE research_studies (
  site              text NOT NULL,
  research_study_id text NOT NULL,
  -- ResearchStudy.identifier values, in order.
  identifiers       text[] NOT NULL,
  -- The configured trial they name (trial key or the site's alias when processed); null = none.
  trial             text,
  inbound_id        bigint NOT NULL REFERENCES inbound (id),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site, research_study_id)
);

-- The ResearchStudy id an enrollment was resolved through, so that a later
-- version of that ResearchStudy (a changed identifier) re-resolves it.
ALTER TABLE enrollments ADD COLUMN study_ref text;
CREATE INDEX enrollments_study_idx ON enrollments (site, study_ref) WHERE study_ref IS NOT NULL;

-- A trial's subject number belongs to the site that first enrolled it;
-- another site naming the same (trial, subject) is refused, so one site can
-- never write into another site's subject. The primary key is what makes the
-- first claim win when two sites race.
CREATE TABLE subject_owners (
  trial      text NOT NULL,
  subject    text NOT NULL,
  site       text NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (trial, subject)
);
-- Existing enrollments: the site whose ResearchSubject arrived first owns the subject.
INSERT INTO subject_owners (trial, subject, site)
  SELECT DISTINCT ON (trial, subject) trial, subject, site FROM enrollments ORDER BY trial, subject, inbound_id;
