package main

import "testing"

// TestShow delivers one event in each envelope, signature verified.
func TestShow(t *testing.T) {
	if err := show("meta", MetaEnvelope); err != nil {
		t.Fatal(err)
	}
	if err := show("flat", FlatEnvelope); err != nil {
		t.Fatal(err)
	}
}
