package webhook_test

import (
	"testing"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) webhook.Store { return webhook.NewMemoryStore() })
}
