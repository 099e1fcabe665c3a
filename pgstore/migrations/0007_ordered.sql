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

-- queue_lock_key is a queue's advisory lock key: the schema (two schemas
-- in one database do not share locks), the endpoint and the key, joined by
-- a separator no ID holds. The release in UpdateEndpoint computes the same
-- expression in SQL (ordered.go, queueKey).
CREATE FUNCTION {{S}}.queue_lock_key(ep text, key text) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN hashtextextended({{S_LITERAL}} || E'\x1f' || ep || E'\x1f' || key, 0);

-- promote_queues locks the queues (eps[i], keys[i]) in the order of their
-- lock keys, in one statement, then, in statements that (the function
-- being VOLATILE, under READ COMMITTED) each take a fresh snapshot, so see
-- everything committed by a transaction that held one of the locks before,
-- makes the waiting delivery with the smallest seq the head of each queue
-- that has none, due at its next_attempt_at. It returns how many it
-- promoted. The locks are held to the end of the transaction. With
-- nothing to promote it writes nothing (no UPDATE, so no statement
-- trigger). See ordered.go for the argument.
CREATE FUNCTION {{S}}.promote_queues(eps text[], keys text[]) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    heads text[];
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(l.k) FROM (
        SELECT DISTINCT {{S}}.queue_lock_key(q.ep, q.key) AS k FROM unnest(eps, keys) AS q(ep, key) ORDER BY 1) l;
    -- A queue's first entry in deliveries_queue is its head, or, when it
    -- has none, its waiting delivery with the smallest seq.
    SELECT array_agg(f.id) INTO heads
    FROM (SELECT DISTINCT q.ep, q.key FROM unnest(eps, keys) AS q(ep, key)) q
    CROSS JOIN LATERAL (
        SELECT w.id, w.claim_at FROM {{S}}.deliveries w
        WHERE w.endpoint_id = q.ep AND w.ordering_key = q.key AND w.state = 'pending' AND w.seq IS NOT NULL
        ORDER BY (w.claim_at IS NULL), w.seq
        LIMIT 1) f
    WHERE f.claim_at IS NULL;
    IF heads IS NULL THEN
        RETURN 0;
    END IF;
    -- By primary key alone: with state = 'pending' here the planner may
    -- walk every waiting delivery on deliveries_claim (claim_at IS NULL).
    -- Only holders of the queue's lock change a waiting delivery's
    -- claim_at or seq, so the recheck cannot fail but for a deletion.
    UPDATE {{S}}.deliveries d SET claim_at = d.next_attempt_at
    WHERE d.id = ANY (heads) AND d.claim_at IS NULL AND d.seq IS NOT NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- promote_deliveries is promote_queues for the queues of the ordered
-- deliveries among ids.
CREATE FUNCTION {{S}}.promote_deliveries(ids text[]) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    eps text[];
    keys text[];
BEGIN
    SELECT array_agg(x.endpoint_id), array_agg(x.ordering_key) INTO eps, keys
    FROM {{S}}.deliveries x WHERE x.id = ANY (ids) AND x.seq IS NOT NULL;
    IF eps IS NULL THEN
        RETURN 0;
    END IF;
    RETURN {{S}}.promote_queues(eps, keys);
END $$;
