package pgstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The store-level tests of ordered delivery that the storetest suite
// (TestConformance) does not cover: what only Postgres has (leases,
// transactions, plans, several store instances at once).

var ordSeq atomic.Int64

// ordMsg builds a message with key and one delivery per endpoint, ordered
// for ordered endpoints as the dispatcher builds them, due at due.
func ordMsg(key string, due time.Time, eps ...*webhook.Endpoint) (*webhook.Message, []*webhook.Delivery) {
	id := fmt.Sprintf("%s_%d_%d", strings.ReplaceAll(key, " ", "_"), ordSeq.Add(1), rand.Uint32())
	msg := &webhook.Message{ID: "msg_" + id, Type: "a.b", Payload: []byte(`{}`), OrderingKey: key, CreatedAt: due}
	var ds []*webhook.Delivery
	for i, ep := range eps {
		d := &webhook.Delivery{ID: fmt.Sprintf("dlv_%s_%d", id, i), MessageID: msg.ID, EndpointID: ep.ID, EventType: msg.Type,
			State: webhook.StatePending, NextAttemptAt: due, CreatedAt: due, UpdatedAt: due}
		if ep.Ordered {
			d.Ordered, d.OrderingKey = true, key
		}
		ds = append(ds, d)
	}
	return msg, ds
}

// insertOrdered stores n messages to ep, due at due, the i-th with the
// ordering key key(i), in one InsertMessages call, and returns them.
func insertOrdered(t *testing.T, s *pgstore.Store, ep *webhook.Endpoint, due time.Time, n int, key func(i int) string) []webhook.MessageInsert {
	t.Helper()
	batch := make([]webhook.MessageInsert, n)
	for i := range batch {
		m, ds := ordMsg(key(i), due, ep)
		batch[i] = webhook.MessageInsert{Message: m, Deliveries: ds}
	}
	_, err := s.InsertMessages(context.Background(), batch)
	require.NoError(t, err)
	return batch
}

func ordEndpoint(t *testing.T, s webhook.Store, ordered bool) *webhook.Endpoint {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ep := &webhook.Endpoint{ID: fmt.Sprintf("ep_%d_%d", time.Now().UnixNano(), rand.Uint32()), URL: "https://example.com/",
		Secret: webhook.NewSecret(), Ordered: ordered, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.CreateEndpoint(context.Background(), ep))
	return ep
}

func claimAt(t *testing.T, s webhook.Store, now time.Time, n int) []*webhook.Claimed {
	t.Helper()
	cs, err := s.Claim(context.Background(), webhook.ClaimParams{Owner: "t", Now: now, Limit: n, Lease: time.Minute})
	require.NoError(t, err)
	return cs
}

func succeed(t *testing.T, s webhook.Store, c *webhook.Claimed, now time.Time) {
	t.Helper()
	applied, err := s.Record(context.Background(), []webhook.Record{{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: now,
		State: webhook.StateSucceeded}})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, applied)
}

// TestOrderedFieldsRoundTrip: Endpoint.Ordered, Message.OrderingKey and
// Delivery.Ordered/OrderingKey come back from every read, claims
// included, and an ordered delivery's lease token is recognisable.
func TestOrderedFieldsRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSchemaStore(t, testPool(t), nil)
	ctx := context.Background()
	ord, plain := ordEndpoint(t, s, true), ordEndpoint(t, s, false)
	got, err := s.GetEndpoint(ctx, ord.ID)
	require.NoError(t, err)
	assert.True(t, got.Ordered)
	now := time.Now().UTC()
	msg, ds := ordMsg("cust 1", now, ord, plain)
	require.NoError(t, s.InsertMessage(ctx, msg, ds))
	m, err := s.GetMessage(ctx, msg.ID)
	require.NoError(t, err)
	assert.Equal(t, "cust 1", m.OrderingKey)

	cs := claimAt(t, s, now, 10)
	require.Len(t, cs, 2)
	for _, c := range cs {
		assert.Equal(t, "cust 1", c.Message.OrderingKey)
		if c.Delivery.EndpointID == ord.ID {
			assert.True(t, c.Delivery.Ordered)
			assert.Equal(t, "cust 1", c.Delivery.OrderingKey)
			assert.True(t, c.Endpoint.Ordered)
			assert.True(t, strings.HasPrefix(c.Lease, "o"), "ordered lease %q", c.Lease)
		} else {
			assert.False(t, c.Delivery.Ordered)
			assert.Empty(t, c.Delivery.OrderingKey)
			assert.False(t, c.Endpoint.Ordered)
			assert.False(t, strings.HasPrefix(c.Lease, "o"), "unordered lease %q", c.Lease)
		}
	}
	// Turning Ordered on and off through UpdateEndpoint is stored.
	got.Ordered = false
	require.NoError(t, s.UpdateEndpoint(ctx, got))
	got, err = s.GetEndpoint(ctx, ord.ID)
	require.NoError(t, err)
	assert.False(t, got.Ordered)
	eps, err := s.MatchEndpoints(ctx, webhook.MatchQuery{EventType: "a.b"})
	require.NoError(t, err)
	for _, ep := range eps {
		assert.False(t, ep.Ordered, "the match cache was emptied by the update")
	}
}

// TestOrderedPublishTx: an ordered publish inside the host's transaction
// is stored waiting or as head as any other, and is refused (nothing
// stored, the transaction usable) under REPEATABLE READ, where the promote
// could not see other transactions' heads.
func TestOrderedPublishTx(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	ep := ordEndpoint(t, s, true)
	now := time.Now().UTC()

	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	msg, ds := ordMsg("k", now, ep)
	err = s.InsertMessageTx(ctx, tx, msg, ds)
	require.ErrorIs(t, err, webhook.ErrTxUnsupported)
	assert.Contains(t, err.Error(), "READ COMMITTED")
	_, err = s.InsertMessagesTx(ctx, tx, []webhook.MessageInsert{{Message: msg, Deliveries: ds}})
	require.ErrorIs(t, err, webhook.ErrTxUnsupported)
	require.NoError(t, tx.Commit(ctx), "the transaction is still usable")
	_, err = s.GetMessage(ctx, msg.ID)
	require.ErrorIs(t, err, webhook.ErrNotFound)

	// Two messages in one host transaction, then one outside it: store
	// order is call order, the first is the head.
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	m1, d1 := ordMsg("k", now, ep)
	m2, d2 := ordMsg("k", now, ep)
	require.NoError(t, s.InsertMessageTx(ctx, tx, m1, d1))
	require.NoError(t, s.InsertMessageTx(ctx, tx, m2, d2))
	require.NoError(t, tx.Commit(ctx))
	m3, d3 := ordMsg("k", now, ep)
	require.NoError(t, s.InsertMessage(ctx, m3, d3))
	var order []string
	for range 3 {
		cs := claimAt(t, s, now.Add(time.Second), 10)
		require.Len(t, cs, 1, "one head at a time")
		order = append(order, cs[0].Delivery.ID)
		succeed(t, s, cs[0], now.Add(time.Second))
	}
	assert.Equal(t, []string{d1[0].ID, d2[0].ID, d3[0].ID}, order)
}

// TestOrderedClaimSkipsWaiting: with a queue of 20,000 waiting deliveries
// behind its head, the claim's plan reads the head alone from
// deliveries_claim, and finding a queue's head or next delivery reads one
// entry of deliveries_queue (EXPLAIN ANALYZE of the statements as sent).
func TestOrderedClaimSkipsWaiting(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	ep := ordEndpoint(t, s, true)
	now := time.Now().UTC()
	const waiting = 20000
	batch := insertOrdered(t, s, ep, now, waiting+1, func(int) string { return "k" })
	sch := quote(s.Schema())
	_, err := pool.Exec(ctx, "VACUUM ANALYZE "+sch+".deliveries")
	require.NoError(t, err)

	plan := explainClaim(t, pool, s, "force_generic_plan", "{}")
	t.Logf("claim with one head and %d waiting:\n%s", waiting, plan)
	scan := findNode(t, plan, "deliveries_claim")
	assert.Contains(t, scan, "rows=1 loops=1", "the claim index yields the head alone")
	assert.NotContains(t, plan, "Rows Removed by Filter", "no waiting row is read and dropped")

	plan = explainSQL(t, pool, "SELECT "+pgstore.WaitingForSQL(s)+" FROM "+sch+".deliveries d WHERE d.id = $1",
		batch[waiting].Deliveries[0].ID)
	t.Logf("WaitingFor of the last waiting delivery:\n%s", plan)
	assert.Contains(t, findNode(t, plan, "deliveries_queue"), "rows=1 loops=1")

	// The promote reads a queue's first entry, whatever its length: the
	// buffers of the whole call (the function's statements included) stay
	// a handful, with the head pending (nothing to do) and once finished,
	// where reading the queue would take hundreds. One connection, its
	// functions and trigger compiled and their catalog rows cached first,
	// so that only the call's own reads count.
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	warm, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = warm.Exec(ctx, "SELECT "+sch+".promote_queues(ARRAY['none'], ARRAY['none']), "+sch+".promote_deliveries('{}')")
	require.NoError(t, err)
	_, err = warm.Exec(ctx, "UPDATE "+sch+".deliveries SET updated_at = now() WHERE id = $1", batch[0].Deliveries[0].ID)
	require.NoError(t, err)
	require.NoError(t, warm.Rollback(ctx))
	cs := claimAt(t, s, now, 10)
	require.Len(t, cs, 1)
	plan = explainSQL(t, conn, pgstore.PromoteIDsSQL(s), []string{cs[0].Delivery.ID})
	t.Logf("promote with the head pending:\n%s", plan)
	assert.Less(t, sharedBuffers(t, plan), 40)
	_, err = pool.Exec(ctx, "UPDATE "+sch+".deliveries SET state = 'succeeded', claim_at = NULL WHERE id = $1", cs[0].Delivery.ID)
	require.NoError(t, err)
	plan = explainSQL(t, conn, pgstore.PromoteIDsSQL(s), []string{cs[0].Delivery.ID})
	t.Logf("promote with the head finished:\n%s", plan)
	assert.Less(t, sharedBuffers(t, plan), 100)
	_, err = pool.Exec(ctx, "UPDATE "+sch+".deliveries SET state = 'pending', claim_at = now() WHERE id = $1", cs[0].Delivery.ID)
	require.NoError(t, err)
	succeed(t, s, cs[0], now)
	d, err := s.GetDelivery(ctx, batch[1].Deliveries[0].ID)
	require.NoError(t, err)
	assert.Empty(t, d.WaitingFor, "the second is the head")
	d, err = s.GetDelivery(ctx, batch[2].Deliveries[0].ID)
	require.NoError(t, err)
	assert.Equal(t, batch[1].Deliveries[0].ID, d.WaitingFor)
}

// explain runs EXPLAIN (ANALYZE, BUFFERS) of sql with args in a
// transaction it rolls back, and returns the plan's text.
func explainSQL(t *testing.T, pool pgxPool, sql string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) "+sql, append([]any{pgx.QueryExecModeExec}, args...)...)
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return strings.Join(lines, "\n")
}

// sharedBuffers returns the shared buffers the plan's top node read.
func sharedBuffers(t *testing.T, plan string) int {
	t.Helper()
	for _, l := range strings.Split(plan, "\n") {
		if i := strings.Index(l, "Buffers: shared hit="); i >= 0 {
			var n int
			_, err := fmt.Sscanf(l[i+len("Buffers: shared hit="):], "%d", &n)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no buffers in the plan")
	return 0
}

type pgxPool interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// findNode returns the plan line that scans index, failing if none does.
func findNode(t *testing.T, plan, index string) string {
	t.Helper()
	for _, l := range strings.Split(plan, "\n") {
		if strings.Contains(l, "using "+index) {
			return l
		}
	}
	t.Fatalf("no scan of %s in the plan", index)
	return ""
}

// TestOrderedGroupCommitConcurrent: two store instances (two group-commit
// flushers, so statements carrying deliveries of the same queues run at
// once) take publishes from 8 goroutines to 4 keys of one ordered
// endpoint, several publishes of one queue coalesced in a statement, while
// 4 claimers claim and record (a third of the attempts retried). At no
// moment are two deliveries of a queue claimed at once; each queue is
// finished in store order (seq), and store order keeps each publisher's
// call order; nothing is lost.
func TestOrderedGroupCommitConcurrent(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	a := newSchemaStore(t, pool, nil)
	b := pgstore.New(pool, &pgstore.Options{Schema: a.Schema()})
	t.Cleanup(func() { b.Close() })
	stores := []*pgstore.Store{a, b}
	ctx := context.Background()
	ep := ordEndpoint(t, a, true)
	const publishers, perPublisher, keys = 8, 40, 4
	now := time.Now().UTC()

	var mu sync.Mutex
	inflight := map[string]string{} // key -> delivery in flight
	var violations []string
	finished := map[string][]string{} // key -> delivery IDs in order of success
	done := make(chan struct{})
	var claimers sync.WaitGroup
	for c := range 4 {
		claimers.Add(1)
		go func() {
			defer claimers.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 9))
			st := stores[c%2]
			for {
				cs, err := st.Claim(ctx, webhook.ClaimParams{Owner: fmt.Sprint(c), Now: time.Now(), Limit: 8, Lease: time.Minute})
				if !assert.NoError(t, err) {
					return
				}
				if len(cs) == 0 {
					select {
					case <-done:
						return
					case <-time.After(3 * time.Millisecond):
					}
					continue
				}
				mu.Lock()
				for _, x := range cs {
					k := x.Delivery.OrderingKey
					if other, ok := inflight[k]; ok {
						violations = append(violations, fmt.Sprintf("%s claimed while %s of key %s is in flight", x.Delivery.ID, other, k))
					}
					inflight[k] = x.Delivery.ID
				}
				mu.Unlock()
				recs := make([]webhook.Record, len(cs))
				for i, x := range cs {
					st := webhook.StateSucceeded
					if rng.IntN(3) == 0 {
						st = webhook.StatePending
					}
					recs[i] = webhook.Record{DeliveryID: x.Delivery.ID, Lease: x.Lease, Now: time.Now(), State: st, NextAttemptAt: time.Now()}
				}
				// Out of flight before the record: once it commits, the
				// next of the queue may be claimed at once.
				mu.Lock()
				for i, x := range cs {
					delete(inflight, x.Delivery.OrderingKey)
					if recs[i].State == webhook.StateSucceeded {
						finished[x.Delivery.OrderingKey] = append(finished[x.Delivery.OrderingKey], x.Delivery.ID)
					}
				}
				mu.Unlock()
				applied, err := st.Record(ctx, recs)
				if !assert.NoError(t, err) {
					return
				}
				for i, ok := range applied {
					assert.True(t, ok, "record of %s", recs[i].DeliveryID)
				}
			}
		}()
	}

	published := make([][]string, publishers) // per publisher, delivery IDs in call order
	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := range perPublisher {
				key := fmt.Sprintf("key%d", (p+i)%keys)
				id := fmt.Sprintf("p%d_%03d", p, i)
				msg := &webhook.Message{ID: "msg_" + id, Type: "a.b", Payload: []byte(`{}`), OrderingKey: key, CreatedAt: now}
				d := &webhook.Delivery{ID: "dlv_" + id, MessageID: msg.ID, EndpointID: ep.ID, EventType: "a.b",
					State: webhook.StatePending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now, Ordered: true, OrderingKey: key}
				if !assert.NoError(t, stores[p%2].InsertMessage(ctx, msg, []*webhook.Delivery{d})) {
					return
				}
				published[p] = append(published[p], d.ID)
			}
		}()
	}
	start := time.Now()
	pubs.Wait()
	t.Logf("published in %s", time.Since(start))
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+quote(a.Schema())+".deliveries WHERE state = 'succeeded'").Scan(&n))
		return n == publishers*perPublisher
	}, 60*time.Second, 10*time.Millisecond, "every delivery succeeds")
	t.Logf("all finished %s after the start", time.Since(start))
	close(done)
	claimers.Wait()

	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, violations)
	// Each queue finished every one of its deliveries, and in an order
	// that keeps each publisher's call order (concurrent publishes have
	// no order between them: the one whose statement committed first may
	// become the head though its seq is larger).
	rows, err := pool.Query(ctx, "SELECT ordering_key, id FROM "+quote(a.Schema())+".deliveries ORDER BY ordering_key, seq")
	require.NoError(t, err)
	bySeq := map[string][]string{}
	var k, id string
	_, err = pgx.ForEachRow(rows, []any{&k, &id}, func() error { bySeq[k] = append(bySeq[k], id); return nil })
	require.NoError(t, err)
	require.Len(t, bySeq, keys)
	rank := map[string]int{}
	inversions := 0
	for k, ids := range bySeq {
		assert.ElementsMatch(t, ids, finished[k], "key %s: each delivery finished once", k)
		for i, id := range finished[k] {
			rank[id] = i
			if i < len(ids) && ids[i] != id {
				inversions++
			}
		}
	}
	t.Logf("%d of %d deliveries finished at another place than their seq's (concurrent publishes)", inversions, publishers*perPublisher)
	for p, ids := range published {
		last := map[string]int{}
		for i, id := range ids {
			key := fmt.Sprintf("key%d", (p+i)%keys)
			if r, ok := last[key]; ok {
				assert.Less(t, r, rank[id], "publisher %d: %s finished before its predecessor of key %s", p, id, key)
			}
			last[key] = rank[id]
		}
	}
	// Statements carried several deliveries of one queue.
	var coalesced int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT seq >> 24 FROM `+quote(a.Schema())+
		`.deliveries GROUP BY endpoint_id, ordering_key, seq >> 24 HAVING count(*) > 1) x`).Scan(&coalesced))
	t.Logf("%d statement-queue pairs carried more than one delivery of the queue", coalesced)
	assert.Positive(t, coalesced, "group commit coalesced publishes of one queue")
}

// TestOrderedReleaseUnderLoad: turning Ordered off while queues are
// claimed and finished leaves no delivery waiting behind nothing: every
// delivery is delivered.
func TestOrderedReleaseUnderLoad(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	ep := ordEndpoint(t, s, true)
	now := time.Now().UTC()
	const n = 300
	insertOrdered(t, s, ep, now, n, func(i int) string { return fmt.Sprintf("k%d", i%10) })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cs := claimAt(t, s, time.Now(), 4)
				for _, c := range cs {
					succeed(t, s, c, time.Now())
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	got, err := s.GetEndpoint(ctx, ep.ID)
	require.NoError(t, err)
	got.Ordered = false
	require.NoError(t, s.UpdateEndpoint(ctx, got))
	require.Eventually(t, func() bool {
		var left int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+quote(s.Schema())+".deliveries WHERE state = 'pending'").Scan(&left))
		return left == 0
	}, 30*time.Second, 10*time.Millisecond, "nothing left waiting")
	close(stop)
	wg.Wait()
	var released int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+quote(s.Schema())+".deliveries WHERE seq IS NULL").Scan(&released))
	t.Logf("%d of %d deliveries were released unordered", released, n)
	assert.Positive(t, released)
}

// TestOrderedPublishTxHoldsOnlyItsQueue: a host transaction holding an
// ordered publish keeps its queue locked until it commits: another
// publish to that queue waits for the commit (and comes after it in the
// queue), while unordered publishes through the same store, whose group
// commit has a lane of its own, go through at once.
func TestOrderedPublishTxHoldsOnlyItsQueue(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	ord, plain := ordEndpoint(t, s, true), ordEndpoint(t, s, false)
	now := time.Now().UTC()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	m1, d1 := ordMsg("k", now, ord)
	require.NoError(t, s.InsertMessageTx(ctx, tx, m1, d1))

	m2, d2 := ordMsg("k", now, ord)
	second := make(chan error, 1)
	go func() { second <- s.InsertMessage(ctx, m2, d2) }()
	for i := range 5 {
		m, ds := ordMsg(fmt.Sprint("plain ", i), now, plain)
		uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.InsertMessage(uctx, m, ds)
		cancel()
		require.NoError(t, err, "an unordered publish does not wait for the host's transaction")
	}
	select {
	case err := <-second:
		t.Fatalf("the publish to the held queue returned (%v) before the host committed", err)
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-second)
	cs := claimAt(t, s, now.Add(time.Second), 10)
	var ordered []string
	for _, c := range cs {
		if c.Delivery.Ordered {
			ordered = append(ordered, c.Delivery.ID)
		}
	}
	assert.Equal(t, []string{d1[0].ID}, ordered, "the host's publish is the head, the other waits")
	d, err := s.GetDelivery(ctx, d2[0].ID)
	require.NoError(t, err)
	assert.Equal(t, d1[0].ID, d.WaitingFor)
}
