-- claim_deliveries leases up to p_limit due deliveries and returns each
-- with its message and endpoint. The join is in the function's statement:
-- a volatile function's statements take snapshots of their own, so a
-- statement around it would not see the messages of deliveries published
-- after it started, which the function can lease.
--
-- It is a function for its planner settings: inside it, sorts, bitmap
-- scans and sequential scans are priced out, so every plan of the inner
-- SELECT walks deliveries_claim in claim_at order and stops at the limit,
-- whatever the statistics say and whatever the parameters are. That lets
-- the plan be prepared once and reused. Sent as a statement, the claim
-- had to be planned with its parameters on every call (about 0.24 ms of
-- Postgres CPU each): a generic plan, which cannot know the limit, sorted
-- every due row (0.6 s at 1M pending), and with statistics taken on an
-- empty queue even custom plans read and sorted every due row.
--
-- The lease token of an ordered delivery gets the prefix 'o' (Record sees
-- from the token alone that it finishes one). Waiting ordered deliveries
-- have no claim_at, so the walk never reaches them.
CREATE FUNCTION {{S}}.claim_deliveries(p_due timestamptz, p_skip text[], p_limit int, p_token text,
        p_owner text, p_until timestamptz)
    RETURNS TABLE (d {{S}}.deliveries, m {{S}}.messages, e {{S}}.endpoints)
    LANGUAGE plpgsql
    SET enable_sort = off
    SET enable_bitmapscan = off
    SET enable_seqscan = off
AS $$
BEGIN
    -- With none skipped, "<> ALL" of the empty array is true for every row.
    -- The settings above keep the walk on deliveries_claim whatever the
    -- filter's estimate, so one plan serves both cases.
    RETURN QUERY WITH u AS (
        UPDATE {{S}}.deliveries x
        SET lease_token = CASE WHEN x.seq IS NULL THEN p_token ELSE 'o' || p_token END,
            lease_owner = p_owner, lease_expires_at = p_until, claim_at = p_until
        WHERE x.id = ANY (ARRAY(
            SELECT c.id FROM {{S}}.deliveries c
            WHERE c.state = 'pending' AND c.claim_at <= p_due AND c.endpoint_id <> ALL (p_skip)
            ORDER BY c.claim_at
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED))
        RETURNING x.*)
    SELECT u::{{S}}.deliveries,
        (SELECT m1 FROM {{S}}.messages m1 WHERE m1.id = u.message_id),
        (SELECT e1 FROM {{S}}.endpoints e1 WHERE e1.id = u.endpoint_id)
    FROM u;
END $$;
