package pgstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/internal/orderedtest"
	"github.com/hookline/webhook/pgstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The ordered-delivery acceptance run on Postgres: three dispatchers on one schema,
// 2,000 events over 50 keys to one ordered endpoint whose receiver fails
// 20% of requests at random (seeded), with and without one of them killed
// (SIGKILL) mid-run.

// envOrderedChild makes the test binary run as the ordered crash test's
// child: a dispatcher on the schema it names, until it is killed.
const envOrderedChild = "HOOKLINE_PGSTORE_ORDERED_CHILD"

// Child's attempt timeout and lease: short, so that the killed instance's
// leases lapse within the test.
const orderedChildTimeout, orderedChildLease = time.Second, 1500 * time.Millisecond

// keyed is the acceptance tests' event, shared with the memory store's.
type keyed = orderedtest.Event

// orderedConfig is the dispatchers' Config: millisecond retries (100
// attempts: 20% failures never fail one for good), no breaker.
func orderedConfig(st webhook.Store) webhook.Config {
	return webhook.Config{
		Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Workers: 8,
		Retry: webhook.RetryPolicy{MaxAttempts: 100,
			NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) }},
		Health:       webhook.HealthPolicy{DisableBreaker: true, InitialInFlight: 16},
		PollInterval: 20 * time.Millisecond,
	}
}

// publishOrdered publishes n events over keys (each key's events from
// its own goroutine, in order; keys picked at random, seeded) through ds
// in turn, and returns how many each key got.
func publishOrdered(t *testing.T, ds []*webhook.Dispatcher, n, keys int, seed uint64) map[string]int {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	perKey := map[string]int{}
	for range n {
		perKey[fmt.Sprintf("cust_%02d", rng.IntN(keys))]++
	}
	var wg sync.WaitGroup
	i := 0
	for key, count := range perKey {
		d := ds[i%len(ds)]
		i++
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range count {
				if _, err := d.Publish(context.Background(), keyed{Key: key, N: n}, &webhook.PublishOpts{OrderingKey: key}); !assert.NoError(t, err) {
					return
				}
			}
		}()
	}
	wg.Wait()
	return perKey
}

func startOrdered(t *testing.T, st webhook.Store) *webhook.Dispatcher {
	t.Helper()
	return newDispatcher(t, st, true, func(c *webhook.Config) {
		store := c.Store
		*c = orderedConfig(store)
	})
}

// TestOrderedThreeDispatchers: 2,000 events over 50 keys, three
// dispatchers (each with its own store instance) on one schema, 20% of
// requests failing: per key, first successful receipts in publish order,
// never two requests of a key at once, nothing lost, nothing failed.
func TestOrderedThreeDispatchers(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	first := newSchemaStore(t, pool, nil)
	recv := orderedtest.NewReceiver(t, 0.2, 17)
	var ds []*webhook.Dispatcher
	for i := range 3 {
		st := first
		if i > 0 {
			st = pgstore.New(pool, &pgstore.Options{Schema: first.Schema()})
			t.Cleanup(func() { st.Close() })
		}
		ds = append(ds, startOrdered(t, st))
	}
	ep := &webhook.Endpoint{URL: recv.URL, Ordered: true}
	require.NoError(t, ds[0].CreateEndpoint(context.Background(), ep))
	start := time.Now()
	sent := publishOrdered(t, ds, 2000, 50, 17)
	t.Logf("published in %s", time.Since(start))
	require.Eventually(t, func() bool { return recv.Received() == 2000 }, 90*time.Second, 10*time.Millisecond, "every event arrives")
	t.Logf("delivered in %s", time.Since(start))
	recv.Check(t, sent)
	failed, _, err := ds[2].ListDeliveries(context.Background(), webhook.DeliveryQuery{EndpointID: ep.ID, State: webhook.StateFailed})
	require.NoError(t, err)
	assert.Empty(t, failed)
}

// orderedChild runs a dispatcher with orderedConfig, a short lease, on
// schema until it is killed (or, as a safety net, for two minutes).
func orderedChild(schema string) int {
	return runChild(schema, func(st webhook.Store) webhook.Config {
		cfg := orderedConfig(st)
		cfg.AttemptTimeout, cfg.Lease = orderedChildTimeout, orderedChildLease
		return cfg
	})
}

// TestOrderedCrashedInstance: the same with one of the three dispatchers
// a child process killed with SIGKILL mid-run, while it holds leases of
// queue heads: its leases lapse (1.5 s), the other two take the heads
// over, and every key's first successful receipts are still in publish
// order with nothing lost.
func TestOrderedCrashedInstance(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	store := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	recv := orderedtest.NewReceiver(t, 0.2, 23)
	other := pgstore.New(pool, &pgstore.Options{Schema: store.Schema()})
	t.Cleanup(func() { other.Close() })
	ds := []*webhook.Dispatcher{startOrdered(t, store), startOrdered(t, other)}
	ep := &webhook.Endpoint{URL: recv.URL, Ordered: true}
	require.NoError(t, ds[0].CreateEndpoint(ctx, ep))

	cmd := startChild(t, envOrderedChild, store.Schema())

	var sent map[string]int
	published := make(chan struct{})
	go func() {
		defer close(published)
		sent = publishOrdered(t, ds, 2000, 50, 23)
	}()
	// Kill the child once it holds leases, mid-run.
	sch := quote(store.Schema())
	var leased int
	require.Eventually(t, func() bool {
		if recv.Received() < 300 {
			return false
		}
		// The child's leases are the short ones (this process's
		// dispatchers lease for 25 s, the default).
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+sch+".deliveries WHERE state = 'pending' "+
			"AND lease_expires_at > now() AND lease_expires_at < now() + interval '5 seconds'").Scan(&leased))
		return leased > 0
	}, 60*time.Second, time.Millisecond, "the child holds leases mid-run")
	require.NoError(t, cmd.Process.Kill())
	killedAt, mid := time.Now(), recv.Received()
	_ = cmd.Wait()
	t.Logf("killed the child holding %d leases, %d of 2000 received", leased, mid)
	require.Less(t, mid, 2000, "killed mid-run")
	<-published
	require.Eventually(t, func() bool { return recv.Received() == 2000 }, 90*time.Second, 10*time.Millisecond, "every event arrives")
	t.Logf("all received %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	recv.Check(t, sent)
	failed, _, err := ds[0].ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep.ID, State: webhook.StateFailed})
	require.NoError(t, err)
	assert.Empty(t, failed)
}
