package pgstore_test

import (
	"context"
	"strings"
	"testing"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublishTxOtherTenantsID: in a transaction as outside, an ID taken by
// another tenant's message is ErrConflict that tells nothing of it; the
// same tenant's ID is ErrDuplicate.
func TestPublishTxOtherTenantsID(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	st := newSchemaStore(t, pool, nil)
	d := newDispatcher(t, st, false, nil)
	ctx := context.Background()
	require.NoError(t, d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "tenant-alpha", URL: "https://example.com/a"}))
	epB := &webhook.Endpoint{Tenant: "tenant-bravo", URL: "https://example.com/b"}
	require.NoError(t, d.CreateEndpoint(ctx, epB))
	a, err := d.Publish(ctx, orderPlaced{OrderID: 4242}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-alpha"})
	require.NoError(t, err)

	got, err := d.Publish(ctx, orderPlaced{OrderID: 7}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-bravo"})
	require.ErrorIs(t, err, webhook.ErrConflict)
	assert.Nil(t, got)
	storetest.AssertRevealsNothing(t, err, a)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	got, err = webhook.PublishTx(ctx, d, tx, orderPlaced{OrderID: 7}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-bravo"})
	require.ErrorIs(t, err, webhook.ErrConflict)
	assert.NotErrorIs(t, err, webhook.ErrDuplicate)
	assert.Nil(t, got)
	storetest.AssertRevealsNothing(t, err, a)
	assert.False(t, strings.Contains(err.Error(), "4242"), "no payload in the error")
	require.NoError(t, tx.Commit(ctx))
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: epB.ID})
	require.NoError(t, err)
	assert.Empty(t, ds, "B's publish stored nothing")

	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = webhook.PublishTx(ctx, d, tx, orderPlaced{OrderID: 1}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-alpha"})
	assert.ErrorIs(t, err, webhook.ErrDuplicate, "the same tenant's ID")
	require.NoError(t, tx.Rollback(ctx))

	// A duplicate within one transaction, not yet committed.
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = webhook.PublishTx(ctx, d, tx, orderPlaced{OrderID: 2}, &webhook.PublishOpts{ID: "order-2", Tenant: "tenant-alpha"})
	require.NoError(t, err)
	_, err = webhook.PublishTx(ctx, d, tx, orderPlaced{OrderID: 2}, &webhook.PublishOpts{ID: "order-2", Tenant: "tenant-alpha"})
	assert.ErrorIs(t, err, webhook.ErrDuplicate)
}
