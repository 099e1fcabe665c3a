-- hookline schema, version 1. {{S}} is replaced by the quoted schema name.

CREATE TABLE {{S}}.endpoints (
    id                         text PRIMARY KEY,
    tenant                     text NOT NULL,
    url                        text NOT NULL,
    description                text NOT NULL DEFAULT '',
    event_types                text[] NOT NULL DEFAULT '{}',
    disabled                   boolean NOT NULL DEFAULT false,
    disabled_reason            text NOT NULL DEFAULT '',
    secret                     text NOT NULL,
    previous_secret            text NOT NULL DEFAULT '',
    previous_secret_expires_at timestamptz,
    headers                    jsonb,
    rate_limit                 double precision NOT NULL DEFAULT 0,
    metadata                   jsonb,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL
);
CREATE INDEX endpoints_tenant ON {{S}}.endpoints (tenant, id);

-- A message's payload is stored once, whatever its fan-out.
CREATE TABLE {{S}}.messages (
    id         text PRIMARY KEY,
    tenant     text NOT NULL,
    event_type text NOT NULL,
    payload    bytea NOT NULL,
    metadata   jsonb,
    -- fanout is how many deliveries the message was stored with; messages
    -- with none are found for retention by the partial index below.
    fanout     integer NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX messages_lone ON {{S}}.messages (created_at) WHERE fanout = 0;

CREATE TABLE {{S}}.deliveries (
    id               text PRIMARY KEY,
    message_id       text NOT NULL REFERENCES {{S}}.messages (id),
    endpoint_id      text NOT NULL REFERENCES {{S}}.endpoints (id) ON DELETE CASCADE,
    tenant           text NOT NULL,
    event_type       text NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    -- claim_at is when Claim may take the delivery: its next attempt time,
    -- or its lease's expiry while leased. NULL once finished.
    claim_at         timestamptz,
    lease_token      text,
    lease_owner      text,
    lease_expires_at timestamptz,
    last_attempt_at  timestamptz,
    last_status_code integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
-- Claiming walks this index only: finished deliveries are not in it.
CREATE INDEX deliveries_claim ON {{S}}.deliveries (claim_at) WHERE state = 'pending';
-- Retention walks this one: pending deliveries are not in it.
CREATE INDEX deliveries_finished ON {{S}}.deliveries (updated_at) WHERE state <> 'pending';
CREATE INDEX deliveries_message ON {{S}}.deliveries (message_id);
CREATE INDEX deliveries_endpoint ON {{S}}.deliveries (endpoint_id, id);
CREATE INDEX deliveries_tenant ON {{S}}.deliveries (tenant, id);

CREATE TABLE {{S}}.attempts (
    id               text PRIMARY KEY,
    delivery_id      text NOT NULL REFERENCES {{S}}.deliveries (id) ON DELETE CASCADE,
    message_id       text NOT NULL,
    endpoint_id      text NOT NULL,
    tenant           text NOT NULL,
    number           integer NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_ns      bigint NOT NULL,
    status_code      integer NOT NULL,
    error            text NOT NULL DEFAULT '',
    response         text NOT NULL DEFAULT '',
    request_headers  jsonb,
    response_headers jsonb
);
CREATE INDEX attempts_delivery ON {{S}}.attempts (delivery_id, id);
CREATE INDEX attempts_endpoint ON {{S}}.attempts (endpoint_id, id);
-- Stats windows: attempts by endpoint, tenant or all, by time, covering
-- what Stats reads.
CREATE INDEX attempts_endpoint_time ON {{S}}.attempts (endpoint_id, started_at) INCLUDE (status_code, duration_ns);
CREATE INDEX attempts_tenant_time ON {{S}}.attempts (tenant, started_at) INCLUDE (status_code, duration_ns);
CREATE INDEX attempts_time ON {{S}}.attempts (started_at) INCLUDE (status_code, duration_ns);
