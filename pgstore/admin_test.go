package pgstore_test

import (
	"testing"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/admin/admintest"
	"github.com/stretchr/testify/require"
)

// TestAdminAPI runs the admin handler's API suite (every route, operator
// and portal modes, the other-tenant table) on Postgres.
func TestAdminAPI(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	admintest.Run(t, func(t *testing.T, cfg webhook.Config) *webhook.Dispatcher {
		cfg.Store = newSchemaStore(t, pool, nil)
		d, err := webhook.New(cfg)
		require.NoError(t, err)
		return d
	})
}
