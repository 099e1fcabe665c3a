package main

import "testing"

// TestRun runs the example end to end: every delivery must succeed.
func TestRun(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
