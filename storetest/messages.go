package storetest

import (
	"context"
	"testing"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testInsertMessage(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep1, ep2 := mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t")
	msg, ds := publish(t, s, base, ep1, ep2)

	got, err := s.GetMessage(ctx, msg.ID)
	require.NoError(t, err)
	assert.Equal(t, string(msg.Payload), string(got.Payload))
	assert.Equal(t, msg.Metadata, got.Metadata)
	assert.Equal(t, "t", got.Tenant)
	assert.Equal(t, "a.b", got.Type)

	// The same ID again: ErrDuplicate and nothing new stored.
	dup := *msg
	dup.Payload = []byte(`{"other":true}`)
	extra := &webhook.Delivery{ID: id("dlv"), MessageID: msg.ID, EndpointID: ep1.ID, Tenant: "t", EventType: "a.b",
		State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base}
	assert.ErrorIs(t, s.InsertMessage(ctx, &dup, []*webhook.Delivery{extra}), webhook.ErrDuplicate)
	got, err = s.GetMessage(ctx, msg.ID)
	require.NoError(t, err)
	assert.Equal(t, string(msg.Payload), string(got.Payload))
	_, err = s.GetDelivery(ctx, extra.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound)

	// All or nothing: a delivery whose ID exists fails the whole insert.
	msg2 := &webhook.Message{ID: id("msg"), Tenant: "t", Type: "a.b", Payload: []byte(`{}`), CreatedAt: base}
	clash := *ds[0]
	clash.MessageID = msg2.ID
	fresh := &webhook.Delivery{ID: id("dlv"), MessageID: msg2.ID, EndpointID: ep2.ID, Tenant: "t", EventType: "a.b",
		State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base}
	assert.Error(t, s.InsertMessage(ctx, msg2, []*webhook.Delivery{fresh, &clash}))
	_, err = s.GetMessage(ctx, msg2.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound, "a failed insert stores no message")
	_, err = s.GetDelivery(ctx, fresh.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound, "a failed insert stores no delivery")

	// At most one delivery per endpoint: two to one endpoint are a
	// conflict, and nothing is stored.
	msg3 := &webhook.Message{ID: id("msg"), Tenant: "t", Type: "a.b", Payload: []byte(`{}`), CreatedAt: base}
	twice := func() *webhook.Delivery {
		return &webhook.Delivery{ID: id("dlv"), MessageID: msg3.ID, EndpointID: ep1.ID, Tenant: "t", EventType: "a.b",
			State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base}
	}
	assert.ErrorIs(t, s.InsertMessage(ctx, msg3, []*webhook.Delivery{twice(), twice()}), webhook.ErrConflict)
	_, err = s.GetMessage(ctx, msg3.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound, "a refused insert stores no message")

	// A message with no delivery is stored.
	lone, _ := publish(t, s, base)
	_, err = s.GetMessage(ctx, lone.ID)
	assert.NoError(t, err)
	_, err = s.GetMessage(ctx, "nope")
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}
