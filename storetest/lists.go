package storetest

import (
	"context"
	"sort"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testListDeliveries(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep1, ep2 := mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t")
	other := mustEndpoint(t, s, "u")
	var ids []string
	var msgs []string
	for i := 0; i < 5; i++ {
		m, ds := publish(t, s, base, ep1, ep2)
		msgs = append(msgs, m.ID)
		ids = append(ids, ds[0].ID, ds[1].ID)
	}
	publish(t, s, base, other)

	var got []string
	q := webhook.DeliveryQuery{Tenant: "t", Limit: 4}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		ds, next, err := s.ListDeliveries(ctx, q)
		require.NoError(t, err)
		for _, d := range ds {
			got = append(got, d.ID)
			assert.Equal(t, "t", d.Tenant)
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	assert.Equal(t, ids, got, "newest first, every page")

	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep2.ID})
	require.NoError(t, err)
	assert.Len(t, ds, 5)
	ds, _, err = s.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: msgs[2]})
	require.NoError(t, err)
	assert.Len(t, ds, 2)
	ds, _, err = s.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: msgs[2], Tenant: "u"})
	require.NoError(t, err)
	assert.Empty(t, ds, "tenant filter applies to message lookups")

	// State filter.
	c := claim(t, s, base, 1)[0]
	require.True(t, record(t, s, webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: base,
		Attempt: attempt(c, 1, 200, base), State: webhook.StateSucceeded}))
	ds, _, err = s.ListDeliveries(ctx, webhook.DeliveryQuery{Tenant: "t", State: webhook.StateSucceeded})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, c.Delivery.ID, ds[0].ID)
	ds, _, err = s.ListDeliveries(ctx, webhook.DeliveryQuery{Tenant: "t", State: webhook.StatePending})
	require.NoError(t, err)
	assert.Len(t, ds, 9)

	// Time window on CreatedAt.
	ds, _, err = s.ListDeliveries(ctx, webhook.DeliveryQuery{Tenant: "t", Since: base.Add(time.Second)})
	require.NoError(t, err)
	assert.Empty(t, ds)
	ds, _, err = s.ListDeliveries(ctx, webhook.DeliveryQuery{Tenant: "t", Until: base.Add(time.Second)})
	require.NoError(t, err)
	assert.Len(t, ds, 10)

	// Attempts by endpoint.
	as, _, err := s.ListAttempts(ctx, webhook.AttemptQuery{EndpointID: c.Endpoint.ID})
	require.NoError(t, err)
	require.Len(t, as, 1)
	assert.Equal(t, c.Delivery.ID, as[0].DeliveryID)
}

func testStats(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep, other := mustEndpoint(t, s, "t"), mustEndpoint(t, s, "u")
	for i := 0; i < 4; i++ {
		publish(t, s, base, ep)
	}
	publish(t, s, base, other)
	cs := claim(t, s, base, 10)
	n := 0
	for _, c := range cs {
		if c.Endpoint.ID != ep.ID {
			continue
		}
		n++
		status, state := 200, webhook.StateSucceeded
		if n == 3 {
			status, state = 500, webhook.StateFailed
		}
		if n == 4 {
			continue // stays leased, pending
		}
		a := attempt(c, 1, status, base.Add(time.Duration(n)*time.Second))
		a.Duration = time.Duration(n*10) * time.Millisecond
		require.True(t, record(t, s, webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: base, Attempt: a, State: state}))
	}
	st, err := s.Stats(ctx, webhook.StatsQuery{EndpointID: ep.ID, Since: base})
	require.NoError(t, err)
	assert.Equal(t, 2, st.Counts[webhook.StateSucceeded])
	assert.Equal(t, 1, st.Counts[webhook.StateFailed])
	assert.Equal(t, 1, st.Counts[webhook.StatePending])
	assert.Equal(t, 3, st.Attempts)
	assert.Equal(t, 2, st.SucceededAttempts)
	assert.InDelta(t, 2.0/3, st.SuccessRate(), 1e-9)
	assert.Equal(t, 20*time.Millisecond, st.LatencyP50)
	assert.Equal(t, 30*time.Millisecond, st.LatencyP95)

	st, err = s.Stats(ctx, webhook.StatsQuery{EndpointID: ep.ID, Since: base.Add(2 * time.Second)})
	require.NoError(t, err)
	assert.Equal(t, 2, st.Attempts, "the window bounds attempts")
	assert.Zero(t, st.Counts[webhook.StateSucceeded]+st.Counts[webhook.StateFailed]+st.Counts[webhook.StatePending],
		"and the deliveries counted (all created at base)")

	st, err = s.Stats(ctx, webhook.StatsQuery{Tenant: "u", Since: base})
	require.NoError(t, err)
	assert.Equal(t, 1, st.Counts[webhook.StatePending])
	assert.Equal(t, 0, st.Attempts)
}
