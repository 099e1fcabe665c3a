package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndpointFailingAndRecoveredHooks: the breaker opens after two
// failures (EndpointFailing, once), the probe after the cool-down succeeds
// (EndpointRecovered, once).
func TestEndpointFailingAndRecoveredHooks(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	var mu sync.Mutex
	var events []string
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Retry = fastRetry(10)
		c.Health = webhook.HealthPolicy{BreakerThreshold: 2, BreakerCooldown: time.Millisecond}
		c.Hooks.EndpointFailing = func(ctx context.Context, ep *webhook.Endpoint, a *webhook.Attempt) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, "failing:"+ep.ID+":"+a.Error)
		}
		c.Hooks.EndpointRecovered = func(ctx context.Context, ep *webhook.Endpoint) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, "recovered:"+ep.ID)
		}
	})
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: srv.URL + "/h"})
	msg, err := d.Publish(context.Background(), rewardIssued{CustomerID: "c1"}, nil)
	require.NoError(t, err)
	ds, _, err := d.ListDeliveries(context.Background(), webhook.DeliveryQuery{MessageID: msg.ID})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	waitState(t, d.Dispatcher, ds[0].ID, webhook.StateSucceeded)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 2 }, 5*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"failing:" + ep.ID + ":HTTP 503", "recovered:" + ep.ID}, events)
}
