-- Backlog counters (webhook.BacklogCounter): how many deliveries are
-- pending, and how many of those have had an attempt, kept up to date by
-- statement-level triggers on deliveries, so that reading them costs a few
-- rows whatever the number of deliveries.
--
-- Slots 0-15 are the counters proper: the total is their sum. A write adds
-- its delta to one slot it can lock without waiting (starting from
-- pg_backend_pid() % 16), so concurrent writers rarely meet on a row, and a
-- long transaction (a host's, through PublishTx) that holds a slot until it
-- commits does not block the others. Rows from slot 16 up hold deltas added
-- as rows of their own: by transactions under REPEATABLE READ or
-- SERIALIZABLE, which would fail on a slot another transaction updated since
-- their snapshot, and by writers that found all 16 slots locked. Backlog
-- folds them into the slots.
CREATE TABLE {{S}}.backlog (
    slot     bigint PRIMARY KEY,
    pending  bigint NOT NULL,
    retrying bigint NOT NULL
);
CREATE SEQUENCE {{S}}.backlog_extra START 16;

-- backlog_add adds a delta to the counters; a zero delta writes nothing.
CREATE FUNCTION {{S}}.backlog_add(dp bigint, dr bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF dp = 0 AND dr = 0 THEN
        RETURN;
    END IF;
    IF current_setting('transaction_isolation') = 'read committed' THEN
        UPDATE {{S}}.backlog b SET pending = b.pending + dp, retrying = b.retrying + dr
        WHERE b.slot = (SELECT f.slot FROM {{S}}.backlog f WHERE f.slot < 16
            ORDER BY (f.slot + 16 - pg_backend_pid() % 16) % 16
            LIMIT 1 FOR UPDATE SKIP LOCKED);
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO {{S}}.backlog (slot, pending, retrying) VALUES (nextval('{{S}}.backlog_extra'), dp, dr);
END $$;

-- backlog_count computes a statement's delta from its transition tables
-- (new_rows, old_rows): pending rows in minus pending rows out. A claim,
-- which moves lease columns only, has a zero delta and writes nothing.
CREATE FUNCTION {{S}}.backlog_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    dp bigint;
    dr bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*) FILTER (WHERE n.state = 'pending'),
            count(*) FILTER (WHERE n.state = 'pending' AND n.attempts > 0)
        INTO dp, dr FROM new_rows n;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT -count(*) FILTER (WHERE o.state = 'pending'),
            -count(*) FILTER (WHERE o.state = 'pending' AND o.attempts > 0)
        INTO dp, dr FROM old_rows o;
    ELSE
        SELECT coalesce(sum(x.p), 0), coalesce(sum(x.r), 0) INTO dp, dr FROM (
            SELECT count(*) FILTER (WHERE n.state = 'pending') AS p,
                count(*) FILTER (WHERE n.state = 'pending' AND n.attempts > 0) AS r
            FROM new_rows n
            UNION ALL
            SELECT -count(*) FILTER (WHERE o.state = 'pending'),
                -count(*) FILTER (WHERE o.state = 'pending' AND o.attempts > 0)
            FROM old_rows o) x;
    END IF;
    PERFORM {{S}}.backlog_add(dp, dr);
    RETURN NULL;
END $$;

-- backlog_reset empties the counters when deliveries is truncated.
CREATE FUNCTION {{S}}.backlog_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {{S}}.backlog WHERE slot >= 16;
    UPDATE {{S}}.backlog SET pending = 0, retrying = 0;
    RETURN NULL;
END $$;

-- The triggers come before the initial count: creating them locks
-- deliveries against writes until this migration commits, so the count
-- below misses no write and no write is counted twice.
CREATE TRIGGER backlog_insert AFTER INSERT ON {{S}}.deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {{S}}.backlog_count();
CREATE TRIGGER backlog_update AFTER UPDATE ON {{S}}.deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {{S}}.backlog_count();
CREATE TRIGGER backlog_delete AFTER DELETE ON {{S}}.deliveries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {{S}}.backlog_count();
CREATE TRIGGER backlog_truncate AFTER TRUNCATE ON {{S}}.deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION {{S}}.backlog_reset();

INSERT INTO {{S}}.backlog (slot, pending, retrying) SELECT g, 0, 0 FROM generate_series(0, 15) g;
UPDATE {{S}}.backlog SET
    pending = (SELECT count(*) FROM {{S}}.deliveries WHERE state = 'pending'),
    retrying = (SELECT count(*) FROM {{S}}.deliveries WHERE state = 'pending' AND attempts > 0)
WHERE slot = 0;
