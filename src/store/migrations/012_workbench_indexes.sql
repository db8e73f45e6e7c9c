-- 012: indexes for the workbench's reads.

-- The live-update poller asks every second what changed since its last look.
CREATE INDEX crf_values_updated_idx ON crf_values (updated_at);
CREATE INDEX flags_raised_idx ON flags (raised_at);
CREATE INDEX flags_resolved_idx ON flags (resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX subject_reports_evaluated_idx ON subject_reports (evaluated_at);
-- "Last data received per site" on the trial overview.
CREATE INDEX inbound_site_received_idx ON inbound (site, received_at);
-- Review backlog counts (values not yet reviewed) per subject.
CREATE INDEX crf_values_auto_idx ON crf_values (trial, site, subject) WHERE status = 'auto';
