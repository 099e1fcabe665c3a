// Package storetest is the conformance suite for webhook.Store
// implementations. A store passes when
//
//	storetest.Run(t, func(t *testing.T) webhook.Store { return newEmptyStore(t) })
//
// passes. newStore must return a new, empty store for each call (a fresh
// schema or database); the suite runs its tests in parallel.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) webhook.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s webhook.Store)
	}{
		{"Endpoints", testEndpoints},
		{"ListEndpointsPaging", testListEndpointsPaging},
		{"InsertMessageAtomicAndIdempotent", testInsertMessage},
		{"InsertMessageOtherTenantsID", testInsertMessageOtherTenant},
		{"InsertMessageDeletedEndpoint", testInsertMessageDeletedEndpoint},
		{"InsertMessageContextEnds", testInsertMessageContextEnds},
		{"ClaimDueOnly", testClaimDueOnly},
		{"ClaimOrderAndLimit", testClaimOrder},
		{"ClaimSkipEndpoints", testClaimSkip},
		{"RecordAndRetry", testRecord},
		{"StaleLeaseRejected", testStaleLease},
		{"LeaseExpiry", testLeaseExpiry},
		{"ClaimDelivery", testClaimDelivery},
		{"ListDeliveriesAndAttempts", testListDeliveries},
		{"Requeue", testRequeue},
		{"DeleteEndpointCascades", testDeleteEndpoint},
		{"Stats", testStats},
		{"Purge", testPurge},
		{"ConcurrentClaims", testConcurrentClaims},
		{"Backlog", testBacklog},
	}
	tests = append(tests, batchTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

var seq struct {
	sync.Mutex
	n int
}

func id(prefix string) string {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return fmt.Sprintf("%s_%s_%08d", prefix, time.Now().UTC().Format("150405.000000")[:6], seq.n)
}

// base is a fixed clock reading for the suite, truncated to microseconds.
var base = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func endpoint(tenant string) *webhook.Endpoint {
	return &webhook.Endpoint{
		ID: id("ep"), Tenant: tenant, URL: "https://example.com/hook", Description: "test endpoint",
		EventTypes: []string{"a.b", "c.*"}, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		Headers: map[string]string{"X-Custom": "1"}, CreatedAt: base, UpdatedAt: base,
	}
}

func mustEndpoint(t *testing.T, s webhook.Store, tenant string) *webhook.Endpoint {
	t.Helper()
	ep := endpoint(tenant)
	require.NoError(t, s.CreateEndpoint(context.Background(), ep))
	return ep
}

// publish stores a message with one delivery per endpoint, due at due.
func publish(t *testing.T, s webhook.Store, due time.Time, eps ...*webhook.Endpoint) (*webhook.Message, []*webhook.Delivery) {
	t.Helper()
	tenant := ""
	if len(eps) > 0 {
		tenant = eps[0].Tenant
	}
	msg := &webhook.Message{
		ID: id("msg"), Tenant: tenant, Type: "a.b", Payload: []byte(`{"type":"a.b","data":{"n":1}}`),
		Metadata: map[string]string{"traceparent": "00-abc-def-01"}, CreatedAt: base,
	}
	var ds []*webhook.Delivery
	for _, ep := range eps {
		ds = append(ds, &webhook.Delivery{
			ID: id("dlv"), MessageID: msg.ID, EndpointID: ep.ID, Tenant: tenant, EventType: msg.Type,
			State: webhook.StatePending, NextAttemptAt: due, CreatedAt: base, UpdatedAt: base,
		})
	}
	require.NoError(t, s.InsertMessage(context.Background(), msg, ds))
	return msg, ds
}

func claim(t *testing.T, s webhook.Store, now time.Time, limit int) []*webhook.Claimed {
	t.Helper()
	cs, err := s.Claim(context.Background(), webhook.ClaimParams{Owner: "test", Now: now, Limit: limit, Lease: 30 * time.Second})
	require.NoError(t, err)
	return cs
}

func attempt(c *webhook.Claimed, n, status int, at time.Time) *webhook.Attempt {
	a := &webhook.Attempt{
		ID: id("att"), DeliveryID: c.Delivery.ID, MessageID: c.Message.ID, EndpointID: c.Endpoint.ID,
		Number: n, StartedAt: at, Duration: 12 * time.Millisecond, StatusCode: status, Response: "ok",
	}
	if status >= 300 {
		a.Error = fmt.Sprintf("HTTP %d", status)
	}
	return a
}

func record(t *testing.T, s webhook.Store, r webhook.Record) bool {
	t.Helper()
	applied, err := s.Record(context.Background(), []webhook.Record{r})
	require.NoError(t, err)
	require.Len(t, applied, 1)
	return applied[0]
}

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

	// A message with no delivery is stored.
	lone, _ := publish(t, s, base)
	_, err = s.GetMessage(ctx, lone.ID)
	assert.NoError(t, err)
	_, err = s.GetMessage(ctx, "nope")
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}

func testClaimDueOnly(t *testing.T, s webhook.Store) {
	ep := mustEndpoint(t, s, "t")
	_, due := publish(t, s, base, ep)
	_, later := publish(t, s, base.Add(10*time.Second), ep)

	cs := claim(t, s, base, 10)
	require.Len(t, cs, 1)
	c := cs[0]
	assert.Equal(t, due[0].ID, c.Delivery.ID)
	assert.NotEmpty(t, c.Lease)
	assert.True(t, c.LeaseExpiresAt.Equal(base.Add(30*time.Second)), "lease expires at Now+Lease")
	require.NotNil(t, c.Message)
	require.NotNil(t, c.Endpoint)
	assert.Equal(t, `{"type":"a.b","data":{"n":1}}`, string(c.Message.Payload))
	assert.Equal(t, ep.Secret, c.Endpoint.Secret)
	assert.Equal(t, ep.URL, c.Endpoint.URL)
	assert.Equal(t, webhook.StatePending, c.Delivery.State)
	assert.Equal(t, "t", c.Delivery.Tenant)

	assert.Empty(t, claim(t, s, base, 10), "leased and not-yet-due deliveries are not claimed")
	cs = claim(t, s, base.Add(10*time.Second), 10)
	require.Len(t, cs, 1, "the first is still leased")
	assert.Equal(t, later[0].ID, cs[0].Delivery.ID)
}

func testClaimOrder(t *testing.T, s webhook.Store) {
	ep := mustEndpoint(t, s, "t")
	var want []string
	for i := 5; i > 0; i-- {
		_, ds := publish(t, s, base.Add(time.Duration(i)*time.Second), ep)
		want = append([]string{ds[0].ID}, want...)
	}
	now := base.Add(time.Hour)
	var got []string
	for _, c := range claim(t, s, now, 2) {
		got = append(got, c.Delivery.ID)
	}
	for _, c := range claim(t, s, now, 10) {
		got = append(got, c.Delivery.ID)
	}
	assert.Equal(t, want, got, "earliest due first, at most Limit per claim")
}

func testClaimSkip(t *testing.T, s webhook.Store) {
	slow, fast := mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t")
	for i := 0; i < 20; i++ {
		publish(t, s, base, slow)
	}
	_, ds := publish(t, s, base.Add(time.Second), fast)
	cs, err := s.Claim(context.Background(), webhook.ClaimParams{
		Owner: "test", Now: base.Add(time.Minute), Limit: 5, Lease: time.Minute, SkipEndpoints: []string{slow.ID},
	})
	require.NoError(t, err)
	require.Len(t, cs, 1, "deliveries of skipped endpoints are passed over")
	assert.Equal(t, ds[0].ID, cs[0].Delivery.ID)
	assert.Len(t, claim(t, s, base.Add(time.Minute), 100), 20, "skipped deliveries stay claimable")
}

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

func testLeaseExpiry(t *testing.T, s webhook.Store) {
	ep := mustEndpoint(t, s, "t")
	_, ds := publish(t, s, base, ep)
	c := claim(t, s, base, 1)[0]
	assert.Empty(t, claim(t, s, base.Add(29*time.Second), 1), "held until it expires")
	// Recording after the lease expired does not count, even if nobody
	// claimed it since.
	late := base.Add(30 * time.Second)
	assert.False(t, record(t, s, webhook.Record{DeliveryID: ds[0].ID, Lease: c.Lease, Now: late,
		Attempt: attempt(c, 1, 200, late), State: webhook.StateSucceeded}))
	cs := claim(t, s, late, 1)
	require.Len(t, cs, 1)
	assert.Equal(t, ds[0].ID, cs[0].Delivery.ID)
}

func testClaimDelivery(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, "t")
	_, ds := publish(t, s, base.Add(24*time.Hour), ep)
	p := webhook.ClaimParams{Owner: "test", Now: base, Lease: time.Minute}
	c, err := s.ClaimDelivery(ctx, ds[0].ID, p)
	require.NoError(t, err, "claimed whatever its due time")
	assert.Equal(t, ds[0].ID, c.Delivery.ID)
	_, err = s.ClaimDelivery(ctx, ds[0].ID, p)
	assert.ErrorIs(t, err, webhook.ErrConflict, "leased already")
	_, err = s.ClaimDelivery(ctx, "nope", p)
	assert.ErrorIs(t, err, webhook.ErrNotFound)
	require.True(t, record(t, s, webhook.Record{DeliveryID: ds[0].ID, Lease: c.Lease, Now: base,
		Attempt: attempt(c, 1, 200, base), State: webhook.StateSucceeded}))
	_, err = s.ClaimDelivery(ctx, ds[0].ID, p)
	assert.ErrorIs(t, err, webhook.ErrConflict, "finished")
}

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

// testConcurrentClaims: 16 goroutines claim and record 1,000 deliveries;
// none is claimed twice and none is lost.
func testConcurrentClaims(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	const total = 1000
	eps := []*webhook.Endpoint{mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t")}
	for i := 0; i < total/len(eps); i++ {
		publish(t, s, base, eps...)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cs, err := s.Claim(ctx, webhook.ClaimParams{Owner: "w", Now: base, Limit: 7, Lease: time.Hour})
				if err != nil {
					errs <- err
					return
				}
				if len(cs) == 0 {
					return
				}
				recs := make([]webhook.Record, len(cs))
				for i, c := range cs {
					mu.Lock()
					seen[c.Delivery.ID]++
					mu.Unlock()
					recs[i] = webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: base,
						Attempt: attempt(c, 1, 200, base), State: webhook.StateSucceeded}
				}
				applied, err := s.Record(ctx, recs)
				if err != nil {
					errs <- err
					return
				}
				for i, ok := range applied {
					if !ok {
						errs <- errors.New("record not applied for " + recs[i].DeliveryID)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, seen, total, "every delivery claimed")
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryQuery{Tenant: "t", State: webhook.StatePending})
	require.NoError(t, err)
	assert.Empty(t, ds, "none left pending")
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
