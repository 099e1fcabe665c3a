package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	webhook "github.com/hookline/webhook"
	"github.com/jackc/pgx/v5"
)

// Ordered delivery in Postgres (Endpoint.Ordered; migration 0007).
//
// A delivery is ordered when its seq is set; its queue is (endpoint_id,
// ordering_key). Of a queue's pending deliveries exactly one is the head:
// it has a claim_at like any pending delivery, so Claim (unchanged) takes
// it when due. The others wait with claim_at NULL, which no claim's range
// condition (claim_at <= now) matches: the claim's walk on deliveries_claim
// never meets them.
//
// Every transaction that adds deliveries to a queue (insert, replay,
// requeue of a finished one) or finishes its head (Record) ends with one
// call of promote_queues (migration 0007) over the queues it touched, which
// runs two steps:
//
//  1. lock: pg_advisory_xact_lock of each queue, in the order of the lock
//     keys, in one statement, so that two transactions touching the same
//     queues take their locks in the same order and cannot deadlock on
//     them;
//  2. promote: in a new statement (the function is VOLATILE, so under READ
//     COMMITTED each of its statements takes a fresh snapshot, after the
//     locks were granted: it sees everything a transaction that held them
//     committed), each touched queue whose first entry in deliveries_queue
//     is a waiting delivery (no head) gets that delivery, the one with the
//     smallest seq, as its head: claim_at = next_attempt_at. With none to
//     promote it writes nothing.
//
// The locks are held to the commit, so the promotes of one queue run one
// at a time in commit order, and each sees the queue as every earlier one
// left it plus its own transaction's rows: no queue ever has two heads, and
// none is left with waiting deliveries and no head. The rows a transaction
// writes before taking the lock are invisible to everyone else until it
// commits, after its own promote. The call is pipelined with the write
// (and BEGIN and COMMIT where the store owns the transaction): no round
// trip is added.
//
// Every other write leaves the head where it is: a claim leases it (and
// marks the lease, see orderedLease), a Record with state pending
// reschedules it, a lapsed lease makes it claimable again. Writes that change waiting
// deliveries' claim_at hold their queue's lock too (the release in
// UpdateEndpoint), so a promote never finds the delivery it picked changed
// under it.
//
// Unordered deliveries never take these locks: their statements are the
// ones they had before ordering existed, and cost what they did.

// orderedLease prefixes the lease token of a claimed ordered delivery, so
// that Record knows without a query whether a record finishes one (lease
// tokens are otherwise hex).
const orderedLease = "o"

// seqShift makes room in seq for a delivery's position in its statement:
// seq = nextval(delivery_seq) << 24 + position.
const seqShift = 1 << 24

// checkOrderedCount refuses n ordered deliveries in one call when their
// positions would not fit in seq beside the statement's nextval.
func checkOrderedCount(n int) error {
	if n >= seqShift {
		return fmt.Errorf("%w: pgstore: %d ordered deliveries in one call; at most %d", webhook.ErrInvalid, n, seqShift-1)
	}
	return nil
}

// orderedQueries holds the SQL of ordered delivery, schema filled in.
type orderedQueries struct {
	// promoteQueues takes the queues as two arrays, endpoint IDs and
	// keys; promoteIDs takes delivery IDs and promotes their queues. Both
	// lock and promote (the functions of migration 0007).
	promoteQueues, promoteIDs string
	// lockWaiting and release free an endpoint's waiting deliveries
	// (UpdateEndpoint turning Ordered off).
	lockWaiting, release string
	// isolation reads the transaction's isolation level.
	isolation string
}

// sqlLiteral quotes s as an SQL string literal.
func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func buildOrderedQueries(schema string) orderedQueries {
	r := strings.NewReplacer("{{S}}", schema)
	const waiting = `d.endpoint_id = $1 AND d.state = 'pending' AND d.seq IS NOT NULL AND d.claim_at IS NULL`
	return orderedQueries{
		promoteQueues: r.Replace(`SELECT {{S}}.promote_queues($1::text[], $2::text[])`),
		promoteIDs:    r.Replace(`SELECT {{S}}.promote_deliveries($1::text[])`),
		lockWaiting: r.Replace(`SELECT pg_advisory_xact_lock(l.k) FROM (
	SELECT DISTINCT {{S}}.queue_lock_key(d.endpoint_id, d.ordering_key) AS k FROM {{S}}.deliveries d
	WHERE ` + waiting + `
	ORDER BY 1) l`),
		// The try-lock is granted at once for the queues lockWaiting locked;
		// a queue that appeared since (a publish that read the endpoint as
		// ordered, committed in between) is released only if no promote
		// holds it, and otherwise stays ordered, as if published first.
		// A released delivery loses its key with its order
		// (Delivery.OrderingKey is for ordered deliveries), as in the memory
		// store.
		release: r.Replace(`UPDATE {{S}}.deliveries d SET seq = NULL, ordering_key = NULL, claim_at = d.next_attempt_at
WHERE ` + waiting + ` AND pg_try_advisory_xact_lock({{S}}.queue_lock_key(d.endpoint_id, d.ordering_key))`),
		isolation: `SELECT current_setting('transaction_isolation')`,
	}
}

// queue is an ordered delivery's queue.
type queue struct{ endpoint, key string }

// queueArgs returns the distinct queues as the two arrays lockQueues and
// promoteQueues take.
func queueArgs(qs []queue) (eps, keys []string) {
	slices.SortFunc(qs, func(a, b queue) int {
		if c := strings.Compare(a.endpoint, b.endpoint); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	qs = slices.Compact(qs)
	eps, keys = make([]string, len(qs)), make([]string, len(qs))
	for i, q := range qs {
		eps[i], keys[i] = q.endpoint, q.key
	}
	return eps, keys
}

// queuePromote queues the lock and promote of qs on b: one statement,
// whose result is the number of deliveries promoted.
func (s *Store) queuePromote(b *pgx.Batch, qs []queue) {
	eps, keys := queueArgs(qs)
	b.Queue(s.oq.promoteQueues, eps, keys)
}

// writeAndPromote runs sql with args, whose one row scan reads, and when
// qs is not empty the lock and promote of those queues after it, pipelined
// in one round trip: in q's transaction when inTx (the caller commits),
// else as a transaction of their own on q (a connection or the pool).
// Errors are mapped (mapErr) with what, the promote's as its own.
func (s *Store) writeAndPromote(ctx context.Context, q querier, what, sql string, args []any, qs []queue, inTx bool,
	scan func(pgx.Row) error) error {
	if len(qs) == 0 {
		return mapErr(scan(q.QueryRow(ctx, sql, args...)), what)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	s.queuePromote(b, qs)
	var mapped error // a result's error, mapped
	read := func(br pgx.BatchResults) error {
		if err := scan(br.QueryRow()); err != nil {
			mapped = mapErr(err, what)
			return mapped
		}
		if _, err := readPromoted(br); err != nil {
			mapped = mapErr(err, "promoting ordered deliveries")
			return mapped
		}
		return nil
	}
	run := runTx
	if inTx {
		run = runBatch
	}
	if err := run(ctx, q, b, read); err != nil {
		if mapped != nil {
			return mapped
		}
		return mapErr(err, what)
	}
	return nil
}

// idsPromote queues the lock and promote of the queues of the deliveries
// ids on b.
func (s *Store) idsPromote(b *pgx.Batch, ids []string) {
	b.Queue(s.oq.promoteIDs, ids)
}

// readPromoted reads the result of a statement queuePromote or idsPromote
// queued.
func readPromoted(br pgx.BatchResults) (int64, error) {
	var n int64
	err := br.QueryRow().Scan(&n)
	return n, err
}

// readCommitted checks that q runs under READ COMMITTED, which the promote
// needs (a snapshot per statement): under REPEATABLE READ or SERIALIZABLE
// it could not see a head another transaction committed after the first
// statement of q's transaction.
func (s *Store) readCommitted(ctx context.Context, q querier) error {
	var level string
	if err := q.QueryRow(ctx, s.oq.isolation).Scan(&level); err != nil {
		return mapErr(err, "reading the transaction's isolation level")
	}
	if level != "read committed" {
		return fmt.Errorf("%w: pgstore: ordered deliveries are stored only in a READ COMMITTED transaction (the default), not %s: "+
			"publish to ordered endpoints outside that transaction or change its isolation level", webhook.ErrTxUnsupported, level)
	}
	return nil
}

// anyOrdered reports whether ds holds an ordered delivery.
func anyOrdered(ds []*webhook.Delivery) bool {
	for _, d := range ds {
		if d.Ordered {
			return true
		}
	}
	return false
}

// recordOrdered is Record for a batch that finishes ordered deliveries
// (finished, their IDs): the record statement, the lock and the promote
// of the finished deliveries' queues, in one transaction, pipelined in one
// round trip.
//
// It commits durably (s.recordDurable), unlike other records. The store's
// own invariants would survive an asynchronous commit: the promote and the
// record that finished the head are one transaction, lost or kept
// together, and WAL order means nothing that saw the promote (a claim of
// the new head) can survive a crash that lost it; the queue would just be
// back to the old head, pending under its lapsed lease. What would not
// survive is the receiver's guarantee: the new head may already have been
// sent when Postgres crashes and loses the record, and the old head, sent
// again, would then arrive after it. A durable commit means the next
// delivery of a queue is claimable only once its predecessor's success is
// on disk. The cost is one fsync per record batch that finishes an ordered
// delivery; unordered batches keep the asynchronous commit.
func (s *Store) recordOrdered(ctx context.Context, finished []string, args []any, applied []bool) ([]bool, error) {
	b := &pgx.Batch{}
	b.Queue(s.recordDurable, args...)
	s.idsPromote(b, finished)
	var promoted int64
	err := runTx(ctx, s.pool, b, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		ords, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for _, o := range ords {
			applied[o-1] = true
		}
		promoted, err = readPromoted(br)
		return err
	})
	if err != nil {
		return nil, mapErr(err, "recording attempts")
	}
	if promoted > 0 {
		// New heads are due (at their NextAttemptAt, mostly past): wake
		// this process's dispatcher, whose worker just came free. Other
		// instances find them when they next claim.
		s.broadcast()
	}
	return applied, nil
}

// orderedFinishIDs returns the IDs of the deliveries that recs finish
// (succeeded or failed) under an ordered lease: only a batch with some
// needs their queues' lock and promote.
func orderedFinishIDs(recs []webhook.Record) []string {
	var ids []string
	for i := range recs {
		if recs[i].State != webhook.StatePending && strings.HasPrefix(recs[i].Lease, orderedLease) {
			ids = append(ids, recs[i].DeliveryID)
		}
	}
	return ids
}

// runTx runs b as one transaction on a connection (BEGIN ISOLATION LEVEL
// READ COMMITTED, b, COMMIT, pipelined in one round trip) and hands each
// of b's results to read (in order) before the commit's. A failed statement
// aborts the transaction: the rest of the pipeline is skipped and the
// connection, left in the failed transaction, is closed by the pool when
// released.
func runTx(ctx context.Context, q querier, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	full := &pgx.Batch{}
	full.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	full.QueuedQueries = append(full.QueuedQueries, b.QueuedQueries...)
	full.Queue("COMMIT")
	return runBatch(ctx, q, full, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		if err := read(br); err != nil {
			return err
		}
		ct, err := br.Exec()
		if err == nil && ct.String() != "COMMIT" {
			err = fmt.Errorf("pgstore: the transaction did not commit (%s)", ct)
		}
		return err
	})
}

// runBatch sends b through q, hands its results to read, and closes them:
// the first error of the two.
func runBatch(ctx context.Context, q querier, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	br := q.SendBatch(ctx, b)
	err := read(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// execAll reads n Exec results of br.
func execAll(br pgx.BatchResults, n int) error {
	for range n {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return nil
}
