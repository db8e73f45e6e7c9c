-- 002: crf_values.inbound_id is the join key when a newer version supersedes
-- older values, and the foreign key to inbound needs it for deletes (purge).
CREATE INDEX crf_values_inbound_idx ON crf_values (inbound_id);
