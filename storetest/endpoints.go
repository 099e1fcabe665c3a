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

func testEndpoints(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, "t1")
	assert.ErrorIs(t, s.CreateEndpoint(ctx, ep), webhook.ErrConflict, "same ID twice")

	got, err := s.GetEndpoint(ctx, ep.ID)
	require.NoError(t, err)
	assert.Equal(t, ep.URL, got.URL)
	assert.Equal(t, ep.Secret, got.Secret)
	assert.Equal(t, ep.EventTypes, got.EventTypes)
	assert.Equal(t, ep.Headers, got.Headers)
	assert.True(t, got.CreatedAt.Equal(base))

	got.URL = "https://example.org/other"
	got.Disabled, got.DisabledReason = true, "testing"
	got.PreviousSecret, got.PreviousSecretExpiresAt = "whsec_b2xk", base.Add(time.Hour)
	got.SigningKey = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=" // v1a opt-in: stored like the secrets
	got.FailingSince = base.Add(2 * time.Hour)
	require.NoError(t, s.UpdateEndpoint(ctx, got))
	again, err := s.GetEndpoint(ctx, ep.ID)
	require.NoError(t, err)
	assert.Equal(t, "https://example.org/other", again.URL)
	assert.True(t, again.Disabled)
	assert.Equal(t, "testing", again.DisabledReason)
	assert.Equal(t, "whsec_b2xk", again.PreviousSecret)
	assert.True(t, again.PreviousSecretExpiresAt.Equal(base.Add(time.Hour)))
	assert.Equal(t, "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", again.SigningKey)
	assert.True(t, again.FailingSince.Equal(base.Add(2*time.Hour)), "FailingSince is stored")

	_, err = s.GetEndpoint(ctx, "nope")
	assert.ErrorIs(t, err, webhook.ErrNotFound)
	missing := endpoint("t1")
	assert.ErrorIs(t, s.UpdateEndpoint(ctx, missing), webhook.ErrNotFound)
	assert.ErrorIs(t, s.DeleteEndpoint(ctx, "nope"), webhook.ErrNotFound)

	// Returned objects are copies.
	again.EventTypes[0] = "mutated"
	fresh, err := s.GetEndpoint(ctx, ep.ID)
	require.NoError(t, err)
	assert.Equal(t, "a.b", fresh.EventTypes[0])
}

func testListEndpointsPaging(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	var want []string
	for i := 0; i < 7; i++ {
		want = append(want, mustEndpoint(t, s, "pager").ID)
	}
	other := mustEndpoint(t, s, "other")
	empty := mustEndpoint(t, s, "")
	disabled := mustEndpoint(t, s, "pager")
	disabled.Disabled = true
	require.NoError(t, s.UpdateEndpoint(ctx, disabled))

	var got []string
	q := webhook.EndpointQuery{Tenant: "pager", EnabledOnly: true, Limit: 3}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		eps, next, err := s.ListEndpoints(ctx, q)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(eps), 3)
		for _, ep := range eps {
			got = append(got, ep.ID)
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	sort.Strings(want)
	assert.Equal(t, want, got, "enabled endpoints of the tenant in ID order")

	eps, _, err := s.ListEndpoints(ctx, webhook.EndpointQuery{Tenant: ""})
	require.NoError(t, err)
	require.Len(t, eps, 1, `tenant "" is a tenant of its own`)
	assert.Equal(t, empty.ID, eps[0].ID)

	all, _, err := s.ListEndpoints(ctx, webhook.EndpointQuery{AllTenants: true, Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, all, 10)
	ids := map[string]bool{}
	for _, ep := range all {
		ids[ep.ID] = true
	}
	assert.True(t, ids[other.ID] && ids[disabled.ID])
}

func testDeleteEndpoint(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep, keep := mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t")
	msg, ds := publish(t, s, base, ep, keep)
	require.NoError(t, s.DeleteEndpoint(ctx, ep.ID))
	_, err := s.GetEndpoint(ctx, ep.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = s.GetDelivery(ctx, ds[0].ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound, "its deliveries go with it")
	_, err = s.GetDelivery(ctx, ds[1].ID)
	assert.NoError(t, err, "other endpoints' deliveries stay")
	_, err = s.GetMessage(ctx, msg.ID)
	assert.NoError(t, err, "messages stay")
	cs := claim(t, s, base, 10)
	require.Len(t, cs, 1)
	assert.Equal(t, ds[1].ID, cs[0].Delivery.ID)
}
