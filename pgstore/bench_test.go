package pgstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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

	// The store sends the claim as an unnamed statement: Postgres plans it
	// with the actual parameters each time, as force_custom_plan does for
	// a prepared one. The generic plan is shown for comparison: it is why
	// the store does not leave the claim to the named statement cache.
	plan := explain(t, pool, store, "custom plan (what the store runs)", "force_custom_plan")
	require.Contains(t, plan, "Index Scan using deliveries_claim", "the claim walks the partial index in order")
	require.NotContains(t, plan, "Sort", "no sort of the due rows")
	require.NotContains(t, plan, "Seq Scan", "no sequential scan")
	explain(t, pool, store, "generic plan (for comparison; not used)", "force_generic_plan")

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

// explain prints EXPLAIN (ANALYZE, BUFFERS) of the claim, prepared, in a
// transaction that is rolled back.
func explain(t *testing.T, pool *pgxpool.Pool, store *pgstore.Store, name, mode string) string {
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	c := conn.Conn()
	sql := pgstore.ClaimSQL(store)
	_, err = c.Exec(ctx, "PREPARE hl_bench_claim(timestamptz, text[], int, text, text, timestamptz) AS "+sql, pgx.QueryExecModeSimpleProtocol)
	require.NoError(t, err)
	defer c.Exec(ctx, "DEALLOCATE hl_bench_claim", pgx.QueryExecModeSimpleProtocol) //nolint:errcheck
	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode, pgx.QueryExecModeSimpleProtocol)
	require.NoError(t, err)
	rows, err := tx.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) EXECUTE hl_bench_claim(now(), '{}', 64, 'tok', 'bench', now() + interval '25 seconds')`,
		pgx.QueryExecModeSimpleProtocol)
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	plan := strings.Join(lines, "\n")
	t.Logf("EXPLAIN (ANALYZE, BUFFERS) of the prepared claim, %s:\n%s", name, plan)
	require.Contains(t, plan, "deliveries_claim", "the claim uses the partial index")
	return plan
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
	for range instances {
		cfg, err := pgxpool.ParseConfig(os.Getenv(envURL))
		require.NoError(t, err)
		cfg.MaxConns = 4
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(p.Close)
		st := pgstore.New(p, &pgstore.Options{Schema: store.Schema()})
		t.Cleanup(func() { st.Close() })
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
}
