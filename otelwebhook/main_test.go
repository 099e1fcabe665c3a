package otelwebhook_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a dispatcher, exporter or server goroutine
// started by the tests outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
