package webhook_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShutdownUnderLoad: Shutdown with 1,000 attempts in flight returns
// within its context, and a dispatcher started again on the same store
// delivers every cut-off delivery.
func TestShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	const n = 1000
	var hang atomic.Bool
	hang.Store(true)
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(func(int, *webhooktest.Delivery) webhooktest.Answer {
		if hang.Load() {
			return webhooktest.Answer{Delay: time.Minute}
		}
		return webhooktest.Answer{}
	}))
	st := webhook.NewMemoryStore()
	defer st.Close()
	cfg := webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Workers: n, MaxInFlightPerEndpoint: n,
		ClaimBatch: 200, AttemptTimeout: 30 * time.Second, Retry: fastRetry(3)}
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, d.CreateEndpoint(ctx, &webhook.Endpoint{URL: rcv.URL}))
	for i := 0; i < n; i++ {
		_, err := d.Publish(ctx, rewardIssued{CustomerID: strconv.Itoa(i)}, nil)
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

	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{State: webhook.StatePending, Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, ds, n, "every cut-off delivery is pending again")

	hang.Store(false)
	d2, err := webhook.New(cfg)
	require.NoError(t, err)
	require.NoError(t, d2.Start(ctx))
	defer d2.Shutdown(ctx)
	rcv.WaitForAcked(t, n, 30*time.Second)
	require.Eventually(t, func() bool {
		ds, _, err := d2.ListDeliveries(ctx, webhook.DeliveryQuery{State: webhook.StateSucceeded, Limit: 1000})
		return err == nil && len(ds) == n
	}, 10*time.Second, 10*time.Millisecond)
}
