package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

const (
	envURL     = "HOOKLINE_TEST_DATABASE_URL"
	envRequire = "HOOKLINE_REQUIRE_POSTGRES"
)

var shared struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

// testPool returns the package's shared pool, skipping the test when no
// database is configured (failing instead under HOOKLINE_REQUIRE_POSTGRES=1).
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("%s is unset but %s=1: the Postgres tests must run", envURL, envRequire)
		}
		t.Skipf("Postgres tests skipped: set %s (for example postgres://postgres@127.0.0.1:5432/test) to run them", envURL)
	}
	shared.once.Do(func() {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			shared.err = err
			return
		}
		// Tests run in parallel on 2 cores: a small pool is plenty.
		cfg.MaxConns = 8
		shared.pool, shared.err = pgxpool.NewWithConfig(context.Background(), cfg)
	})
	require.NoError(t, shared.err, "connecting to %s", url)
	return shared.pool
}

// newSchemaStore returns a migrated store in a fresh schema, dropped when
// the test ends.
func newSchemaStore(t testing.TB, pool *pgxpool.Pool, opts *pgstore.Options) *pgstore.Store {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "hookline_test_" + hex.EncodeToString(b[:])
	var o pgstore.Options
	if opts != nil {
		o = *opts
	}
	o.Schema = schema
	s := pgstore.New(pool, &o)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Migrate(ctx))
	t.Cleanup(func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return s
}

func quote(ident string) string { return pgx.Identifier{ident}.Sanitize() }

// explainClaim returns the plan, with its run time and buffers, of the UPDATE
// inside claim_deliveries under plan_cache_mode mode, skipping the
// endpoints of the array literal skip, as auto_explain
// reports nested statements, in a transaction that is rolled back.
func explainClaim(t *testing.T, pool *pgxpool.Pool, store *pgstore.Store, mode, skip string) string {
	ctx := context.Background()
	cfg := pool.Config().ConnConfig.Copy()
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	c, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer c.Close(ctx) //nolint:errcheck
	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	for _, set := range []string{"LOAD 'auto_explain'", "SET LOCAL plan_cache_mode = " + mode,
		"SET LOCAL auto_explain.log_min_duration = 0", "SET LOCAL auto_explain.log_nested_statements = on",
		"SET LOCAL auto_explain.log_analyze = on", "SET LOCAL auto_explain.log_buffers = on",
		"SET LOCAL auto_explain.log_level = notice"} {
		_, err = tx.Exec(ctx, set, pgx.QueryExecModeSimpleProtocol)
		require.NoError(t, err)
	}
	_, err = tx.Exec(ctx, `SELECT count(*) FROM `+quote(store.Schema())+`.claim_deliveries(now(), $1, 64, 'tok', 'bench', now() + interval '25 seconds')`,
		pgx.QueryExecModeSimpleProtocol, skip)
	require.NoError(t, err)
	var plan string
	for _, n := range notices {
		if strings.Contains(n, "UPDATE") && strings.Contains(n, "deliveries_claim") {
			plan = n
		}
	}
	t.Logf("the claim's UPDATE, %s, skipping %s:\n%s", mode, skip, plan)
	require.NotEmpty(t, plan, "auto_explain reported the claim's UPDATE")
	return plan
}
