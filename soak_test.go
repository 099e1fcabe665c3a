package webhook_test

import (
	"testing"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/storetest"
)

func TestSoakMemoryStore(t *testing.T) {
	if testing.Short() {
		t.Skip("soak skipped in -short mode")
	}
	st := webhook.NewMemoryStore()
	defer st.Close()
	storetest.Soak(t, st, storetest.SoakEvents(t))
}
