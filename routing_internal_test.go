package webhook

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFailingAndRecoveredOncePerTransition(t *testing.T) {
	t.Parallel()
	h := testHealth(t, HealthPolicy{BreakerThreshold: 3, FailingAfter: 5, BreakerCooldown: time.Minute, KeepFailingEndpoints: true})
	ep := &Endpoint{ID: "ep_1"}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var notes []healthNote
	for range 6 {
		now = now.Add(2 * time.Minute) // past the cool-down: every failure is a probe's
		notes = append(notes, h.observe(ep, &Attempt{StatusCode: 503, StartedAt: now}, now))
	}
	count := func(f func(healthNote) bool) int {
		n := 0
		for _, x := range notes {
			if f(x) {
				n++
			}
		}
		return n
	}
	assert.True(t, notes[2].failing, "the breaker opened at the third failure")
	assert.Equal(t, 1, count(func(n healthNote) bool { return n.failing }), "once per transition")
	n := h.observe(ep, &Attempt{StatusCode: 200, StartedAt: now}, now)
	assert.True(t, n.recovered)
	assert.False(t, h.observe(ep, &Attempt{StatusCode: 200, StartedAt: now}, now).recovered, "once")

	// 4xx answers do not open the breaker; FailingAfter in a row still
	// counts as failing.
	notes = nil
	for range 7 {
		notes = append(notes, h.observe(ep, &Attempt{StatusCode: 400, StartedAt: now}, now))
	}
	assert.True(t, notes[4].failing)
	assert.Equal(t, 1, count(func(n healthNote) bool { return n.failing }))
}

// panicky is a FilterEngine whose filters panic.
type panicky struct{}

func (panicky) Compile(expr string) (Filter, error) { return panicky{}, nil }
func (panicky) Match(*FilterInput) (bool, error)    { panic("boom") }

// countingEngine counts compilations, to show the cache.
type countingEngine struct{ n int }

func (c *countingEngine) Compile(expr string) (Filter, error) { c.n++; return yes{}, nil }

type yes struct{}

func (yes) Match(*FilterInput) (bool, error) { return true, nil }

func TestFilterPanicIsNoDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := New(Config{Filter: panicky{}, AllowHTTP: true, AllowPrivateNetworks: true})
	require.NoError(t, err)
	ep := &Endpoint{URL: "http://127.0.0.1:9/h", Filter: "anything"}
	plain := &Endpoint{URL: "http://127.0.0.1:9/h"}
	require.NoError(t, d.CreateEndpoint(ctx, ep))
	require.NoError(t, d.CreateEndpoint(ctx, plain))
	msg, err := d.Publish(ctx, RawEvent{Type: "a.b", Data: json.RawMessage(`{}`)}, nil)
	require.NoError(t, err, "a panicking filter never fails a publish")
	ds, _, err := d.ListDeliveries(ctx, DeliveryQuery{MessageID: msg.ID})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, plain.ID, ds[0].EndpointID)
}

func TestFilterCompiledOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := &countingEngine{}
	d, err := New(Config{Filter: eng, AllowHTTP: true, AllowPrivateNetworks: true})
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, d.CreateEndpoint(ctx, &Endpoint{URL: "http://127.0.0.1:9/h", Filter: "same"}))
	}
	for range 5 {
		_, err := d.Publish(ctx, RawEvent{Type: "a.b", Data: json.RawMessage(`{}`)}, nil)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, eng.n, "compiled programs are cached by expression")
}
