package pgstore_test

import (
	"testing"

	"github.com/hookline/webhook/storetest"
)

// TestSoak runs the shared fault soak (chaos receivers: errors, 429s,
// hangs, resets, slow bodies, redirects) on a Postgres store: nothing lost,
// duplicates only where the receiver accepted an attempt recorded as
// failed.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak skipped in -short mode")
	}
	storetest.Soak(t, newSchemaStore(t, testPool(t), nil), storetest.SoakEvents(t))
}
