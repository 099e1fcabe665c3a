package webhook_test

import (
	"context"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/storetest"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	st := webhook.NewMemoryStore()
	defer st.Close()
	storetest.ShutdownUnderLoad(t, st, 1000)
}

func TestShutdownWithoutStartAndTwice(t *testing.T) {
	t.Parallel()
	d, err := webhook.New(webhook.Config{})
	require.NoError(t, err)
	require.NoError(t, d.Shutdown(context.Background()))
	require.NoError(t, d.Shutdown(context.Background()))
	assert.ErrorIs(t, d.Start(context.Background()), webhook.ErrClosed)
}

// TestShutdownLeavesNoGoroutine runs before the parallel tests resume, so
// the only goroutines started meanwhile are this dispatcher's and its
// receiver's.
func TestShutdownLeavesNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(func(n int, _ *webhooktest.Delivery) webhooktest.Answer {
		if n%2 == 0 {
			return webhooktest.Answer{Delay: time.Minute} // cut off by Shutdown
		}
		return webhooktest.Answer{}
	}))
	st := webhook.NewMemoryStore()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Retry: fastRetry(3)})
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	require.NoError(t, d.CreateEndpoint(context.Background(), &webhook.Endpoint{URL: rcv.URL}))
	for i := 0; i < 20; i++ {
		_, err := d.Publish(context.Background(), rewardIssued{Points: i}, nil)
		require.NoError(t, err)
	}
	rcv.WaitFor(t, 10, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = d.Shutdown(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "attempts were still in flight")
	assert.Less(t, time.Since(start), 5*time.Second, "returns soon after its context ends")
	assert.NoError(t, goleak.Find(append(receiverUp, before)...), "no goroutine survives Shutdown")

	// Cut-off attempts were put back, not counted.
	ds, _, err := d.ListDeliveries(context.Background(), webhook.DeliveryQuery{State: webhook.StatePending})
	require.NoError(t, err)
	assert.NotEmpty(t, ds)
	for _, dl := range ds {
		assert.Equal(t, 0, dl.Attempts, "an attempt cut off by Shutdown is not counted")
	}
}
