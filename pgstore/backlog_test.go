package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backlogTruth counts the backlog the slow way, by scanning deliveries.
func backlogTruth(t *testing.T, pool *pgxpool.Pool, s *pgstore.Store) (pending, retrying int) {
	t.Helper()
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE state = 'pending'),
		count(*) FILTER (WHERE state = 'pending' AND attempts > 0) FROM `+quote(s.Schema())+`.deliveries`).Scan(&pending, &retrying))
	return pending, retrying
}

// requireBacklog checks Backlog's counts against the deliveries table.
func requireBacklog(t *testing.T, pool *pgxpool.Pool, s *pgstore.Store, pending, retrying int) {
	t.Helper()
	b, err := s.Backlog(context.Background())
	require.NoError(t, err)
	p, r := backlogTruth(t, pool, s)
	require.Equal(t, [2]int{p, r}, [2]int{pending, retrying}, "the test's expectation disagrees with the table")
	require.Equal(t, [2]int{pending, retrying}, [2]int{b.Pending, b.Retrying}, "Backlog's pending and retrying")
}

// extraRows counts the delta rows waiting for Backlog to fold them.
func extraRows(t *testing.T, pool *pgxpool.Pool, s *pgstore.Store) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM `+quote(s.Schema())+`.backlog WHERE slot >= 16`).Scan(&n))
	return n
}

func oneMessage(id, epID string, due time.Time) (*webhook.Message, []*webhook.Delivery) {
	msg := &webhook.Message{ID: "msg_" + id, Type: "a.b", Payload: []byte(`{}`), CreatedAt: due}
	d := &webhook.Delivery{ID: "dlv_" + id, MessageID: msg.ID, EndpointID: epID, EventType: "a.b",
		State: webhook.StatePending, NextAttemptAt: due, CreatedAt: due, UpdatedAt: due}
	return msg, []*webhook.Delivery{d}
}

// TestBacklogClaimWritesNoCounter: a claim moves lease columns only, so
// its statement leaves the counter rows untouched (same row versions).
func TestBacklogClaimWritesNoCounter(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	_, ids := seed(t, s, "cl", 4, base)
	versions := func() string {
		var v string
		require.NoError(t, pool.QueryRow(ctx, `SELECT string_agg(xmin::text || ':' || ctid::text, ',' ORDER BY slot) FROM `+
			quote(s.Schema())+`.backlog`).Scan(&v))
		return v
	}
	before := versions()
	cs, err := s.Claim(ctx, webhook.ClaimParams{Owner: "t", Now: base, Limit: 3, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, cs, 3)
	_, err = s.ClaimDelivery(ctx, ids[3], webhook.ClaimParams{Owner: "t", Now: base, Lease: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, before, versions(), "claims wrote to the counters")
	// A record without an attempt that puts the delivery back is no change
	// either; one that finishes it is.
	applied, err := s.Record(ctx, []webhook.Record{{DeliveryID: cs[0].Delivery.ID, Lease: cs[0].Lease, Now: base,
		State: webhook.StatePending, NextAttemptAt: base}})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, applied)
	assert.Equal(t, before, versions(), "a put-back wrote to the counters")
	applied, err = s.Record(ctx, []webhook.Record{{DeliveryID: cs[1].Delivery.ID, Lease: cs[1].Lease, Now: base,
		State: webhook.StateFailed, Error: "endpoint disabled"}})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, applied)
	assert.NotEqual(t, before, versions())
	requireBacklog(t, pool, s, 3, 0)
}

// TestBacklogMigrationCountsExisting: migration 0005 starts the counters
// from the deliveries already stored.
func TestBacklogMigrationCountsExisting(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	_, ids := seed(t, s, "mig", 4, base)
	cs, err := s.Claim(ctx, webhook.ClaimParams{Owner: "t", Now: base, Limit: 2, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, cs, 2)
	recs := make([]webhook.Record, 2)
	for i, c := range cs {
		recs[i] = webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: base,
			Attempt: &webhook.Attempt{ID: "att_" + c.Delivery.ID, DeliveryID: c.Delivery.ID, MessageID: c.Message.ID,
				EndpointID: c.Endpoint.ID, Number: 1, StartedAt: base, StatusCode: 500}}
	}
	recs[0].State, recs[0].NextAttemptAt = webhook.StatePending, base.Add(time.Minute)
	recs[1].State = webhook.StateFailed
	_, err = s.Record(ctx, recs)
	require.NoError(t, err)
	require.Len(t, ids, 4)

	// Undo 0005 by hand, then migrate again.
	sch := quote(s.Schema())
	_, err = pool.Exec(ctx, `DROP TABLE `+sch+`.backlog;
		DROP FUNCTION `+sch+`.backlog_count() CASCADE; DROP FUNCTION `+sch+`.backlog_reset() CASCADE;
		DROP FUNCTION `+sch+`.backlog_add(bigint, bigint);
		DELETE FROM `+sch+`.schema_migrations WHERE version = 5`)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	requireBacklog(t, pool, s, 3, 1)
}

// TestBacklogRepeatableReadPublishTx: a PublishTx inside a REPEATABLE READ
// transaction whose snapshot predates other writes must not fail with a
// serialization error on the counters: its delta becomes a row of its
// own, which Backlog counts and folds.
func TestBacklogRepeatableReadPublishTx(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ep, _ := seed(t, s, "rr", 1, base)

	for _, iso := range []pgx.TxIsoLevel{pgx.RepeatableRead, pgx.Serializable} {
		tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: iso})
		require.NoError(t, err)
		var n int
		require.NoError(t, tx.QueryRow(ctx, "SELECT count(*) FROM "+quote(s.Schema())+".backlog").Scan(&n), "take the snapshot")
		// Other writers change the slots after the snapshot: a few
		// publishes, and (as a busy system would in time) every slot.
		for i := range 20 {
			msg, ds := oneMessage(fmt.Sprintf("rr_%s_%d", iso, i), ep.ID, base)
			require.NoError(t, s.InsertMessage(ctx, msg, ds))
		}
		_, err = pool.Exec(ctx, "UPDATE "+quote(s.Schema())+".backlog SET pending = pending")
		require.NoError(t, err)
		msg, ds := oneMessage("rr_tx_"+string(iso), ep.ID, base)
		require.NoError(t, s.InsertMessageTx(ctx, tx, msg, ds))
		require.NoError(t, tx.Commit(ctx))
	}
	assert.Equal(t, 2, extraRows(t, pool, s))
	requireBacklog(t, pool, s, 43, 0)
	assert.Zero(t, extraRows(t, pool, s), "Backlog folds the delta rows")
	requireBacklog(t, pool, s, 43, 0)
}

// TestBacklogLockedSlotsBlockNoOne: writers pass over slots other
// transactions hold (a host's open PublishTx transaction), and with all 16
// held they add a row of their own rather than wait.
func TestBacklogLockedSlotsBlockNoOne(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ep, _ := seed(t, s, "lk", 1, base)

	// An open transaction that published holds one slot.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	msg, ds := oneMessage("lk_tx", ep.ID, base)
	require.NoError(t, s.InsertMessageTx(ctx, tx, msg, ds))
	publishAll := func(prefix string, n int) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg, ds := oneMessage(fmt.Sprintf("%s_%d", prefix, i), ep.ID, base)
				errs[i] = s.InsertMessage(wctx, msg, ds)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
	}
	publishAll("lk_a", 24)
	requireBacklog(t, pool, s, 25, 0)
	require.NoError(t, tx.Commit(ctx))
	requireBacklog(t, pool, s, 26, 0)

	// All 16 slots held.
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // after Rollback it is a no-op
	_, err = tx.Exec(ctx, "SELECT 1 FROM "+quote(s.Schema())+".backlog WHERE slot < 16 FOR UPDATE")
	require.NoError(t, err)
	publishAll("lk_b", 3)
	// One row per statement: concurrent publishes may share one (group
	// commit), so 1 to 3 rows.
	extra := extraRows(t, pool, s)
	assert.True(t, extra >= 1 && extra <= 3, "%d rows of their own", extra)
	require.NoError(t, tx.Rollback(ctx))
	requireBacklog(t, pool, s, 29, 0)
	assert.Zero(t, extraRows(t, pool, s))
}

// TestBacklogTruncate: truncating deliveries resets the counters.
func TestBacklogTruncate(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ep, _ := seed(t, s, "tr", 3, base)
	requireBacklog(t, pool, s, 3, 0)
	_, err := pool.Exec(ctx, "TRUNCATE "+quote(s.Schema())+".deliveries CASCADE")
	require.NoError(t, err)
	requireBacklog(t, pool, s, 0, 0)
	msg, ds := oneMessage("tr_again", ep.ID, base)
	require.NoError(t, s.InsertMessage(ctx, msg, ds))
	requireBacklog(t, pool, s, 1, 0)
}

// TestBacklogConcurrentWrites: publishers, workers that retry, fail and
// succeed, requeues, an endpoint deletion and purges, all at once; the
// counters then agree with a count of the table.
func TestBacklogConcurrentWrites(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var eps []string
	for i := range 3 {
		ep, _ := seed(t, s, fmt.Sprintf("cc%d", i), 0, base)
		eps = append(eps, ep.ID)
	}
	doomed, _ := seed(t, s, "ccdel", 10, base)
	const publishers, perPublisher, workers = 3, 60, 2
	var wg sync.WaitGroup
	errs := make(chan error, publishers+workers+1)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perPublisher {
				msg := &webhook.Message{ID: fmt.Sprintf("msg_cc_%d_%d", p, i), Type: "a.b", Payload: []byte(`{}`), CreatedAt: base}
				var ds []*webhook.Delivery
				for _, ep := range eps {
					ds = append(ds, &webhook.Delivery{ID: fmt.Sprintf("dlv_cc_%d_%d_%s", p, i, ep), MessageID: msg.ID, EndpointID: ep,
						EventType: "a.b", State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base})
				}
				if err := s.InsertMessage(ctx, msg, ds); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 40 {
				cs, err := s.Claim(ctx, webhook.ClaimParams{Owner: "t", Now: base, Limit: 10, Lease: time.Minute})
				if err != nil {
					errs <- err
					return
				}
				recs := make([]webhook.Record, len(cs))
				for i, c := range cs {
					n := c.Delivery.Attempts + 1
					recs[i] = webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: base,
						Attempt: &webhook.Attempt{ID: fmt.Sprintf("att_%s_%d", c.Delivery.ID, n), DeliveryID: c.Delivery.ID,
							MessageID: c.Message.ID, EndpointID: c.Endpoint.ID, Number: n, StartedAt: base, StatusCode: 500}}
					switch (i + round + w) % 4 {
					case 0:
						recs[i].State, recs[i].Attempt.StatusCode = webhook.StateSucceeded, 200
					case 1:
						recs[i].State = webhook.StateFailed
					default:
						recs[i].State, recs[i].NextAttemptAt = webhook.StatePending, base
					}
				}
				if _, err := s.Record(ctx, recs); err != nil {
					errs <- err
					return
				}
				if round%10 == 5 {
					if _, err := s.Requeue(ctx, webhook.RequeueParams{EndpointID: eps[w], State: webhook.StateFailed, At: base}); err != nil {
						errs <- err
						return
					}
					if _, err := s.Purge(ctx, base.Add(time.Hour), 20); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if _, err := s.Backlog(ctx); err != nil {
				errs <- err
				return
			}
		}
		if err := s.DeleteEndpoint(ctx, doomed.ID); err != nil {
			errs <- err
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	p, r := backlogTruth(t, pool, s)
	require.NotZero(t, r, "the workload leaves some deliveries retrying")
	requireBacklog(t, pool, s, p, r)
}
