-- Routing and replay: endpoint channels, filters and formats; message
-- channels and (for custom envelopes) event data; the indexes
-- ReplayMissing walks.
ALTER TABLE {{S}}.endpoints
    ADD COLUMN channels text[] NOT NULL DEFAULT '{}',
    ADD COLUMN filter   text NOT NULL DEFAULT '',
    ADD COLUMN format   text NOT NULL DEFAULT '';
-- MatchEndpoints narrows by tenant first; this serves "channels && $3"
-- when a tenant has many endpoints.
CREATE INDEX endpoints_channels ON {{S}}.endpoints USING gin (channels);

ALTER TABLE {{S}}.messages
    ADD COLUMN channels text[] NOT NULL DEFAULT '{}',
    ADD COLUMN data     bytea;
-- ReplayMissing pages a tenant's messages by (created_at, id).
CREATE INDEX messages_tenant_time ON {{S}}.messages (tenant, created_at, id);
-- One delivery per endpoint and message: the NOT EXISTS of ReplayMissing
-- looks it up, and InsertDeliveries relies on it to skip what exists.
CREATE UNIQUE INDEX deliveries_endpoint_message ON {{S}}.deliveries (endpoint_id, message_id);
