package admin_test

import (
	"os"
	"testing"

	"github.com/hookline/webhook/internal/leakcheck"
)

// TestMain fails the run when a dispatcher or server goroutine started by
// the tests outlives them.
func TestMain(m *testing.M) { os.Exit(leakcheck.VerifyMain(m)) }
