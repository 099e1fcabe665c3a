package pgstore_test

import (
	"testing"

	"github.com/hookline/webhook/storetest"
)

// TestShutdownUnderLoad: Shutdown with 1,000 attempts in flight returns
// within its context, and a new dispatcher on the same schema (a restart)
// delivers everything that was cut off.
func TestShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	storetest.ShutdownUnderLoad(t, newSchemaStore(t, testPool(t), nil), 1000)
}
