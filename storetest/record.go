package storetest

import (
	"context"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testRecord(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, "t")
	_, ds := publish(t, s, base, ep)
	c := claim(t, s, base, 1)[0]

	at := base.Add(time.Second)
	a1 := attempt(c, 1, 500, at)
	require.True(t, record(t, s, webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: at, Attempt: a1,
		State: webhook.StatePending, NextAttemptAt: at.Add(5 * time.Second)}))

	d, err := s.GetDelivery(ctx, ds[0].ID)
	require.NoError(t, err)
	assert.Equal(t, webhook.StatePending, d.State)
	assert.Equal(t, 1, d.Attempts)
	assert.Equal(t, 500, d.LastStatusCode)
	assert.Equal(t, "HTTP 500", d.LastError)
	assert.True(t, d.NextAttemptAt.Equal(at.Add(5*time.Second)), "next attempt at %v", d.NextAttemptAt)
	assert.True(t, d.LastAttemptAt.Equal(at))

	assert.Empty(t, claim(t, s, at.Add(4*time.Second), 1), "not due before the retry time")
	assert.False(t, record(t, s, webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: at, Attempt: a1,
		State: webhook.StateSucceeded}), "a lease is spent by its record")

	c2 := claim(t, s, at.Add(5*time.Second), 1)
	require.Len(t, c2, 1)
	assert.Equal(t, 1, c2[0].Delivery.Attempts)
	at2 := at.Add(6 * time.Second)
	a2 := attempt(c2[0], 2, 200, at2)
	require.True(t, record(t, s, webhook.Record{DeliveryID: c.Delivery.ID, Lease: c2[0].Lease, Now: at2, Attempt: a2,
		State: webhook.StateSucceeded}))
	d, err = s.GetDelivery(ctx, ds[0].ID)
	require.NoError(t, err)
	assert.Equal(t, webhook.StateSucceeded, d.State)
	assert.Equal(t, 2, d.Attempts)
	assert.Equal(t, 200, d.LastStatusCode)
	assert.Empty(t, d.LastError)
	assert.Empty(t, claim(t, s, at2.Add(time.Hour), 10), "finished deliveries are never claimed")

	as, _, err := s.ListAttempts(ctx, webhook.AttemptQuery{DeliveryID: ds[0].ID})
	require.NoError(t, err)
	require.Len(t, as, 2)
	assert.Equal(t, 1, as[0].Number)
	assert.Equal(t, 2, as[1].Number)
	assert.Equal(t, 500, as[0].StatusCode)
	assert.Equal(t, 12*time.Millisecond, as[0].Duration)
	assert.Equal(t, "ok", as[1].Response)
	assert.True(t, as[0].StartedAt.Equal(at))

	// A record without an attempt finishes a delivery with its reason.
	_, ds2 := publish(t, s, base, ep)
	c3 := claim(t, s, base, 1)[0]
	require.True(t, record(t, s, webhook.Record{DeliveryID: c3.Delivery.ID, Lease: c3.Lease, Now: base,
		State: webhook.StateFailed, Error: "endpoint disabled"}))
	d, err = s.GetDelivery(ctx, ds2[0].ID)
	require.NoError(t, err)
	assert.Equal(t, webhook.StateFailed, d.State)
	assert.Equal(t, 0, d.Attempts)
	assert.Equal(t, "endpoint disabled", d.LastError)
}

func testStaleLease(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, "t")
	_, ds := publish(t, s, base, ep)
	first := claim(t, s, base, 1)[0]
	// The lease expires; another worker claims it.
	later := base.Add(31 * time.Second)
	second := claim(t, s, later, 1)
	require.Len(t, second, 1, "an expired lease makes the delivery claimable again")
	assert.NotEqual(t, first.Lease, second[0].Lease)

	assert.False(t, record(t, s, webhook.Record{DeliveryID: ds[0].ID, Lease: first.Lease, Now: later,
		Attempt: attempt(first, 1, 200, later), State: webhook.StateSucceeded}), "a stale lease does not count")
	d, err := s.GetDelivery(ctx, ds[0].ID)
	require.NoError(t, err)
	assert.Equal(t, webhook.StatePending, d.State)
	assert.Equal(t, 0, d.Attempts)
	as, _, err := s.ListAttempts(ctx, webhook.AttemptQuery{DeliveryID: ds[0].ID})
	require.NoError(t, err)
	assert.Empty(t, as, "nothing of a rejected record is written")

	assert.True(t, record(t, s, webhook.Record{DeliveryID: ds[0].ID, Lease: second[0].Lease, Now: later,
		Attempt: attempt(second[0], 1, 200, later), State: webhook.StateSucceeded}))
	assert.False(t, record(t, s, webhook.Record{DeliveryID: "nope", Lease: "x", Now: later, State: webhook.StateSucceeded}))
}
