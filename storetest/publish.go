package storetest

import (
	"context"
	"strings"
	"testing"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testInsertMessageOtherTenant: message IDs are global. An ID taken by
// another tenant's message is ErrConflict (not ErrDuplicate), stores
// nothing, and the error tells nothing of the other message.
func testInsertMessageOtherTenant(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	epA, epB := mustEndpoint(t, s, "tenant-alpha"), mustEndpoint(t, s, "tenant-bravo")
	msgID := id("order")
	a := &webhook.Message{ID: msgID, Tenant: "tenant-alpha", Type: "c.confidential",
		Payload: []byte(`{"secret":"alpha-payload"}`), Metadata: map[string]string{"k": "alpha-meta"}, CreatedAt: base}
	dA := &webhook.Delivery{ID: id("dlv"), MessageID: msgID, EndpointID: epA.ID, Tenant: a.Tenant, EventType: a.Type,
		State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base}
	require.NoError(t, s.InsertMessage(ctx, a, []*webhook.Delivery{dA}))

	b := &webhook.Message{ID: msgID, Tenant: "tenant-bravo", Type: "a.b", Payload: []byte(`{"n":2}`), CreatedAt: base}
	dB := &webhook.Delivery{ID: id("dlv"), MessageID: msgID, EndpointID: epB.ID, Tenant: b.Tenant, EventType: b.Type,
		State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base}
	err := s.InsertMessage(ctx, b, []*webhook.Delivery{dB})
	require.ErrorIs(t, err, webhook.ErrConflict, "another tenant's ID")
	assert.NotErrorIs(t, err, webhook.ErrDuplicate, "ErrDuplicate is for the same tenant's ID only")
	AssertRevealsNothing(t, err, a)

	got, err := s.GetMessage(ctx, msgID)
	require.NoError(t, err)
	assert.Equal(t, "tenant-alpha", got.Tenant, "the first message stays")
	assert.Equal(t, string(a.Payload), string(got.Payload))
	_, err = s.GetDelivery(ctx, dB.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound, "nothing of the refused insert is stored")
	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: msgID})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, dA.ID, ds[0].ID)

	// The same tenant again is a duplicate, as ever.
	again := *a
	assert.ErrorIs(t, s.InsertMessage(ctx, &again, nil), webhook.ErrDuplicate)
}

// AssertRevealsNothing fails t when err's text holds anything of other (its
// tenant, type, payload or metadata) but its ID.
func AssertRevealsNothing(t *testing.T, err error, other *webhook.Message) {
	t.Helper()
	require.Error(t, err)
	text := err.Error()
	leaks := []string{other.Tenant, other.Type, string(other.Payload)}
	for k, v := range other.Metadata {
		leaks = append(leaks, k+"="+v, v)
	}
	for _, l := range leaks {
		if l != "" && strings.Contains(text, l) {
			t.Errorf("the error %q reveals %q of another tenant's message", text, l)
		}
	}
}
