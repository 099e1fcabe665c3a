package main

import (
	"io"
	"log/slog"
	"testing"
)

// TestDemo runs the receiver demo: one event handled, its redelivery
// ignored, a forgery refused.
func TestDemo(t *testing.T) {
	if err := runDemo(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
}
