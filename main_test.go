package webhook_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when any goroutine outlives the tests (goleak
// looks at every goroutine, the standard library's included: a kept-alive
// HTTP connection's readLoop counts): every dispatcher the tests start is
// shut down, and Shutdown must leave nothing running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
