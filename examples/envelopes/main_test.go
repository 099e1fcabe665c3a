package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestShow delivers one event in each envelope, signature verified.
func TestShow(t *testing.T) {
	if err := show("meta", MetaEnvelope); err != nil {
		t.Fatal(err)
	}
	if err := show("flat", FlatEnvelope); err != nil {
		t.Fatal(err)
	}
}

// TestMain fails the run when a goroutine of the example (its dispatcher,
// servers, kept-alive client connections) outlives it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
