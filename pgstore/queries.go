package pgstore

import "strings"

// queries holds the store's SQL with the schema filled in.
type queries struct {
	createEndpoint, getEndpoint, updateEndpoint, deleteEndpoint string
	listEndpoints, matchEndpoints                               string
	getMessage, messageTenant                                   string
	claim, claimDelivery, record                                string
	getDelivery, waitingFor                                     string
	requeueOne, requeueEndpoint                                 string
	purge                                                       string
	backlog, backlogFold                                        string
	schema                                                      string
}

// asyncCommit is the condition that makes a claim's or a record's
// transaction commit without waiting for its WAL to reach disk
// (synchronous_commit off for that transaction only; set_config(..., true)
// lasts until the statement's implicit transaction ends, and the commit
// reads it). An uncorrelated subquery, it runs once per statement.
//
// Why losing such a commit is harmless: only a crash of Postgres itself
// (not of the application) can lose a commit that was acknowledged, and
// then only the last few hundred milliseconds of them (wal_writer_delay);
// WAL stays in order, so every later synchronous commit (a publish, a
// requeue, a purge) makes all earlier ones durable too. A lost claim leaves
// the delivery pending with no lease: it is claimed again. A lost record
// leaves it pending under the lease it was claimed with: it is claimed
// again once that lease expires. Either way the delivery is attempted again
// (at-least-once allows a duplicate; receivers dedupe on webhook-id), and
// the attempt log may miss that attempt. No message and no delivery can be
// lost: those are written by publishes, which always wait for fsync.
const asyncCommit = `(SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL`

const endpointCols = `e.id, e.tenant, e.url, e.description, e.event_types, e.disabled, e.disabled_reason,
	e.secret, e.previous_secret, e.previous_secret_expires_at, e.headers, e.rate_limit, e.metadata,
	e.created_at, e.updated_at, e.signing_key, e.failing_since, e.channels, e.filter, e.format, e.ordered`

const deliveryCols = `d.id, d.message_id, d.endpoint_id, d.tenant, d.event_type, d.state, d.attempts,
	d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at,
	coalesce(d.ordering_key, ''), d.seq IS NOT NULL`

// waitingForCol is a delivery's WaitingFor: for a waiting delivery (ordered,
// pending, claim_at NULL) the ID of its queue's head, the first entry of
// the queue in deliveries_queue; empty for every other delivery, for which
// the subquery does not run.
//
// The subquery has no condition on claim_at: with one, the planner may
// walk deliveries_claim (every due delivery) instead.
const waitingForCol = `CASE WHEN d.state = 'pending' AND d.seq IS NOT NULL AND d.claim_at IS NULL THEN coalesce((
	SELECT CASE WHEN h.claim_at IS NOT NULL THEN h.id END FROM {{S}}.deliveries h
	WHERE h.endpoint_id = d.endpoint_id AND h.ordering_key = d.ordering_key AND h.state = 'pending'
		AND h.seq IS NOT NULL
	ORDER BY (h.claim_at IS NULL), h.seq LIMIT 1), '') ELSE '' END`

const messageCols = `m.id, m.tenant, m.event_type, m.payload, m.metadata, m.created_at, m.channels, m.data, m.ordering_key`

const attemptCols = `a.id, a.delivery_id, a.message_id, a.endpoint_id, a.number, a.started_at, a.duration_ns,
	a.status_code, a.error, a.response, a.request_headers, a.response_headers`

// claimTail joins the deliveries a claim leased (the CTE "d") with their
// message and endpoint. The LATERAL ... LIMIT 1 subqueries cannot be
// flattened into a join, so every plan (generic ones included) looks each
// up by primary key instead of scanning messages.
const claimTail = `
SELECT ` + deliveryCols + `, d.lease_token, d.lease_expires_at, ` + messageCols + `, ` + endpointCols + `
FROM d
CROSS JOIN LATERAL (SELECT * FROM {{S}}.messages m WHERE m.id = d.message_id LIMIT 1) m
CROSS JOIN LATERAL (SELECT * FROM {{S}}.endpoints e WHERE e.id = d.endpoint_id LIMIT 1) e`

// buildQueries fills in the schema. leaseCommit is the condition claims
// and records add to their UPDATE (see asyncCommit).
func buildQueries(schema, leaseCommit string) queries {
	r := strings.NewReplacer("{{S}}", schema, "{{LEASE_COMMIT}}", leaseCommit)
	q := queries{schema: schema}
	q.createEndpoint = r.Replace(`INSERT INTO {{S}}.endpoints (id, tenant, url, description, event_types, disabled,
	disabled_reason, secret, previous_secret, previous_secret_expires_at, headers, rate_limit, metadata,
	created_at, updated_at, signing_key, failing_since, channels, filter, format, ordered)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`)
	q.getEndpoint = r.Replace(`SELECT ` + endpointCols + ` FROM {{S}}.endpoints e WHERE e.id = $1`)
	q.updateEndpoint = r.Replace(`UPDATE {{S}}.endpoints SET tenant = $2, url = $3, description = $4,
	event_types = $5, disabled = $6, disabled_reason = $7, secret = $8, previous_secret = $9,
	previous_secret_expires_at = $10, headers = $11, rate_limit = $12, metadata = $13, updated_at = $14,
	signing_key = $15, failing_since = $16, channels = $17, filter = $18, format = $19, ordered = $20
	WHERE id = $1`)
	q.deleteEndpoint = r.Replace(`DELETE FROM {{S}}.endpoints WHERE id = $1`)
	q.listEndpoints = r.Replace(`SELECT ` + endpointCols + ` FROM {{S}}.endpoints e
	WHERE ($1 OR e.tenant = $2) AND (NOT $3 OR NOT e.disabled) AND e.id > $4
	ORDER BY e.id LIMIT $5`)

	// The tenant's enabled endpoints subscribed to $2 (Endpoint.Subscribes
	// in SQL: no types, the type itself, "*", or a "prefix.*").
	q.matchEndpoints = r.Replace(`SELECT ` + endpointCols + ` FROM {{S}}.endpoints e
	WHERE e.tenant = $1 AND NOT e.disabled AND (cardinality(e.event_types) = 0
		OR e.event_types && ARRAY[$2::text, '*']
		OR EXISTS (SELECT 1 FROM unnest(e.event_types) t WHERE right(t, 2) = '.*' AND starts_with($2, left(t, -1))))
	AND (cardinality(e.channels) = 0 OR e.channels && $3::text[])`)

	q.messageTenant = r.Replace(`SELECT tenant FROM {{S}}.messages WHERE id = $1`)
	q.getMessage = r.Replace(`SELECT ` + messageCols + ` FROM {{S}}.messages m WHERE m.id = $1`)

	// Claim: claim_deliveries (migration 0008) locks a batch of due
	// deliveries on the partial index, skipping rows other claimers hold,
	// leases them and returns them with their messages and endpoints,
	// under planner settings that keep its plan on the index walk. Both
	// plans are prepared once: nothing in them depends on the parameters.
	q.claim = r.Replace(`SELECT ` + deliveryCols + `, d.lease_token, d.lease_expires_at, ` + messageCols + `, ` + endpointCols + `
FROM {{S}}.claim_deliveries($1, $2::text[], $3, $4, $5, $6) x
CROSS JOIN LATERAL (SELECT (x.d).*) d
CROSS JOIN LATERAL (SELECT (x.m).*) m
CROSS JOIN LATERAL (SELECT (x.e).*) e
WHERE {{LEASE_COMMIT}}`)
	// A waiting ordered delivery (claim_at NULL) is not claimed.
	q.claimDelivery = r.Replace(`WITH d AS (
	UPDATE {{S}}.deliveries d SET lease_token = CASE WHEN d.seq IS NULL THEN $3 ELSE 'o' || $3 END,
		lease_owner = $4, lease_expires_at = $5, claim_at = $5
	WHERE d.id = $2 AND d.state = 'pending' AND d.claim_at IS NOT NULL AND (d.lease_token IS NULL OR d.lease_expires_at <= $1)
	RETURNING d.*
)` + claimTail)

	// Record: the whole batch in one statement. Only rows whose lease token
	// matches and has not expired at the record's Now are updated, and only
	// their attempts are inserted. "d.id = ANY ($1)" makes every plan find
	// the rows by primary key: with stale statistics (autovacuum off, a
	// table grown since its last ANALYZE) the join alone was planned as a
	// scan of every pending delivery.
	q.record = r.Replace(`WITH r AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[], $6::text[],
		$7::text[], $8::int[], $9::timestamptz[], $10::bigint[], $11::int[], $12::text[], $13::text[],
		$14::text[], $15::text[])
		WITH ORDINALITY AS r(id, token, now, state, next_at, err,
			att_id, number, started_at, duration_ns, status_code, att_error, response, req_headers, resp_headers, ord)
), u AS (
	UPDATE {{S}}.deliveries d SET
		state = r.state,
		attempts = CASE WHEN r.att_id <> '' THEN r.number ELSE d.attempts END,
		next_attempt_at = CASE WHEN r.state = 'pending' THEN r.next_at END,
		claim_at = CASE WHEN r.state = 'pending' THEN r.next_at END,
		lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL,
		last_attempt_at = CASE WHEN r.att_id <> '' THEN r.started_at ELSE d.last_attempt_at END,
		last_status_code = CASE WHEN r.att_id <> '' THEN r.status_code ELSE d.last_status_code END,
		last_error = CASE WHEN r.att_id <> '' THEN r.att_error
			WHEN r.state <> 'pending' AND r.err <> '' THEN r.err ELSE d.last_error END,
		updated_at = r.now
	FROM r
	WHERE d.id = ANY ($1::text[]) AND d.id = r.id AND d.state = 'pending' AND d.lease_token = r.token
		AND d.lease_expires_at > r.now AND {{LEASE_COMMIT}}
	RETURNING r.ord, d.id, d.message_id, d.endpoint_id, d.tenant
), a AS (
	INSERT INTO {{S}}.attempts (id, delivery_id, message_id, endpoint_id, tenant, number, started_at,
		duration_ns, status_code, error, response, request_headers, response_headers)
	SELECT r.att_id, u.id, u.message_id, u.endpoint_id, u.tenant, r.number, r.started_at, r.duration_ns,
		r.status_code, r.att_error, r.response, r.req_headers::jsonb, r.resp_headers::jsonb
	FROM u JOIN r ON r.ord = u.ord
	WHERE r.att_id <> ''
)
SELECT ord FROM u`)
	q.getDelivery = r.Replace(`SELECT ` + deliveryCols + `, ` + waitingForCol + ` FROM {{S}}.deliveries d WHERE d.id = $1`)
	q.waitingFor = r.Replace(waitingForCol)

	// Requeue keeps a live lease: claim_at stays the lease's expiry. An
	// ordered delivery that is finished or waiting (re)joins its queue
	// waiting, at its old seq; the caller promotes the queues of the
	// returned IDs (Requeue), which makes it the head if the queue has
	// none.
	const requeueSet = `SET state = 'pending', next_attempt_at = $2, updated_at = $2,
	claim_at = CASE WHEN d.state = 'pending' AND d.lease_token IS NOT NULL THEN d.claim_at
		WHEN d.seq IS NOT NULL AND (d.state <> 'pending' OR d.claim_at IS NULL) THEN NULL
		ELSE $2 END`
	const requeueFoot = `
	RETURNING d.id, d.seq IS NOT NULL AS ordered
)
SELECT count(*), coalesce(array_agg(u.id) FILTER (WHERE u.ordered), '{}') FROM u`
	q.requeueOne = r.Replace(`WITH u AS (UPDATE {{S}}.deliveries d ` + requeueSet + ` WHERE d.id = $1` + requeueFoot)
	q.requeueEndpoint = r.Replace(`WITH u AS (UPDATE {{S}}.deliveries d ` + requeueSet + `
	WHERE d.endpoint_id = $1 AND d.state = $3 AND d.created_at >= $4` + requeueFoot)

	// Purge: a bounded batch of finished deliveries (their attempts go by
	// ON DELETE CASCADE), then the messages they leave with no delivery,
	// then a bounded batch of old messages stored with no delivery at all.
	q.purge = r.Replace(`WITH p AS (
	SELECT id, message_id FROM {{S}}.deliveries
	WHERE state <> 'pending' AND updated_at < $1
	ORDER BY updated_at
	LIMIT $2
	FOR UPDATE SKIP LOCKED
), del AS (
	DELETE FROM {{S}}.deliveries d WHERE d.id = ANY (ARRAY(SELECT id FROM p)) RETURNING d.message_id
), orphans AS (
	DELETE FROM {{S}}.messages m
	WHERE m.id IN (SELECT DISTINCT message_id FROM del)
	AND NOT EXISTS (SELECT 1 FROM {{S}}.deliveries x
		WHERE x.message_id = m.id AND x.id NOT IN (SELECT id FROM p))
	RETURNING 1
), lone AS (
	DELETE FROM {{S}}.messages m
	WHERE m.id = ANY (ARRAY(
		SELECT l.id FROM {{S}}.messages l WHERE l.fanout = 0 AND l.created_at < $1
		ORDER BY l.created_at LIMIT $2 FOR UPDATE SKIP LOCKED))
	RETURNING 1
)
SELECT (SELECT count(*) FROM del), (SELECT count(*) FROM lone)`)

	// Backlog: the counters' sum, how many rows of deltas wait to be
	// folded, and the earliest claim time of a pending delivery, read as
	// the first entry of the partial index deliveries_claim.
	q.backlog = r.Replace(`SELECT coalesce(sum(b.pending), 0)::bigint, coalesce(sum(b.retrying), 0)::bigint,
	count(*) FILTER (WHERE b.slot >= 16),
	(SELECT min(d.claim_at) FROM {{S}}.deliveries d WHERE d.state = 'pending')
FROM {{S}}.backlog b`)
	// The fold moves the delta rows (slot 16 up) into the slots, leaving
	// the total as it was. Two folds at once delete each row once: the
	// second waits for the first's row locks and then finds them gone.
	q.backlogFold = r.Replace(`WITH x AS (DELETE FROM {{S}}.backlog WHERE slot >= 16 RETURNING pending, retrying)
SELECT {{S}}.backlog_add(coalesce(sum(x.pending), 0)::bigint, coalesce(sum(x.retrying), 0)::bigint) FROM x`)
	return q
}
