package webhook_test

import (
	"testing"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/storetest"
)

func TestShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	st := webhook.NewMemoryStore()
	defer st.Close()
	storetest.ShutdownUnderLoad(t, st, 1000)
}
