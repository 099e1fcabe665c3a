package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
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
