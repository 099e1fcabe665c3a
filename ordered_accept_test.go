package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// orderedReceiver fails a share of requests at random (seeded) and keeps,
// per ordering key, the order of first successful receipts. It also
// checks that no two requests of one key are ever in flight at once.
type orderedReceiver struct {
	*httptest.Server
	mu         sync.Mutex
	rng        *rand.Rand
	failRate   float64
	first      map[string][]int // key -> event numbers, in order of first success
	seen       map[string]bool  // message IDs answered 2xx
	inflight   map[string]int
	requests   int
	violations []string
}

func newOrderedReceiver(t *testing.T, failRate float64, seed uint64) *orderedReceiver {
	r := &orderedReceiver{rng: rand.New(rand.NewPCG(seed, 1)), failRate: failRate,
		first: map[string][]int{}, seen: map[string]bool{}, inflight: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *orderedReceiver) serve(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Data customerUpdated `json:"data"`
	}
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, key := req.Header.Get("webhook-id"), body.Data.Key
	r.mu.Lock()
	r.requests++
	r.inflight[key]++
	if r.inflight[key] > 1 {
		r.violations = append(r.violations, fmt.Sprintf("two requests of key %s in flight at once (%s)", key, id))
	}
	fail := r.rng.Float64() < r.failRate
	r.mu.Unlock()
	time.Sleep(200 * time.Microsecond) // a receiver doing some work, so requests overlap

	r.mu.Lock()
	r.inflight[key]--
	if !fail && !r.seen[id] {
		r.seen[id] = true
		r.first[key] = append(r.first[key], body.Data.N)
	}
	r.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
	}
}

func (r *orderedReceiver) received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// check asserts that every key's first successful receipts are its events
// in publish order, all of them (sent[key] events numbered from 0).
func (r *orderedReceiver) check(t *testing.T, sent map[string]int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Empty(t, r.violations)
	for key, n := range sent {
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		assert.Equal(t, want, r.first[key], "key %s: first successful receipts in publish order, none lost", key)
	}
}

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
	recv := newOrderedReceiver(t, 0.2, 17)
	ds := []*webhook.Dispatcher{startOn(t, st, 8), startOn(t, st, 8), startOn(t, st, 8)}
	ep := createEndpoint(t, ds[0], &webhook.Endpoint{URL: recv.URL, Ordered: true})

	sent := publishKeys(t, ds[1], 2000, 50, 17)
	require.Eventually(t, func() bool { return recv.received() == 2000 }, 60*time.Second, 5*time.Millisecond,
		"every event arrives")
	recv.check(t, sent)
	recv.mu.Lock()
	t.Logf("%d requests for 2000 events", recv.requests)
	assert.Greater(t, recv.requests, 2200, "the receiver did fail some")
	recv.mu.Unlock()
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
	recv := newOrderedReceiver(t, 0.2, 18)
	first, err := webhook.New(webhook.Config{
		Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Workers: 4, Retry: fastRetry(100),
		Health: webhook.HealthPolicy{DisableBreaker: true}, PollInterval: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	ep := createEndpoint(t, first, &webhook.Endpoint{URL: recv.URL, Ordered: true})
	sent := publishKeys(t, first, 400, 10, 18)
	require.NoError(t, first.Start(context.Background()))
	require.Eventually(t, func() bool { return recv.received() >= 100 }, 30*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, first.Shutdown(ctx))
	mid := recv.received()
	require.Less(t, mid, 400, "shut down mid-queue")
	pending, _, err := first.ListDeliveries(context.Background(), webhook.DeliveryQuery{EndpointID: ep.ID, State: webhook.StatePending})
	require.NoError(t, err)
	require.NotEmpty(t, pending)
	t.Logf("%d of 400 received before Shutdown", mid)

	startOn(t, st, 4)
	require.Eventually(t, func() bool { return recv.received() == 400 }, 30*time.Second, 5*time.Millisecond)
	recv.check(t, sent)
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
	recv := newOrderedReceiver(t, 0, 19)
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
	recv.mu.Lock()
	assert.Zero(t, recv.requests, "nothing is sent to a disabled endpoint")
	recv.mu.Unlock()

	require.NoError(t, d.EnableEndpoint(ctx, ep.ID))
	n, err := d.RetryFailed(ctx, ep.ID, time.Time{})
	require.NoError(t, err)
	require.Equal(t, 60, n)
	require.Eventually(t, func() bool { return recv.received() == 60 }, 30*time.Second, 5*time.Millisecond)
	recv.check(t, sent)

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
	recv.mu.Lock()
	before := recv.requests
	recv.mu.Unlock()
	for range 20 {
		_, err := d.Publish(ctx, customerUpdated{Key: key, N: sent[key]}, &webhook.PublishOpts{OrderingKey: key})
		require.NoError(t, err)
		sent[key]++
	}
	require.NoError(t, d.Redeliver(ctx, oldest.ID))
	require.Eventually(t, func() bool {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		// requests counts a request as it starts, seen once it is answered.
		return recv.requests == before+21 && len(recv.seen) == 80
	}, 30*time.Second, 5*time.Millisecond, "the 20 new events and the redelivered one arrive")
	recv.check(t, sent)
}
