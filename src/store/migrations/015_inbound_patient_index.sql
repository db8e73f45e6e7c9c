-- 015: a patient's stored resources by site and patient, for evaluation and
-- pre-screening (both load one patient's latest resources of any state; the
-- partial index of 001 covers only parked rows).
CREATE INDEX inbound_patient_idx ON inbound (site, patient_id, resource_type) WHERE patient_id IS NOT NULL;
