-- Endpoint.SigningKey: an ed25519 key for "v1a" signatures, empty when off.
ALTER TABLE {{S}}.endpoints ADD COLUMN signing_key text NOT NULL DEFAULT '';
