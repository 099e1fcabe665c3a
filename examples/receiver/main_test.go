package main

import (
	"io"
	"log/slog"
	"testing"

	"go.uber.org/goleak"
)

// TestDemo runs the receiver demo: one event handled, its redelivery
// ignored, a forgery refused.
func TestDemo(t *testing.T) {
	if err := runDemo(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
}

// TestMain fails the run when a goroutine of the example (its dispatcher,
// servers, kept-alive client connections) outlives it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
