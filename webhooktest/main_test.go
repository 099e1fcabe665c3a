package webhooktest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a receiver's server or a dispatcher started
// by the tests outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
