package webhook_test

import (
	"os"
	"testing"

	"github.com/hookline/webhook/internal/leakcheck"
)

// TestMain fails the run when any goroutine of hookline outlives the tests:
// every dispatcher the tests start is shut down, and Shutdown must leave
// nothing running.
func TestMain(m *testing.M) { os.Exit(leakcheck.VerifyMain(m)) }
