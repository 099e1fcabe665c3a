package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRouting: the routing fields of endpoints and messages survive every
// read.
func testRouting(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := endpoint("t")
	ep.Channels, ep.Filter, ep.Format = []string{"eu", "store:7"}, `data.n > 1`, "legacy"
	require.NoError(t, s.CreateEndpoint(ctx, ep))
	got, err := s.GetEndpoint(ctx, ep.ID)
	require.NoError(t, err)
	assert.Equal(t, ep.Channels, got.Channels)
	assert.Equal(t, ep.Filter, got.Filter)
	assert.Equal(t, ep.Format, got.Format)

	got.Channels, got.Filter, got.Format = nil, "", ""
	require.NoError(t, s.UpdateEndpoint(ctx, got))
	again, err := s.GetEndpoint(ctx, ep.ID)
	require.NoError(t, err)
	assert.Empty(t, again.Channels)
	assert.Empty(t, again.Filter)
	assert.Empty(t, again.Format)

	msg := &webhook.Message{
		ID: id("msg"), Tenant: "t", Type: "a.b", Payload: []byte(`{"x":1}`), Channels: []string{"eu"},
		Data: []byte(`{"n":2}`), CreatedAt: base,
	}
	d := &webhook.Delivery{ID: id("dlv"), MessageID: msg.ID, EndpointID: ep.ID, Tenant: "t", EventType: "a.b",
		State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base}
	require.NoError(t, s.InsertMessage(ctx, msg, []*webhook.Delivery{d}))
	m, err := s.GetMessage(ctx, msg.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"eu"}, m.Channels)
	assert.JSONEq(t, `{"n":2}`, string(m.Data))
	cs := claim(t, s, base, 10)
	require.Len(t, cs, 1)
	assert.Equal(t, []string{"eu"}, cs[0].Message.Channels)
	assert.JSONEq(t, `{"n":2}`, string(cs[0].Message.Data))

	plain, _ := publish(t, s, base.Add(time.Hour), ep)
	m, err = s.GetMessage(ctx, plain.ID)
	require.NoError(t, err)
	assert.Empty(t, m.Channels)
	assert.Nil(t, m.Data, "no Data given, none kept")
}

// testMatchChannels: EndpointMatcher matches channels as Endpoint.Receives
// does (stores without the capability skip it).
func testMatchChannels(t *testing.T, s webhook.Store) {
	m, ok := s.(webhook.EndpointMatcher)
	if !ok {
		t.Skip("the store implements no EndpointMatcher")
	}
	ctx := context.Background()
	mk := func(tenant string, disabled bool, channels ...string) string {
		ep := endpoint(tenant)
		ep.Channels, ep.Disabled = channels, disabled
		require.NoError(t, s.CreateEndpoint(ctx, ep))
		return ep.ID
	}
	all, eu, us := mk("t", false), mk("t", false, "eu"), mk("t", false, "us", "ca")
	mk("t", true, "eu") // disabled
	mk("other", false)  // another tenant
	mk("other", false, "eu")
	for _, tc := range []struct {
		channels []string
		want     []string
	}{
		{nil, []string{all}},
		{[]string{"eu"}, []string{all, eu}},
		{[]string{"ca"}, []string{all, us}},
		{[]string{"eu", "us"}, []string{all, eu, us}},
		{[]string{"asia"}, []string{all}},
	} {
		eps, err := m.MatchEndpoints(ctx, webhook.MatchQuery{Tenant: "t", EventType: "a.b", Channels: tc.channels})
		require.NoError(t, err)
		var ids []string
		for _, ep := range eps {
			ids = append(ids, ep.ID)
		}
		slices.Sort(ids)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		assert.Equal(t, want, ids, "channels %v", tc.channels)
	}
}

// testReplay: Replayer lists a tenant's messages without a delivery to an
// endpoint, in order and by pages, and InsertDeliveries adds each at most
// once (stores without the capability skip it).
func testReplay(t *testing.T, s webhook.Store) {
	rp, ok := s.(webhook.Replayer)
	if !ok {
		t.Skip("the store implements no Replayer")
	}
	ctx := context.Background()
	old := mustEndpoint(t, s, "t")
	fresh := mustEndpoint(t, s, "t")
	other := mustEndpoint(t, s, "other")
	var msgs []*webhook.Message
	for i := range 6 {
		msg := &webhook.Message{ID: id("msg"), Tenant: "t", Type: "a.b", Payload: []byte(`{"data":{}}`),
			Channels: []string{"eu"}, CreatedAt: base.Add(time.Duration(i) * time.Second)}
		var ds []*webhook.Delivery
		if i%2 == 0 { // old has the even ones
			ds = append(ds, &webhook.Delivery{ID: id("dlv"), MessageID: msg.ID, EndpointID: old.ID, Tenant: "t",
				EventType: "a.b", State: webhook.StateSucceeded, CreatedAt: msg.CreatedAt, UpdatedAt: msg.CreatedAt})
		}
		require.NoError(t, s.InsertMessage(ctx, msg, ds))
		msgs = append(msgs, msg)
	}
	otherMsg := &webhook.Message{ID: id("msg"), Tenant: "other", Type: "a.b", Payload: []byte(`{}`), CreatedAt: base.Add(2 * time.Second)}
	require.NoError(t, s.InsertMessage(ctx, otherMsg, nil))

	list := func(ep *webhook.Endpoint, since time.Time, limit int) []string {
		t.Helper()
		var ids []string
		q := webhook.MissingQuery{Tenant: ep.Tenant, EndpointID: ep.ID, Since: since, Limit: limit}
		for range 20 {
			page, next, err := rp.MissingMessages(ctx, q)
			require.NoError(t, err)
			assert.LessOrEqual(t, len(page), limit)
			for _, m := range page {
				require.Equal(t, ep.Tenant, m.Tenant, "another tenant's message")
				ids = append(ids, m.ID)
			}
			if next == "" {
				return ids
			}
			q.Cursor = next
		}
		t.Fatal("MissingMessages never ended")
		return nil
	}
	ids := func(ms ...*webhook.Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	assert.Equal(t, ids(msgs[1], msgs[3], msgs[5]), list(old, base, 2), "the odd ones, oldest first, in pages")
	assert.Equal(t, ids(msgs[2:]...), list(fresh, base.Add(2*time.Second), 4), "since is inclusive")
	assert.Equal(t, ids(otherMsg), list(other, time.Time{}, 10), "only its own tenant")
	got, _, err := rp.MissingMessages(ctx, webhook.MissingQuery{Tenant: "t", EndpointID: fresh.ID, Since: base})
	require.NoError(t, err)
	require.Len(t, got, 6)
	assert.Equal(t, []string{"eu"}, got[0].Channels)

	mkd := func(ep *webhook.Endpoint, ms ...*webhook.Message) []*webhook.Delivery {
		var ds []*webhook.Delivery
		for _, m := range ms {
			ds = append(ds, &webhook.Delivery{ID: id("dlv"), MessageID: m.ID, EndpointID: ep.ID, Tenant: ep.Tenant,
				EventType: m.Type, State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base})
		}
		return ds
	}
	n, err := rp.InsertDeliveries(ctx, mkd(old, msgs...))
	require.NoError(t, err)
	assert.Equal(t, 3, n, "the three old had no delivery of")
	assert.Empty(t, list(old, base, 10))
	n, err = rp.InsertDeliveries(ctx, mkd(old, msgs...))
	require.NoError(t, err)
	assert.Zero(t, n, "a second run stores nothing")
	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: old.ID, Limit: 100})
	require.NoError(t, err)
	assert.Len(t, ds, 6, "one delivery per message")
	cs := claim(t, s, base, 10)
	assert.Len(t, cs, 3, "replayed deliveries are due")

	gone := mustEndpoint(t, s, "t")
	batch := mkd(gone, msgs[0])
	require.NoError(t, s.DeleteEndpoint(ctx, gone.ID))
	n, err = rp.InsertDeliveries(ctx, batch)
	require.NoError(t, err)
	assert.Zero(t, n, "a deleted endpoint's deliveries are dropped")

	// A message stored without deliveries and replayed later is no longer
	// one retention may take as lone: Purge must leave it with its delivery.
	n, err = rp.InsertDeliveries(ctx, mkd(other, otherMsg))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.Purge(ctx, base.Add(time.Hour*24*365), 100)
	require.NoError(t, err)
	_, err = s.GetMessage(ctx, otherMsg.ID)
	assert.False(t, errors.Is(err, webhook.ErrNotFound), "a replayed message with a pending delivery was purged")
}
