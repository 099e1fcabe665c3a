package storetest

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ShutdownUnderLoad publishes n events to one endpoint that holds every
// request, waits until all n attempts are in flight, and shuts the
// dispatcher down with a 300 ms context. Shutdown must return soon after
// its context ends, every cut-off delivery must be pending again with no
// attempt counted, and a dispatcher started afresh on the same store
// (a restart) must deliver them all. st must be empty.
func ShutdownUnderLoad(t *testing.T, st webhook.Store, n int) {
	t.Helper()
	var hang atomic.Bool
	hang.Store(true)
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(func(int, *webhooktest.Delivery) webhooktest.Answer {
		if hang.Load() {
			return webhooktest.Answer{Delay: time.Minute}
		}
		return webhooktest.Answer{}
	}))
	cfg := webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Workers: n, MaxInFlightPerEndpoint: n,
		Health:     webhook.HealthPolicy{InitialInFlight: n}, // all n in flight at once to an endpoint that never answers
		ClaimBatch: 200, AttemptTimeout: 30 * time.Second, PollInterval: 50 * time.Millisecond,
		Retry: webhook.RetryPolicy{MaxAttempts: 3, NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) }}}
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, d.CreateEndpoint(ctx, &webhook.Endpoint{URL: rcv.URL}))
	for i := 0; i < n; i++ {
		_, err := d.Publish(ctx, webhook.RawEvent{Type: "reward.issued", Data: []byte(`{"n":` + strconv.Itoa(i) + `}`)}, nil)
		require.NoError(t, err)
	}
	require.NoError(t, d.Start(ctx))
	rcv.WaitForArrivals(t, n, 30*time.Second) // all 1,000 in flight

	sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = d.Shutdown(sctx)
	took := time.Since(start)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, took, 5*time.Second, "Shutdown returned %s after its 300 ms context", took)
	t.Logf("Shutdown with %d attempts in flight returned after %s", n, took.Round(time.Millisecond))

	pending := 0
	q := webhook.DeliveryQuery{State: webhook.StatePending, Limit: 1000}
	for {
		ds, next, err := d.ListDeliveries(ctx, q)
		require.NoError(t, err)
		for _, dl := range ds {
			pending++
			assert.Zero(t, dl.Attempts, "an attempt cut off by Shutdown is not counted")
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	assert.Equal(t, n, pending, "every cut-off delivery is pending again")

	hang.Store(false)
	d2, err := webhook.New(cfg)
	require.NoError(t, err)
	require.NoError(t, d2.Start(ctx))
	defer d2.Shutdown(ctx)
	rcv.WaitForAcked(t, n, 30*time.Second)
	require.Eventually(t, func() bool {
		ds, _, err := d2.ListDeliveries(ctx, webhook.DeliveryQuery{State: webhook.StatePending, Limit: 1})
		return err == nil && len(ds) == 0
	}, 30*time.Second, 20*time.Millisecond, "a restart delivers what was cut off")
}
