package webhook_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// simulateDeadEndpoint runs a dispatcher with the default retry schedule
// against a dead endpoint (a closed loopback port: connection refused) for
// simulated hours, inside a synctest bubble whose clock jumps whenever
// every goroutine waits, publishing one event every 12 seconds (300 an
// hour). It returns the attempts made in each hour.
func simulateDeadEndpoint(t *testing.T, hours int, p webhook.HealthPolicy) []int {
	var perHour []int
	synctest.Test(t, func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		url := "http://" + l.Addr().String() + "/hooks"
		require.NoError(t, l.Close())

		var attempts atomic.Int64
		st := webhook.NewMemoryStore()
		d, err := webhook.New(webhook.Config{
			Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Health: p,
			Hooks: webhook.Hooks{AfterAttempt: func(context.Context, *webhook.Delivery, *webhook.Attempt) { attempts.Add(1) }},
		})
		require.NoError(t, err)
		ctx := context.Background()
		require.NoError(t, d.CreateEndpoint(ctx, &webhook.Endpoint{URL: url}))
		require.NoError(t, d.Start(ctx))
		last := int64(0)
		for range hours {
			for range 300 {
				_, err := d.Publish(ctx, rewardIssued{}, nil)
				require.NoError(t, err)
				time.Sleep(12 * time.Second) // simulated time
				synctest.Wait()
			}
			n := attempts.Load()
			perHour = append(perHour, int(n-last))
			last = n
		}
		require.NoError(t, d.Shutdown(ctx))
		st.Close()
	})
	return perHour
}

// TestBreakerCutsAttemptsOnDeadEndpoint shows the breaker's effect on a
// dead endpoint, on a simulated clock: without it every delivery burns its
// attempts on the retry schedule (5 s, 5 min, 30 min, ...); with it only
// the first failures and one probe per cool-down go out.
func TestBreakerCutsAttemptsOnDeadEndpoint(t *testing.T) {
	t.Parallel()
	without := simulateDeadEndpoint(t, 2, webhook.HealthPolicy{DisableBreaker: true})
	with := simulateDeadEndpoint(t, 2, webhook.HealthPolicy{})
	t.Logf("dead endpoint, 300 events/hour, default retry schedule: attempts per hour without the breaker %v, with it %v", without, with)
	for h := range without {
		assert.Less(t, with[h]*20, without[h], "hour %d: the breaker cuts attempts at least twentyfold", h+1)
	}
	// With defaults (5 failures, 30 s doubling to 10 min) an hour holds
	// the first 5 failures and about 10 probes, then 6 probes an hour.
	assert.LessOrEqual(t, with[0], 20)
	assert.LessOrEqual(t, with[1], 8)
}
