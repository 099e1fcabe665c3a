-- Ordered delivery (Endpoint.Ordered, PublishOpts.OrderingKey).
--
-- A delivery is ordered when seq is set: it belongs to the queue
-- (endpoint_id, ordering_key), and seq is its place in it (publish order).
-- Of a queue's pending deliveries one is the head, claimable as any
-- delivery (claim_at set); the others wait with claim_at NULL, so the claim
-- walk on deliveries_claim (claim_at <= now) never meets them. Every write
-- that makes a head finish or adds to a queue takes the queue's advisory
-- lock and promotes in the same transaction (queries_ordered.go).
--
-- Each statement adds no rewrite of the table: new columns are NULL or a
-- constant default.
ALTER TABLE {{S}}.endpoints ADD COLUMN ordered boolean NOT NULL DEFAULT false;
ALTER TABLE {{S}}.messages ADD COLUMN ordering_key text NOT NULL DEFAULT '';
ALTER TABLE {{S}}.deliveries
    ADD COLUMN ordering_key text,
    ADD COLUMN seq          bigint;
-- seq = nextval * 2^24 + the delivery's position in its statement: one
-- nextval per statement, increasing across statements, batch order within.
CREATE SEQUENCE {{S}}.delivery_seq;
-- The queues' pending deliveries, head first ((claim_at IS NULL) is false
-- for the head), then the waiting ones by seq: finding a queue's head, or
-- the waiting delivery to promote, reads one entry. Unordered deliveries
-- (seq NULL) and finished ones are not in it.
CREATE INDEX deliveries_queue ON {{S}}.deliveries (endpoint_id, ordering_key, (claim_at IS NULL), seq)
    WHERE state = 'pending' AND seq IS NOT NULL;
