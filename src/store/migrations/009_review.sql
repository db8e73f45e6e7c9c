-- 009: CRF value review and review item resolution (README "Review API").
-- A person's decision is recorded on the row (who, when, why) and, by the
-- trigger of 008, in the audit trail (21 CFR Part 11 §11.10(e)).

-- What the pipeline had computed before a person corrected the value
-- (original_value/original_unit stay what the source said), and the review.
ALTER TABLE crf_values
  ADD COLUMN reviewed_by   text,
  ADD COLUMN reviewed_at   timestamptz,
  ADD COLUMN review_reason text,
  ADD COLUMN review_note   text,
  ADD COLUMN auto_value    jsonb,
  ADD COLUMN auto_unit     text,
  -- A value of a newer source version whose older value a person reviewed:
  -- it waits for a person (and counts in no evaluation) while status is 'auto'.
  ADD COLUMN rereview_of   bigint REFERENCES crf_values (id);
-- Finding the values that wait for re-review of a reviewed one.
CREATE INDEX crf_values_rereview_idx ON crf_values (rereview_of) WHERE rereview_of IS NOT NULL;

ALTER TABLE review_items
  ADD COLUMN resolved_by        text,
  ADD COLUMN resolved_at        timestamptz,
  ADD COLUMN resolution_reason  text,
  ADD COLUMN resolution_note    text,
  -- The CRF value a person entered to resolve the item.
  ADD COLUMN crf_value_id       bigint REFERENCES crf_values (id);
-- Review items listed per subject (the workbench's subject page).
CREATE INDEX review_items_subject_idx ON review_items (trial, subject, id);
