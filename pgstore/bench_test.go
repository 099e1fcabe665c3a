package pgstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The benchmarks below load up to two million rows and take minutes, so
// they run only with HOOKLINE_PGSTORE_BENCH=1:
//
//	HOOKLINE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//	HOOKLINE_PGSTORE_BENCH=1 go test -run 'TestBench' -v -timeout 30m ./pgstore
const envBench = "HOOKLINE_PGSTORE_BENCH"

func benchOnly(t *testing.T) *pgxpool.Pool {
	t.Helper()
	if os.Getenv(envBench) != "1" {
		t.Skipf("benchmark: set %s=1 to run it", envBench)
	}
	return testPool(t)
}

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) time.Duration {
	t.Helper()
	start := time.Now()
	_, err := pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
	return time.Since(start)
}

// loadDeliveries inserts n messages with one delivery each to endpoint
// epID, in state, IDs numbered from first. Pending ones are due over the
// last hour.
func loadDeliveries(t *testing.T, pool *pgxpool.Pool, sch, epID, state string, first, n int) {
	t.Helper()
	mustExec(t, pool, `INSERT INTO `+sch+`.messages (id, tenant, event_type, payload, fanout, created_at)
		SELECT 'msg_' || lpad(g::text, 9, '0'), '', 'bench.event',
			convert_to('{"type":"bench.event","timestamp":"2030-01-01T00:00:00Z","data":{"n":' || g || '}}', 'UTF8'),
			1, now() - interval '1 hour'
		FROM generate_series($1::int, $2::int) g`, first, first+n-1)
	mustExec(t, pool, `INSERT INTO `+sch+`.deliveries (id, message_id, endpoint_id, tenant, event_type, state, attempts,
			next_attempt_at, claim_at, last_status_code, created_at, updated_at)
		SELECT 'dlv_' || lpad(g::text, 9, '0'), 'msg_' || lpad(g::text, 9, '0'), $3, '', 'bench.event', $4,
			CASE WHEN $4 = 'pending' THEN 0 ELSE 1 END,
			CASE WHEN $4 = 'pending' THEN now() - (g % 3600) * interval '1 second' END,
			CASE WHEN $4 = 'pending' THEN now() - (g % 3600) * interval '1 second' END,
			CASE WHEN $4 = 'pending' THEN 0 ELSE 200 END,
			now() - interval '1 hour', now() - interval '1 hour'
		FROM generate_series($1::int, $2::int) g`, first, first+n-1, epID, state)
}

// TestBenchClaim measures the claim (64 rows) with 1k and then 1M pending
// deliveries beside 1M finished ones, VACUUM ANALYZE between phases
// (autovacuum is off on the development machines), and prints EXPLAIN
// (ANALYZE, BUFFERS) of the claim as a prepared statement under a generic
// plan and a custom plan.
func TestBenchClaim(t *testing.T) {
	pool := benchOnly(t)
	store := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	sch := quote(store.Schema())
	now := time.Now()
	ep := &webhook.Endpoint{ID: "ep_bench", URL: "https://example.com/", Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
	require.NoError(t, store.CreateEndpoint(ctx, ep))

	start := time.Now()
	loadDeliveries(t, pool, sch, ep.ID, "succeeded", 1, 1_000_000)
	loadDeliveries(t, pool, sch, ep.ID, "pending", 1_000_001, 1_000)
	t.Logf("loaded 1M finished + 1k pending in %s", time.Since(start).Round(time.Millisecond))
	t.Logf("VACUUM ANALYZE: %s", mustExec(t, pool, "VACUUM ANALYZE "+sch+".deliveries, "+sch+".messages").Round(time.Millisecond))
	claimPhase(t, pool, store, "1k pending")

	start = time.Now()
	loadDeliveries(t, pool, sch, ep.ID, "pending", 1_001_001, 999_000)
	t.Logf("loaded 999k more pending in %s", time.Since(start).Round(time.Millisecond))
	t.Logf("VACUUM ANALYZE: %s", mustExec(t, pool, "VACUUM ANALYZE "+sch+".deliveries, "+sch+".messages").Round(time.Millisecond))
	claimPhase(t, pool, store, "1M pending")
}

func claimPhase(t *testing.T, pool *pgxpool.Pool, store *pgstore.Store, phase string) {
	ctx := context.Background()
	var pending, finished int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state <> 'pending')
		FROM `+quote(store.Schema())+`.deliveries`).Scan(&pending, &finished))
	t.Logf("== %s: %d pending, %d finished", phase, pending, finished)

	// The claim's UPDATE runs inside claim_deliveries (migration 0008),
	// whose planner settings keep every plan on the partial index: the
	// generic plan, the one a prepared claim settles on, is checked as
	// well as a custom one, with and without skipped endpoints.
	for _, mode := range []string{"force_generic_plan", "force_custom_plan"} {
		for _, skip := range []string{"{}", "{ep_other}"} {
			plan := explainClaim(t, pool, store, mode, skip)
			require.Contains(t, plan, "Index Scan using deliveries_claim", "%s, skip %s: the claim walks the partial index in order", mode, skip)
			require.NotContains(t, plan, "Sort", "%s, skip %s: no sort of the due rows", mode, skip)
			require.NotContains(t, plan, "Seq Scan", "%s, skip %s: no sequential scan", mode, skip)
		}
	}

	// Six claims of 64 through the store (one round trip each, an unnamed
	// statement planned with its parameters), then six of the same SQL as
	// a cached named prepared statement, for comparison. Each leases its
	// rows for an hour, so the next claim takes the following 64.
	var ds []time.Duration
	for range 6 {
		start := time.Now()
		cs, err := store.Claim(ctx, webhook.ClaimParams{Owner: "bench", Now: time.Now(), Limit: 64, Lease: time.Hour})
		ds = append(ds, time.Since(start))
		require.NoError(t, err)
		require.Len(t, cs, 64)
	}
	slices.Sort(ds)
	t.Logf("%s: Store.Claim(64) round trip min %s, median %s, max %s", phase, ds[0], ds[len(ds)/2], ds[len(ds)-1])
	ds = ds[:0]
	for range 6 {
		start := time.Now()
		rows, err := pool.Query(ctx, pgstore.ClaimSQL(store), time.Now(), []string{}, 64, "tok", "bench", time.Now().Add(time.Hour))
		require.NoError(t, err)
		n := 0
		for rows.Next() {
			n++
		}
		require.NoError(t, rows.Err())
		ds = append(ds, time.Since(start))
		require.Equal(t, 64, n)
	}
	slices.Sort(ds)
	t.Logf("%s: the same claim as a cached prepared statement: min %s, median %s, max %s", phase, ds[0], ds[len(ds)/2], ds[len(ds)-1])
}

// TestBenchDeliveries measures deliveries per second with one and with two
// dispatcher instances (each with its own pool of 4 connections, as two
// processes would have) against a fast local receiver: 20,000 pending
// deliveries over 8 endpoints, from the first claim to the last record.
func TestBenchDeliveries(t *testing.T) {
	pool := benchOnly(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	for _, instances := range []int{1, 2, 1, 2} {
		t.Run(fmt.Sprintf("instances=%d", instances), func(t *testing.T) {
			benchDeliveries(t, pool, srv.URL, instances, 20_000)
		})
	}
}

func benchDeliveries(t *testing.T, pool *pgxpool.Pool, url string, instances, n int) {
	ctx := context.Background()
	store := newSchemaStore(t, pool, nil)
	sch := quote(store.Schema())
	now := time.Now()
	const endpoints = 8
	for e := range endpoints {
		ep := &webhook.Endpoint{ID: fmt.Sprintf("ep_%d", e), URL: url, Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
		require.NoError(t, store.CreateEndpoint(ctx, ep))
	}
	loadDeliveries(t, pool, sch, "ep_0", "pending", 1, n)
	mustExec(t, pool, `UPDATE `+sch+`.deliveries SET endpoint_id = 'ep_' || (right(id, 3)::int % $1)`, endpoints)
	mustExec(t, pool, "VACUUM ANALYZE "+sch+".deliveries, "+sch+".messages")

	var ds []*webhook.Dispatcher
	var counters []*countingStore
	for range instances {
		cfg, err := pgxpool.ParseConfig(os.Getenv(envURL))
		require.NoError(t, err)
		cfg.MaxConns = 4
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(p.Close)
		st := &countingStore{Store: pgstore.New(p, &pgstore.Options{Schema: store.Schema()})}
		t.Cleanup(func() { st.Close() })
		counters = append(counters, st)
		d, err := webhook.New(webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true})
		require.NoError(t, err)
		ds = append(ds, d)
	}
	start := time.Now()
	for _, d := range ds {
		require.NoError(t, d.Start(ctx))
	}
	for {
		var pending int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+sch+".deliveries WHERE state = 'pending'").Scan(&pending))
		if pending == 0 {
			break
		}
		require.Less(t, time.Since(start), 5*time.Minute)
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	for _, d := range ds {
		require.NoError(t, d.Shutdown(ctx))
	}
	var ok int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+sch+".attempts WHERE status_code = 204").Scan(&ok))
	require.Equal(t, n, ok, "one successful attempt per delivery")
	t.Logf("%d instance(s): %d deliveries in %s = %.0f deliveries/s", instances, n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	for i, c := range counters {
		t.Logf("  instance %d: %d claims (%.1f deliveries each, %s in all), %d records (%.1f each, %s in all)", i,
			c.claims.Load(), float64(c.claimed.Load())/float64(max(1, c.claims.Load())), time.Duration(c.claimTime.Load()).Round(time.Millisecond),
			c.records.Load(), float64(c.recorded.Load())/float64(max(1, c.records.Load())), time.Duration(c.recordTime.Load()).Round(time.Millisecond))
	}
}

// countingStore counts the store calls of the hot path and their batch
// sizes; the other methods (Notify among them) pass through.
type countingStore struct {
	*pgstore.Store
	claims, claimed, claimTime    atomic.Int64
	records, recorded, recordTime atomic.Int64
}

func (c *countingStore) Claim(ctx context.Context, p webhook.ClaimParams) ([]*webhook.Claimed, error) {
	start := time.Now()
	cs, err := c.Store.Claim(ctx, p)
	c.claimTime.Add(int64(time.Since(start)))
	c.claims.Add(1)
	c.claimed.Add(int64(len(cs)))
	return cs, err
}

func (c *countingStore) Record(ctx context.Context, recs []webhook.Record) ([]bool, error) {
	start := time.Now()
	applied, err := c.Store.Record(ctx, recs)
	c.recordTime.Add(int64(time.Since(start)))
	c.records.Add(1)
	c.recorded.Add(int64(len(recs)))
	return applied, err
}

// TestBenchBookkeeping measures the store alone, no HTTP: workers that
// claim a batch and record it at once (an attempt each), over 50,000
// pending deliveries, with batches of 100 and of 1.
func TestBenchBookkeeping(t *testing.T) {
	pool := benchOnly(t)
	for _, tc := range []struct{ workers, batch, n int }{{4, 100, 50_000}, {2, 100, 50_000}, {4, 1, 5_000}} {
		t.Run(fmt.Sprintf("workers=%d/batch=%d", tc.workers, tc.batch), func(t *testing.T) {
			ctx := context.Background()
			store := newSchemaStore(t, pool, nil)
			sch := quote(store.Schema())
			now := time.Now()
			ep := &webhook.Endpoint{ID: "ep_0", URL: "https://example.com/", Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
			require.NoError(t, store.CreateEndpoint(ctx, ep))
			loadDeliveries(t, pool, sch, ep.ID, "pending", 1, tc.n)
			mustExec(t, pool, "VACUUM ANALYZE "+sch+".deliveries, "+sch+".messages")
			var done atomic.Int64
			start := time.Now()
			errs := make(chan error, tc.workers)
			for range tc.workers {
				go func() {
					for {
						now := time.Now()
						cs, err := store.Claim(ctx, webhook.ClaimParams{Owner: "b", Now: now, Limit: tc.batch, Lease: time.Minute})
						if err != nil || len(cs) == 0 {
							errs <- err
							return
						}
						recs := make([]webhook.Record, len(cs))
						for i, c := range cs {
							recs[i] = webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: now, State: webhook.StateSucceeded,
								Attempt: &webhook.Attempt{ID: "att_" + c.Delivery.ID, DeliveryID: c.Delivery.ID, MessageID: c.Message.ID,
									EndpointID: c.Endpoint.ID, Number: 1, StartedAt: now, Duration: time.Millisecond, StatusCode: 200}}
						}
						if _, err := store.Record(ctx, recs); err != nil {
							errs <- err
							return
						}
						done.Add(int64(len(cs)))
					}
				}()
			}
			for range tc.workers {
				require.NoError(t, <-errs)
			}
			elapsed := time.Since(start)
			require.Equal(t, int64(tc.n), done.Load())
			t.Logf("%d workers, batches of %d: %d deliveries claimed and recorded in %s = %.0f/s",
				tc.workers, tc.batch, tc.n, elapsed.Round(time.Millisecond), float64(tc.n)/elapsed.Seconds())
		})
	}
}

// TestBenchPublish measures Publish from 8 goroutines (two endpoints
// subscribed, so two deliveries per message), with NOTIFY and without.
func TestBenchPublish(t *testing.T) {
	pool := benchOnly(t)
	for _, notify := range []bool{true, false, true, false} {
		t.Run(fmt.Sprintf("notify=%v", notify), func(t *testing.T) {
			ctx := context.Background()
			store := newSchemaStore(t, pool, &pgstore.Options{DisableNotify: !notify})
			d, err := webhook.New(webhook.Config{Store: store, AllowHTTP: true, AllowPrivateNetworks: true})
			require.NoError(t, err)
			for range 2 {
				require.NoError(t, d.CreateEndpoint(ctx, &webhook.Endpoint{URL: "http://127.0.0.1:1/"}))
			}
			const n, workers = 4000, 8
			var wg sync.WaitGroup
			start := time.Now()
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < n; i += workers {
						_, err := d.Publish(ctx, orderPlaced{OrderID: i}, nil)
						if !assert.NoError(t, err) {
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			t.Logf("notify=%v: %d publishes in %s = %.0f/s", notify, n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
		})
	}
}

// TestBenchClaimSkip measures the known cost of SkipEndpoints: a claim
// that skips an endpoint walks past that endpoint's due deliveries older
// than what it takes (100k here).
func TestBenchClaimSkip(t *testing.T) {
	pool := benchOnly(t)
	store := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	sch := quote(store.Schema())
	now := time.Now()
	for _, id := range []string{"ep_slow", "ep_fast"} {
		require.NoError(t, store.CreateEndpoint(ctx, &webhook.Endpoint{ID: id, URL: "https://example.com/", Secret: "whsec_x", CreatedAt: now, UpdatedAt: now}))
	}
	loadDeliveries(t, pool, sch, "ep_slow", "pending", 1, 100_000)
	loadDeliveries(t, pool, sch, "ep_fast", "pending", 100_001, 1_000)
	// The fast endpoint's deliveries came due last.
	mustExec(t, pool, `UPDATE `+sch+`.deliveries SET claim_at = now(), next_attempt_at = now() WHERE endpoint_id = 'ep_fast'`)
	mustExec(t, pool, "VACUUM ANALYZE "+sch+".deliveries, "+sch+".messages")
	for _, skip := range [][]string{nil, {"ep_slow"}} {
		var ds []time.Duration
		for range 5 {
			start := time.Now()
			cs, err := store.Claim(ctx, webhook.ClaimParams{Owner: "b", Now: time.Now(), Limit: 64, Lease: time.Hour, SkipEndpoints: skip})
			ds = append(ds, time.Since(start))
			require.NoError(t, err)
			require.Len(t, cs, 64)
		}
		slices.Sort(ds)
		t.Logf("skip %v: Claim(64) with 100k due deliveries of ep_slow ahead: median %s (min %s)", skip, ds[2], ds[0])
	}
}

// TestBenchBacklog measures Backlog with 100,000 pending deliveries beside
// 100,000 finished ones (after VACUUM ANALYZE), then again after half the
// pending ones finished without a vacuum since, which leaves dead entries
// at the head of the index OldestDue reads.
func TestBenchBacklog(t *testing.T) {
	pool := benchOnly(t)
	ctx := context.Background()
	store := newSchemaStore(t, pool, nil)
	sch := quote(store.Schema())
	now := time.Now()
	ep := &webhook.Endpoint{ID: "ep_0", URL: "https://example.com/", Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
	require.NoError(t, store.CreateEndpoint(ctx, ep))
	const n = 100_000
	loadDeliveries(t, pool, sch, ep.ID, "pending", 1, n)
	loadDeliveries(t, pool, sch, ep.ID, "succeeded", n+1, n)
	mustExec(t, pool, "VACUUM ANALYZE "+sch+".deliveries, "+sch+".messages, "+sch+".backlog")
	measure := func(phase string, wantPending int) {
		const calls = 200
		ds := make([]time.Duration, calls)
		var b webhook.Backlog
		for i := range ds {
			start := time.Now()
			var err error
			b, err = store.Backlog(ctx)
			ds[i] = time.Since(start)
			require.NoError(t, err)
		}
		require.Equal(t, wantPending, b.Pending)
		require.False(t, b.OldestDue.IsZero())
		first := ds[0]
		slices.Sort(ds)
		t.Logf("%s: Backlog %+v: first call %s, median %s, p95 %s over %d calls", phase, b,
			first, ds[calls/2], ds[calls*95/100], calls)
	}
	measure("100k pending, 100k finished, vacuumed", n)
	var plan strings.Builder
	rows, err := pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+pgstore.BacklogSQL(store))
	require.NoError(t, err)
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan.WriteString("\n\t" + line)
	}
	require.NoError(t, rows.Err())
	t.Logf("plan:%s", plan.String())

	// Finish the 50,000 earliest due, without vacuuming.
	for done := 0; done < n/2; {
		cs, err := store.Claim(ctx, webhook.ClaimParams{Owner: "b", Now: now, Limit: 1000, Lease: time.Minute})
		require.NoError(t, err)
		require.NotEmpty(t, cs)
		recs := make([]webhook.Record, len(cs))
		for i, c := range cs {
			recs[i] = webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: now, State: webhook.StateSucceeded}
		}
		_, err = store.Record(ctx, recs)
		require.NoError(t, err)
		done += len(cs)
	}
	measure("after finishing 50k without VACUUM", n/2)
}
