package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestRun runs the example end to end: every delivery must succeed.
func TestRun(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}

// TestMain fails the run when a goroutine of the example (its dispatcher,
// servers, kept-alive client connections) outlives it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
