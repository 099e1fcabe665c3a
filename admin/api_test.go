package admin_test

import (
	"testing"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/admin/admintest"
	"github.com/stretchr/testify/require"
)

func TestAPIMemoryStore(t *testing.T) {
	t.Parallel()
	admintest.Run(t, func(t *testing.T, cfg webhook.Config) *webhook.Dispatcher {
		cfg.Store = webhook.NewMemoryStore()
		d, err := webhook.New(cfg)
		require.NoError(t, err)
		return d
	})
}
