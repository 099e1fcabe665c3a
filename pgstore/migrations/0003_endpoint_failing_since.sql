-- Endpoint.FailingSince: when the endpoint's current run of failures began,
-- NULL while it is healthy (auto-disable reads it).
ALTER TABLE {{S}}.endpoints ADD COLUMN failing_since timestamptz;
