package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

// TestRun runs the example end to end against HOOKLINE_TEST_DATABASE_URL
// and checks that it drops the schemas it made.
func TestRun(t *testing.T) {
	url := os.Getenv("HOOKLINE_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("HOOKLINE_REQUIRE_POSTGRES") == "1" {
			t.Fatal("HOOKLINE_TEST_DATABASE_URL is unset but HOOKLINE_REQUIRE_POSTGRES=1")
		}
		t.Skip("set HOOKLINE_TEST_DATABASE_URL (for example postgres://postgres@127.0.0.1:5432/test) to run it")
	}
	suffix := fmt.Sprintf("t%d", time.Now().UnixNano())
	if err := run(url, suffix); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)",
		[]string{"hookline_example_" + suffix, "shop_example_" + suffix}).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d of the run's schemas are still in the database", left)
	}
}

// TestMain fails the run when a goroutine of the example (its dispatcher,
// servers, kept-alive client connections) outlives it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
