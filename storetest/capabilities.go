package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testEndpointMatcher checks webhook.EndpointMatcher, for stores that
// implement it, against Endpoint.Subscribes: for every event type, the
// tenant's enabled endpoints that Subscribes says yes to, and only those.
func testEndpointMatcher(t *testing.T, s webhook.Store) {
	m, ok := s.(webhook.EndpointMatcher)
	if !ok {
		t.Skip("the store does not implement webhook.EndpointMatcher")
	}
	ctx := context.Background()
	var all []*webhook.Endpoint
	add := func(tenant string, disabled bool, types ...string) {
		ep := endpoint(tenant)
		ep.EventTypes, ep.Disabled = types, disabled
		require.NoError(t, s.CreateEndpoint(ctx, ep))
		all = append(all, ep)
	}
	for _, tenant := range []string{"t", "u", ""} {
		add(tenant, false)               // every type
		add(tenant, false, "*")          // every type, spelled out
		add(tenant, false, "a.b")        // exact
		add(tenant, false, "a.*")        // a prefix, any depth
		add(tenant, false, "a.b.*")      // a longer prefix
		add(tenant, false, "c.d", "a.b") // several
		add(tenant, false, "ab.c")       // shares letters with a.*, not its prefix
		add(tenant, false, "invoice.paid", "c.*")
		add(tenant, true)           // disabled, every type
		add(tenant, true, "a.b")    // disabled, exact
		add(tenant, true, "a.*")    // disabled, prefix
		add(tenant, false, "x_y.z") // an underscore, taken literally
	}
	for _, tenant := range []string{"t", "u", "", "nobody"} {
		for _, typ := range []string{"a.b", "a.b.c", "a.x", "ab.c", "a", "c.d", "c.e.f", "invoice.paid", "x_y.z", "xay.z", "z"} {
			var want []string
			for _, ep := range all {
				if ep.Tenant == tenant && !ep.Disabled && ep.Subscribes(typ) {
					want = append(want, ep.ID)
				}
			}
			eps, err := m.MatchEndpoints(ctx, webhook.MatchQuery{Tenant: tenant, EventType: typ})
			require.NoError(t, err)
			var got []string
			for _, ep := range eps {
				got = append(got, ep.ID)
				assert.Equal(t, tenant, ep.Tenant, "tenant %q, type %s: another tenant's endpoint", tenant, typ)
				assert.NotEmpty(t, ep.URL, "tenant %q, type %s: the endpoint comes whole", tenant, typ)
				assert.NotEmpty(t, ep.Secret, "tenant %q, type %s: the endpoint comes whole", tenant, typ)
			}
			slices.Sort(want)
			slices.Sort(got)
			assert.Equal(t, want, got, "tenant %q, type %s", tenant, typ)
		}
	}
}

// notifyWait is how long the Notifier test waits for a signal; a store may
// signal from another goroutine or through its database.
const notifyWait = 10 * time.Second

// testNotifier checks webhook.Notifier, for stores that implement it: a
// subscription's channel receives after an insert of a due delivery, again
// after each later one, and stops receiving once its ctx ends.
func testNotifier(t *testing.T, s webhook.Store) {
	n, ok := s.(webhook.Notifier)
	if !ok {
		t.Skip("the store does not implement webhook.Notifier")
	}
	ep := mustEndpoint(t, s, "t")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := n.Notify(ctx)
	require.NotNil(t, ch)
	// Several rounds: a store may signal once when it starts listening, so
	// only the later rounds show that inserts signal.
	for round := 1; round <= 3; round++ {
		publish(t, s, time.Now().Add(-time.Minute).UTC(), ep)
		select {
		case <-ch:
		case <-time.After(notifyWait):
			t.Fatalf("round %d: no signal within %s of inserting a due delivery", round, notifyWait)
		}
	}

	// Once ctx ends, the subscription does too (the store may notice a
	// little later): within the wait, an insert must find it ended.
	cancel()
	deadline := time.Now().Add(notifyWait)
	for {
		select { // a signal sent before the end
		case <-ch:
		default:
		}
		publish(t, s, time.Now().Add(-time.Minute).UTC(), ep)
		select {
		case <-ch:
			if time.Now().After(deadline) {
				t.Fatalf("the subscription still receives %s after its ctx ended", notifyWait)
			}
			continue
		case <-time.After(200 * time.Millisecond):
		}
		return
	}
}
