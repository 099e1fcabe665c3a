package pgstore_test

import (
	"context"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMatchCacheAcrossInstances: instance A caches its matches; endpoints
// created, disabled and deleted through instance B (another Store on the
// same schema) are seen by A's publishes once B's notification arrives,
// and A's own endpoint writes at once.
func TestMatchCacheAcrossInstances(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	a := newSchemaStore(t, pool, nil)
	b := pgstore.New(pool, &pgstore.Options{Schema: a.Schema()})
	t.Cleanup(func() { b.Close() })
	ctx := context.Background()
	da := newDispatcher(t, a, true, nil) // started: A's listener runs
	db := newDispatcher(t, b, false, nil)

	matches := func() int {
		eps, err := a.MatchEndpoints(ctx, webhook.MatchQuery{Tenant: "t", EventType: "order.placed"})
		require.NoError(t, err)
		return len(eps)
	}
	// A's listener connects in the background; until then A does not cache.
	require.Eventually(t, func() bool { return matches() == 0 }, 5*time.Second, 10*time.Millisecond)

	ep := &webhook.Endpoint{Tenant: "t", URL: "http://127.0.0.1:1/b"}
	require.NoError(t, db.CreateEndpoint(ctx, ep))
	require.Eventually(t, func() bool { return matches() == 1 }, 5*time.Second, time.Millisecond,
		"an endpoint created on B is seen by A")
	msg, err := da.Publish(ctx, orderPlaced{OrderID: 1}, &webhook.PublishOpts{Tenant: "t"})
	require.NoError(t, err)
	ds, _, err := da.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: msg.ID})
	require.NoError(t, err)
	assert.Len(t, ds, 1)

	require.NoError(t, db.DisableEndpoint(ctx, ep.ID, "test"))
	require.Eventually(t, func() bool { return matches() == 0 }, 5*time.Second, time.Millisecond,
		"an endpoint disabled on B is dropped by A")

	own := &webhook.Endpoint{Tenant: "t", URL: "http://127.0.0.1:1/a"}
	require.NoError(t, da.CreateEndpoint(ctx, own))
	assert.Equal(t, 1, matches(), "A's own write is seen at once")
	require.NoError(t, db.DeleteEndpoint(ctx, own.ID))
	require.Eventually(t, func() bool { return matches() == 0 }, 5*time.Second, time.Millisecond,
		"an endpoint deleted on B is dropped by A")
}
