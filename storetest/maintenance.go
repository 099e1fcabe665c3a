package storetest

import (
	"context"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testRequeue(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, "t")
	fail := func() string {
		_, ds := publish(t, s, base, ep)
		c, err := s.ClaimDelivery(ctx, ds[0].ID, webhook.ClaimParams{Owner: "t", Now: base, Lease: time.Minute})
		require.NoError(t, err)
		require.True(t, record(t, s, webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: base,
			Attempt: attempt(c, 1, 500, base), State: webhook.StateFailed}))
		return ds[0].ID
	}
	f1, f2 := fail(), fail()
	_, pending := publish(t, s, base.Add(time.Hour), ep)

	at := base.Add(time.Minute)
	n, err := s.Requeue(ctx, webhook.RequeueParams{DeliveryID: f1, At: at})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	d, err := s.GetDelivery(ctx, f1)
	require.NoError(t, err)
	assert.Equal(t, webhook.StatePending, d.State)
	assert.Equal(t, 1, d.Attempts, "attempt count kept")
	assert.True(t, d.NextAttemptAt.Equal(at))
	cs := claim(t, s, at, 10)
	require.Len(t, cs, 1)
	assert.Equal(t, f1, cs[0].Delivery.ID)

	n, err = s.Requeue(ctx, webhook.RequeueParams{EndpointID: ep.ID, State: webhook.StateFailed, Since: base, At: at})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "only the failed one left")
	d, err = s.GetDelivery(ctx, f2)
	require.NoError(t, err)
	assert.Equal(t, webhook.StatePending, d.State)
	n, err = s.Requeue(ctx, webhook.RequeueParams{EndpointID: ep.ID, Since: base.Add(time.Second), At: at})
	require.NoError(t, err)
	assert.Equal(t, 0, n, "Since bounds CreatedAt")

	// Requeue of a pending delivery moves its due time.
	n, err = s.Requeue(ctx, webhook.RequeueParams{DeliveryID: pending[0].ID, At: at})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	ids := map[string]bool{}
	for _, c := range claim(t, s, at, 10) {
		ids[c.Delivery.ID] = true
	}
	assert.True(t, ids[pending[0].ID] && ids[f2])
	_, err = s.Requeue(ctx, webhook.RequeueParams{DeliveryID: "nope", At: at})
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}

func testPurge(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, "t")
	msg, ds := publish(t, s, base, ep)
	_, keep := publish(t, s, base, ep)
	c, err := s.ClaimDelivery(ctx, ds[0].ID, webhook.ClaimParams{Owner: "t", Now: base, Lease: time.Minute})
	require.NoError(t, err)
	require.True(t, record(t, s, webhook.Record{DeliveryID: ds[0].ID, Lease: c.Lease, Now: base,
		Attempt: attempt(c, 1, 200, base), State: webhook.StateSucceeded}))

	n, err := s.Purge(ctx, base, 100)
	require.NoError(t, err)
	assert.Equal(t, 0, n, "nothing finished before base")
	n, err = s.Purge(ctx, base.Add(time.Hour), 100)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = s.GetDelivery(ctx, ds[0].ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = s.GetMessage(ctx, msg.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound, "a message left without deliveries goes")
	as, _, err := s.ListAttempts(ctx, webhook.AttemptQuery{DeliveryID: ds[0].ID})
	require.NoError(t, err)
	assert.Empty(t, as)
	_, err = s.GetDelivery(ctx, keep[0].ID)
	assert.NoError(t, err, "pending deliveries stay")
}

// testBacklog checks webhook.BacklogCounter, for stores that implement it,
// through every write that moves a delivery into or out of the pending
// state or gives a pending one its first attempt. Backlog reads the wall
// clock for OldestDue, so deliveries are due either an hour ago (due) or at
// base, which is years ahead; claims at base lease until after base.
func testBacklog(t *testing.T, s webhook.Store) {
	bc, ok := s.(webhook.BacklogCounter)
	if !ok {
		t.Skip("the store does not implement webhook.BacklogCounter")
	}
	ctx := context.Background()
	check := func(what string, pending, retrying int, oldestDue time.Time) {
		t.Helper()
		b, err := bc.Backlog(ctx)
		require.NoError(t, err, what)
		assert.Equal(t, pending, b.Pending, "%s: pending", what)
		assert.Equal(t, retrying, b.Retrying, "%s: retrying", what)
		assert.True(t, b.OldestDue.Equal(oldestDue), "%s: oldest due %v, want %v", what, b.OldestDue, oldestDue)
	}
	check("empty store", 0, 0, time.Time{})

	epA, epB := mustEndpoint(t, s, "t"), mustEndpoint(t, s, "u")
	_, m1 := publish(t, s, base, epA, epB)
	_, m2 := publish(t, s, base, epA, epB)
	check("published, none due yet", 4, 0, time.Time{})

	due := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	_, m3 := publish(t, s, due, epA)
	msg4, m4 := publish(t, s, due.Add(time.Minute), epB)
	check("published, two due", 6, 0, due)
	assert.ErrorIs(t, s.InsertMessage(ctx, msg4, m4), webhook.ErrDuplicate)
	check("a duplicate publish stores nothing", 6, 0, due)

	d1a, d1b, d2b, d3a, d4b := m1[0].ID, m1[1].ID, m2[1].ID, m3[0].ID, m4[0].ID
	byID := map[string]*webhook.Claimed{}
	for _, c := range claim(t, s, base, 10) {
		byID[c.Delivery.ID] = c
	}
	require.Len(t, byID, 6)
	check("all leased: claims change no count, and leased is not due", 6, 0, time.Time{})

	rec := func(id string, status int, state webhook.DeliveryState, next time.Time) webhook.Record {
		c := byID[id]
		r := webhook.Record{DeliveryID: id, Lease: c.Lease, Now: base, State: state, NextAttemptAt: next}
		if status != 0 {
			r.Attempt = attempt(c, c.Delivery.Attempts+1, status, base)
		}
		return r
	}
	applied, err := s.Record(ctx, []webhook.Record{
		rec(d3a, 500, webhook.StatePending, base.Add(time.Minute)), // will retry
		rec(d4b, 0, webhook.StatePending, due.Add(time.Minute)),    // put back without an attempt
		rec(d1a, 200, webhook.StateSucceeded, time.Time{}),
		rec(d1b, 500, webhook.StateFailed, time.Time{}),
	})
	require.NoError(t, err)
	require.Equal(t, []bool{true, true, true, true}, applied)
	check("one retrying, one put back, two finished", 4, 1, due.Add(time.Minute))
	assert.False(t, record(t, s, rec(d1a, 200, webhook.StateSucceeded, time.Time{})))
	check("a record that does not count changes nothing", 4, 1, due.Add(time.Minute))

	later := base.Add(time.Minute)
	c, err := s.ClaimDelivery(ctx, d3a, webhook.ClaimParams{Owner: "t", Now: later, Lease: time.Minute})
	require.NoError(t, err)
	require.True(t, record(t, s, webhook.Record{DeliveryID: d3a, Lease: c.Lease, Now: later,
		Attempt: attempt(c, 2, 500, later), State: webhook.StateFailed}))
	check("the retrying one failed for good", 3, 0, due.Add(time.Minute))

	n, err := s.Requeue(ctx, webhook.RequeueParams{EndpointID: epA.ID, State: webhook.StateFailed, Since: base, At: base})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	check("requeued with its attempts: retrying", 4, 1, due.Add(time.Minute))
	n, err = s.Requeue(ctx, webhook.RequeueParams{DeliveryID: d1b, At: due})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	check("requeued by ID, due", 5, 2, due)
	n, err = s.Requeue(ctx, webhook.RequeueParams{DeliveryID: d4b, At: base})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	check("requeueing a pending delivery moves its due time only", 5, 2, due)

	// epA holds d2a (leased), d3a (retrying) and d1a (succeeded).
	require.NoError(t, s.DeleteEndpoint(ctx, epA.ID))
	check("an endpoint's deliveries go with it", 3, 1, due)

	c, err = s.ClaimDelivery(ctx, d1b, webhook.ClaimParams{Owner: "t", Now: base, Lease: time.Minute})
	require.NoError(t, err)
	require.True(t, record(t, s, webhook.Record{DeliveryID: d1b, Lease: c.Lease, Now: base,
		Attempt: attempt(c, 2, 200, base), State: webhook.StateSucceeded}))
	check("the requeued one succeeded", 2, 0, time.Time{})
	n, err = s.Purge(ctx, base.Add(time.Hour), 100)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	check("purging finished deliveries leaves the counts", 2, 0, time.Time{})

	// d2b's lease has expired by then, d4b is due.
	var recs []webhook.Record
	for _, c := range claim(t, s, base.Add(time.Hour), 10) {
		recs = append(recs, webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: base.Add(time.Hour),
			Attempt: attempt(c, 1, 200, base.Add(time.Hour)), State: webhook.StateSucceeded})
	}
	require.Len(t, recs, 2)
	assert.ElementsMatch(t, []string{d2b, d4b}, []string{recs[0].DeliveryID, recs[1].DeliveryID})
	applied, err = s.Record(ctx, recs)
	require.NoError(t, err)
	require.Equal(t, []bool{true, true}, applied)
	check("all finished", 0, 0, time.Time{})
}
