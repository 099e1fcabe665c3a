package webhook_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/internal/orderedtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startOn starts a dispatcher on st, shut down at cleanup.
func startOn(t *testing.T, st webhook.Store, workers int) *webhook.Dispatcher {
	t.Helper()
	d, err := webhook.New(webhook.Config{
		Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Workers: workers,
		Retry:          fastRetry(100), // 20% failures: 100 in a row never happen, so nothing fails for good
		Health:         webhook.HealthPolicy{DisableBreaker: true, InitialInFlight: 16},
		AttemptTimeout: 5 * time.Second, PollInterval: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, d.Shutdown(ctx))
	})
	return d
}

// publishKeys publishes n events over keys (picked at random, seeded) and
// returns how many each key got; event N counts per key from 0.
func publishKeys(t *testing.T, d *webhook.Dispatcher, n, keys int, seed uint64) map[string]int {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	sent := map[string]int{}
	for range n {
		key := fmt.Sprintf("cust_%02d", rng.IntN(keys))
		_, err := d.Publish(context.Background(), customerUpdated{Key: key, N: sent[key]}, &webhook.PublishOpts{OrderingKey: key})
		require.NoError(t, err)
		sent[key]++
	}
	return sent
}

// TestOrderedAcceptance is the ordered-delivery acceptance run on the memory store: three
// dispatchers sharing one store, 2,000 events over 50 keys to one ordered
// endpoint whose receiver fails 20% of requests. For every key the first
// successful receipts come in publish order, and none is missing.
func TestOrderedAcceptance(t *testing.T) {
	t.Parallel()
	st := webhook.NewMemoryStore()
	t.Cleanup(func() { st.Close() })
	recv := orderedtest.NewReceiver(t, 0.2, 17)
	ds := []*webhook.Dispatcher{startOn(t, st, 8), startOn(t, st, 8), startOn(t, st, 8)}
	ep := createEndpoint(t, ds[0], &webhook.Endpoint{URL: recv.URL, Ordered: true})

	sent := publishKeys(t, ds[1], 2000, 50, 17)
	require.Eventually(t, func() bool { return recv.Received() == 2000 }, 60*time.Second, 5*time.Millisecond,
		"every event arrives")
	recv.Check(t, sent)
	assert.Greater(t, recv.Requests(), 2200, "the receiver did fail some")
	failed, _, err := ds[2].ListDeliveries(context.Background(), webhook.DeliveryQuery{EndpointID: ep.ID, State: webhook.StateFailed})
	require.NoError(t, err)
	assert.Empty(t, failed)
}

// TestOrderedShutdownMidQueue: a dispatcher shut down while its queues are
// half sent, then a new one on the same store: the rest goes out in order.
func TestOrderedShutdownMidQueue(t *testing.T) {
	t.Parallel()
	st := webhook.NewMemoryStore()
	t.Cleanup(func() { st.Close() })
	recv := orderedtest.NewReceiver(t, 0.2, 18)
	first, err := webhook.New(webhook.Config{
		Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Workers: 4, Retry: fastRetry(100),
		Health: webhook.HealthPolicy{DisableBreaker: true}, PollInterval: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	ep := createEndpoint(t, first, &webhook.Endpoint{URL: recv.URL, Ordered: true})
	sent := publishKeys(t, first, 400, 10, 18)
	require.NoError(t, first.Start(context.Background()))
	require.Eventually(t, func() bool { return recv.Received() >= 100 }, 30*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, first.Shutdown(ctx))
	mid := recv.Received()
	require.Less(t, mid, 400, "shut down mid-queue")
	pending, _, err := first.ListDeliveries(context.Background(), webhook.DeliveryQuery{EndpointID: ep.ID, State: webhook.StatePending})
	require.NoError(t, err)
	require.NotEmpty(t, pending)
	t.Logf("%d of 400 received before Shutdown", mid)

	startOn(t, st, 4)
	require.Eventually(t, func() bool { return recv.Received() == 400 }, 30*time.Second, 5*time.Millisecond)
	recv.Check(t, sent)
}

// TestOrderedDisabledRetriedRedelivered: an ordered endpoint disabled with
// its queues full fails them message by message and sends nothing; enabled
// again, RetryFailed sends every key in publish order; a Redeliver of an
// old message while its key has more to send goes out one at a time with
// them, never beside another request of its key.
func TestOrderedDisabledRetriedRedelivered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := webhook.NewMemoryStore()
	t.Cleanup(func() { st.Close() })
	recv := orderedtest.NewReceiver(t, 0, 19)
	setup, err := webhook.New(webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true})
	require.NoError(t, err)
	ep := createEndpoint(t, setup, &webhook.Endpoint{URL: recv.URL, Ordered: true})
	sent := publishKeys(t, setup, 60, 3, 19)
	require.NoError(t, setup.DisableEndpoint(ctx, ep.ID, "maintenance"))

	d := startOn(t, st, 8)
	require.Eventually(t, func() bool {
		failed, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep.ID, State: webhook.StateFailed})
		return err == nil && len(failed) == 60
	}, 30*time.Second, 5*time.Millisecond, "a disabled endpoint's queues fail")
	assert.Zero(t, recv.Requests(), "nothing is sent to a disabled endpoint")

	require.NoError(t, d.EnableEndpoint(ctx, ep.ID))
	n, err := d.RetryFailed(ctx, ep.ID, time.Time{})
	require.NoError(t, err)
	require.Equal(t, 60, n)
	require.Eventually(t, func() bool { return recv.Received() == 60 }, 30*time.Second, 5*time.Millisecond)
	recv.Check(t, sent)

	// The oldest message of one key again, while that key has 20 more.
	const key = "cust_00"
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep.ID, Limit: 1000})
	require.NoError(t, err)
	var oldest *webhook.Delivery
	for _, dl := range ds {
		if dl.OrderingKey == key && (oldest == nil || dl.ID < oldest.ID) {
			oldest = dl
		}
	}
	require.NotNil(t, oldest)
	before := recv.Requests()
	for range 20 {
		_, err := d.Publish(ctx, customerUpdated{Key: key, N: sent[key]}, &webhook.PublishOpts{OrderingKey: key})
		require.NoError(t, err)
		sent[key]++
	}
	require.NoError(t, d.Redeliver(ctx, oldest.ID))
	require.Eventually(t, func() bool {
		// Requests counts a request as it starts, Received once it is answered.
		return recv.Requests() == before+21 && recv.Received() == 80
	}, 30*time.Second, 5*time.Millisecond, "the 20 new events and the redelivered one arrive")
	recv.Check(t, sent)
}
