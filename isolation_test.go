package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hangingEndpoints is a receiver that never answers, serving endpoints
// told apart by their ?ep= query; it counts each one's requests in flight
// and the most it saw at once.
type hangingEndpoints struct {
	srv  *httptest.Server
	stop chan struct{}

	mu       sync.Mutex
	inflight map[string]int
	most     map[string]int
	total    int
}

func newHangingEndpoints(t *testing.T) *hangingEndpoints {
	h := &hangingEndpoints{stop: make(chan struct{}), inflight: map[string]int{}, most: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ep := r.URL.Query().Get("ep")
		h.mu.Lock()
		h.inflight[ep]++
		h.total++
		h.most[ep] = max(h.most[ep], h.inflight[ep])
		h.mu.Unlock()
		select {
		case <-h.stop:
		case <-r.Context().Done():
		}
		h.mu.Lock()
		h.inflight[ep]--
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hangingEndpoints) url(i int) string { return fmt.Sprintf("%s/?ep=%d", h.srv.URL, i) }

// TestHangingEndpointsCannotTakeTheWorkers: four endpoints that never
// answer, beside a healthy one, with 64 workers and a cap of 16 each (4 ×
// 16 would be every worker). An endpoint that has not answered holds at
// most HealthPolicy.InitialInFlight (2) workers, so the healthy endpoint
// gets all its deliveries while the others hang (with the attempt timeout
// far away, 30 s: no timeout helps here).
func TestHangingEndpointsCannotTakeTheWorkers(t *testing.T) {
	t.Parallel()
	hang := newHangingEndpoints(t)
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Workers, c.MaxInFlightPerEndpoint = 64, 16
		c.AttemptTimeout, c.Lease = 30*time.Second, time.Minute
	})
	t.Cleanup(func() { close(hang.stop) }) // runs before the dispatcher's Shutdown
	for i := range 4 {
		createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: hang.url(i)})
	}
	rcv := webhooktest.NewReceiver(t)
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	const events = 200
	for i := range events {
		_, err := d.Publish(context.Background(), rewardIssued{Points: i}, nil)
		require.NoError(t, err)
	}
	rcv.WaitForAcked(t, events, 20*time.Second)

	hang.mu.Lock()
	defer hang.mu.Unlock()
	t.Logf("hanging endpoints: most in flight at once %v, %d requests in all", hang.most, hang.total)
	assert.Len(t, hang.most, 4, "every hanging endpoint was tried")
	for ep, n := range hang.most {
		assert.LessOrEqual(t, n, 2, "endpoint %s held %d workers", ep, n)
	}
}
