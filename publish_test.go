package webhook_test

import (
	"context"
	"errors"
	"testing"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublishOtherTenantsID: message IDs are global. Tenant B publishing an
// ID tenant A used gets ErrConflict, never A's message, and stores nothing;
// A publishing it again is idempotent as ever.
func TestPublishOtherTenantsID(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, nil)
	ctx := context.Background()
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{Tenant: "tenant-alpha", URL: "https://example.com/a"})
	epB := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{Tenant: "tenant-bravo", URL: "https://example.com/b"})
	a, err := d.Publish(ctx, rewardIssued{CustomerID: "alpha-customer", Points: 7}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-alpha"})
	require.NoError(t, err)

	got, err := d.Publish(ctx, rewardIssued{CustomerID: "bravo-customer"}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-bravo"})
	require.ErrorIs(t, err, webhook.ErrConflict)
	assert.Nil(t, got, "nothing of A's message is returned")
	assert.NotErrorIs(t, err, webhook.ErrDuplicate)
	storetest.AssertRevealsNothing(t, err, a)
	assert.NotContains(t, err.Error(), "alpha-customer")
	assert.Contains(t, err.Error(), "unique across tenants", "the error says what to do")
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: epB.ID})
	require.NoError(t, err)
	assert.Empty(t, ds, "B's publish stored nothing")

	again, err := d.Publish(ctx, rewardIssued{CustomerID: "alpha-customer", Points: 8}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-alpha"})
	require.NoError(t, err, "the same tenant's ID again is idempotent")
	assert.Equal(t, string(a.Payload), string(again.Payload), "the first message is returned")
	assert.Len(t, deliveriesOf(t, d.Dispatcher, "order-1"), 1)
}

// duplicateBlind is a Store that answers ErrDuplicate whatever the tenant
// of the stored message (as stores written before the tenant rule may): the
// dispatcher must still not hand out the other tenant's message.
type duplicateBlind struct{ webhook.Store }

func (s duplicateBlind) InsertMessage(ctx context.Context, msg *webhook.Message, ds []*webhook.Delivery) error {
	err := s.Store.InsertMessage(ctx, msg, ds)
	if errors.Is(err, webhook.ErrConflict) {
		return webhook.ErrDuplicate
	}
	return err
}

func TestPublishOtherTenantsIDStoreBlind(t *testing.T) {
	t.Parallel()
	st := webhook.NewMemoryStore()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: duplicateBlind{st}})
	require.NoError(t, err)
	defer d.Shutdown(context.Background()) //nolint:errcheck
	ctx := context.Background()
	a, err := d.Publish(ctx, rewardIssued{CustomerID: "alpha-customer"}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-alpha"})
	require.NoError(t, err)
	got, err := d.Publish(ctx, rewardIssued{}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-bravo"})
	require.ErrorIs(t, err, webhook.ErrConflict)
	assert.Nil(t, got)
	storetest.AssertRevealsNothing(t, err, a)
}

// TestPublishUnderDeadlines: an error from Publish means nothing was
// stored, whenever the caller's context ends.
func TestPublishUnderDeadlines(t *testing.T) {
	t.Parallel()
	st := webhook.NewMemoryStore()
	defer st.Close()
	o := storetest.PublishUnderDeadlines(t, st, 300)
	t.Logf("memory store: %s", o)
}

// TestPublishRacingDeleteEndpoint: an endpoint deleted between a publish's
// endpoint lookup and its store write gets no delivery, and the publish
// succeeds.
func TestPublishRacingDeleteEndpoint(t *testing.T) {
	t.Parallel()
	st := webhook.NewMemoryStore()
	defer st.Close()
	storetest.PublishRacingDeleteEndpoint(t, st)
}
