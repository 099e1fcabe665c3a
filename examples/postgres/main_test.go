package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestRun runs the example end to end against HOOKLINE_TEST_DATABASE_URL.
func TestRun(t *testing.T) {
	url := os.Getenv("HOOKLINE_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("HOOKLINE_REQUIRE_POSTGRES") == "1" {
			t.Fatal("HOOKLINE_TEST_DATABASE_URL is unset but HOOKLINE_REQUIRE_POSTGRES=1")
		}
		t.Skip("set HOOKLINE_TEST_DATABASE_URL (for example postgres://postgres@127.0.0.1:5432/test) to run it")
	}
	if err := run(url); err != nil {
		t.Fatal(err)
	}
}

// TestMain fails the run when a goroutine of the example (its dispatcher,
// servers, kept-alive client connections) outlives it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
