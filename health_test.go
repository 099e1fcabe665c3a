package webhook_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a Config.Now that moves only when told: retries and
// deferrals come due when the test advances it, never by sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().UTC()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// deadURL returns the URL of a loopback port nobody listens on: every
// connection is refused.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u := "http://" + l.Addr().String() + "/hooks"
	require.NoError(t, l.Close())
	return u
}

// waitDelivery polls until cond holds for the delivery.
func waitDelivery(t *testing.T, d *webhook.Dispatcher, id string, cond func(*webhook.Delivery) bool) *webhook.Delivery {
	t.Helper()
	var got *webhook.Delivery
	require.Eventually(t, func() bool {
		var err error
		got, err = d.GetDelivery(context.Background(), id)
		return err == nil && cond(got)
	}, 10*time.Second, 2*time.Millisecond, "delivery %s never reached the state wanted", id)
	return got
}

func TestRetryAfterSetsNextAttempt(t *testing.T) {
	t.Parallel()
	later := time.Now().Add(10 * time.Minute).UTC()
	tests := []struct {
		name   string
		status int
		header string
		want   time.Duration // 0: until later, from the attempt
	}{
		{"seconds on 429", 429, "120", 120 * time.Second},
		{"HTTP date on 503", 503, later.Format(http.TimeFormat), 0},
		{"capped by MaxRetryAfter", 429, "86400", 30 * time.Minute},
		{"date capped", 503, time.Now().Add(1000 * time.Hour).UTC().Format(http.TimeFormat), 30 * time.Minute},
		{"ignored on 500", 500, "120", time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDispatcher(t, func(c *webhook.Config) {
				c.Retry = fastRetry(3)
				c.Retry.MaxRetryAfter = 30 * time.Minute
			})
			rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(func(n int, _ *webhooktest.Delivery) webhooktest.Answer {
				if n == 1 {
					return webhooktest.Answer{Status: tc.status, Header: http.Header{"Retry-After": {tc.header}}}
				}
				return webhooktest.Answer{}
			}))
			createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
			msg, err := d.Publish(context.Background(), rewardIssued{}, nil)
			require.NoError(t, err)
			id := deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID
			dl := waitDelivery(t, d.Dispatcher, id, func(dl *webhook.Delivery) bool { return dl.Attempts >= 1 })
			if tc.want == time.Millisecond {
				waitState(t, d.Dispatcher, id, webhook.StateSucceeded)
				return
			}
			want := tc.want
			if want == 0 { // measured from the attempt, not from when the table was built (parallel tests wait)
				want = later.Truncate(time.Second).Sub(dl.LastAttemptAt)
			}
			require.Equal(t, webhook.StatePending, dl.State)
			assert.InDelta(t, want.Seconds(), dl.NextAttemptAt.Sub(dl.LastAttemptAt).Seconds(), 2)
			as, _, err := d.ListAttempts(context.Background(), webhook.AttemptQuery{DeliveryID: id})
			require.NoError(t, err)
			require.Len(t, as, 1)
			assert.Equal(t, tc.header, as[0].ResponseHeaders["Retry-After"], "kept in the attempt log")
		})
	}
	t.Run("malformed falls back to the backoff", func(t *testing.T) {
		t.Parallel()
		d := newDispatcher(t, nil)
		rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(func(n int, _ *webhooktest.Delivery) webhooktest.Answer {
			if n == 1 {
				return webhooktest.Answer{Status: 429, Header: http.Header{"Retry-After": {"soon"}}}
			}
			return webhooktest.Answer{}
		}))
		createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
		msg, err := d.Publish(context.Background(), rewardIssued{}, nil)
		require.NoError(t, err)
		dl := waitState(t, d.Dispatcher, deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID, webhook.StateSucceeded)
		assert.Equal(t, 2, dl.Attempts, "retried after the 1 ms backoff")
	})
}

func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, func(c *webhook.Config) { c.Retry = fastRetry(1) })
	var elsewhere atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/hooks", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: srv.URL + "/hooks"})
	msg, err := d.Publish(context.Background(), rewardIssued{}, nil)
	require.NoError(t, err)
	dl := waitState(t, d.Dispatcher, deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID, webhook.StateFailed)
	assert.Equal(t, 302, dl.LastStatusCode)
	as, _, err := d.ListAttempts(context.Background(), webhook.AttemptQuery{DeliveryID: dl.ID})
	require.NoError(t, err)
	require.Len(t, as, 1)
	assert.Equal(t, "/elsewhere", as[0].ResponseHeaders["Location"])
	assert.Contains(t, as[0].Error, `redirect to "/elsewhere" not followed`)
	assert.Zero(t, elsewhere.Load(), "the redirect target was never requested")
}

func TestResponseBodyReadOnlyUpToTheCap(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, func(c *webhook.Config) { c.ResponseBodyLimit = 1024 })
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		for written.Load() < 1<<30 { // a gigabyte: far more than anyone should read
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: srv.URL})
	msg, err := d.Publish(context.Background(), rewardIssued{}, nil)
	require.NoError(t, err)
	dl := waitState(t, d.Dispatcher, deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID, webhook.StateSucceeded)
	as, _, err := d.ListAttempts(context.Background(), webhook.AttemptQuery{DeliveryID: dl.ID})
	require.NoError(t, err)
	require.Len(t, as, 1)
	assert.Len(t, as[0].Response, 1024, "kept up to ResponseBodyLimit")
	assert.Less(t, written.Load(), int64(1<<30), "the sender stopped reading: the server could not write it all")
}

func TestGoneDisablesEndpoint(t *testing.T) {
	t.Parallel()
	type disabled struct {
		ep     *webhook.Endpoint
		reason string
	}
	hook := make(chan disabled, 1)
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Retry = fastRetry(5)
		c.Hooks.EndpointDisabled = func(_ context.Context, ep *webhook.Endpoint, reason string) { hook <- disabled{ep, reason} }
	})
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.Always(http.StatusGone)))
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	msg, err := d.Publish(context.Background(), rewardIssued{}, nil)
	require.NoError(t, err)
	select {
	case got := <-hook:
		assert.Equal(t, ep.ID, got.ep.ID)
		assert.True(t, got.ep.Disabled)
		assert.Contains(t, got.reason, "410 Gone")
	case <-time.After(5 * time.Second):
		t.Fatal("EndpointDisabled never fired")
	}
	dl := waitState(t, d.Dispatcher, deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID, webhook.StateFailed)
	assert.Equal(t, 1, dl.Attempts, "410 is not retried")
	stored, err := d.GetEndpoint(context.Background(), ep.ID)
	require.NoError(t, err)
	assert.True(t, stored.Disabled)
	assert.Contains(t, stored.DisabledReason, "410 Gone")
	msg2, err := d.Publish(context.Background(), rewardIssued{}, nil)
	require.NoError(t, err)
	assert.Empty(t, deliveriesOf(t, d.Dispatcher, msg2.ID), "a disabled endpoint gets no new deliveries")
	assert.Equal(t, 1, rcv.Count())
}

// countAttempts returns an AfterAttempt hook counting attempts.
func countAttempts(n *atomic.Int32) func(context.Context, *webhook.Delivery, *webhook.Attempt) {
	return func(context.Context, *webhook.Delivery, *webhook.Attempt) { n.Add(1) }
}

func TestCircuitBreakerOnDeadEndpoint(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var attempts atomic.Int32
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Now = clock.Now
		c.Retry = fastRetry(100)
		c.MaxInFlightPerEndpoint = 1
		c.Health = webhook.HealthPolicy{BreakerThreshold: 3, BreakerCooldown: time.Minute, BreakerMaxCooldown: 4 * time.Minute}
		c.Hooks.AfterAttempt = countAttempts(&attempts)
	})
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: deadURL(t)})
	var ids []string
	for i := range 5 {
		msg, err := d.Publish(context.Background(), rewardIssued{Points: i}, nil)
		require.NoError(t, err)
		ids = append(ids, deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID)
	}
	require.Eventually(t, func() bool { return attempts.Load() >= 3 }, 5*time.Second, time.Millisecond)
	// The breaker is open: nothing more goes out, whatever is due.
	assert.Never(t, func() bool { return attempts.Load() > 3 }, 200*time.Millisecond, 5*time.Millisecond)

	// Cool-down over (plus its jitter): exactly one probe, which fails.
	clock.Advance(70 * time.Second)
	require.Eventually(t, func() bool { return attempts.Load() == 4 }, 5*time.Second, time.Millisecond)
	assert.Never(t, func() bool { return attempts.Load() > 4 }, 200*time.Millisecond, 5*time.Millisecond)

	// An operator's redelivery and test go out at once, breaker or not.
	require.NoError(t, d.Redeliver(context.Background(), ids[4]))
	require.Eventually(t, func() bool { return attempts.Load() == 5 }, 5*time.Second, time.Millisecond)
	a, err := d.SendTest(context.Background(), ep.ID)
	require.NoError(t, err)
	assert.Contains(t, a.Error, "refused")

	// The endpoint comes back: the next probe succeeds and closes the
	// breaker, and every delivery goes out.
	rcv := webhooktest.NewReceiver(t)
	ep.URL = rcv.URL
	require.NoError(t, d.UpdateEndpoint(context.Background(), ep))
	clock.Advance(3 * time.Minute) // the doubled cool-down, 2 min, plus jitter
	for _, id := range ids {
		waitState(t, d.Dispatcher, id, webhook.StateSucceeded)
	}
	assert.Equal(t, 5, rcv.AckedIDs())
}

func TestRateLimitedEndpointWaitsInTheStore(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	d := newDispatcher(t, func(c *webhook.Config) { c.Now = clock.Now })
	rcv := webhooktest.NewReceiver(t)
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL, RateLimit: 2})
	start := clock.Now()
	for i := range 6 {
		_, err := d.Publish(context.Background(), rewardIssued{Points: i}, nil)
		require.NoError(t, err)
	}
	// Two go out (the burst); four wait in the store, each due at its slot.
	var slots []time.Duration
	require.Eventually(t, func() bool {
		ds, _, err := d.ListDeliveries(context.Background(), webhook.DeliveryQuery{EndpointID: ep.ID, State: webhook.StatePending})
		require.NoError(t, err)
		slots = slots[:0]
		for _, dl := range ds {
			if dl.NextAttemptAt.After(start) {
				slots = append(slots, dl.NextAttemptAt.Sub(start))
			}
		}
		return rcv.AckedIDs() == 2 && len(slots) == 4
	}, 5*time.Second, time.Millisecond)
	assert.ElementsMatch(t, []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second}, slots)
	ds, _, err := d.ListDeliveries(context.Background(), webhook.DeliveryQuery{EndpointID: ep.ID, State: webhook.StatePending})
	require.NoError(t, err)
	for _, dl := range ds {
		assert.Zero(t, dl.Attempts, "waiting for the rate uses no attempt")
	}
	clock.Advance(time.Second)
	rcv.WaitForAcked(t, 4, 5*time.Second)
	clock.Advance(time.Second)
	rcv.WaitForAcked(t, 6, 5*time.Second)
}

func TestAutoDisableAfterFailingForTheWindow(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	hook := make(chan string, 1)
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Now = clock.Now
		c.Retry = fastRetry(100)
		c.Health = webhook.HealthPolicy{DisableBreaker: true}
		c.Hooks.EndpointDisabled = func(_ context.Context, _ *webhook.Endpoint, reason string) { hook <- reason }
	})
	var healthy atomic.Bool
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(func(int, *webhooktest.Delivery) webhooktest.Answer {
		if healthy.Load() {
			return webhooktest.Answer{}
		}
		return webhooktest.Answer{Status: 500}
	}))
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	t0 := clock.Now()
	msg, err := d.Publish(context.Background(), rewardIssued{}, nil)
	require.NoError(t, err)
	id := deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID

	failingSince := func() time.Time {
		got, err := d.GetEndpoint(context.Background(), ep.ID)
		require.NoError(t, err)
		return got.FailingSince
	}
	waitDelivery(t, d.Dispatcher, id, func(dl *webhook.Delivery) bool { return dl.Attempts == 1 })
	assert.True(t, failingSince().IsZero(), "a run is not stored before it has lasted a minute")

	// Four days later: still failing, still enabled; the run is stored
	// with its start.
	clock.Advance(4 * 24 * time.Hour)
	waitDelivery(t, d.Dispatcher, id, func(dl *webhook.Delivery) bool { return dl.Attempts == 2 })
	require.Eventually(t, func() bool { return !failingSince().IsZero() }, 5*time.Second, time.Millisecond)
	got, err := d.GetEndpoint(context.Background(), ep.ID)
	require.NoError(t, err)
	assert.False(t, got.Disabled)
	assert.True(t, got.FailingSince.Equal(t0), "the run's start")

	// Past five days: disabled with a reason and the hook.
	clock.Advance(24 * time.Hour)
	select {
	case reason := <-hook:
		assert.Contains(t, reason, "every attempt failed since")
	case <-time.After(5 * time.Second):
		t.Fatal("EndpointDisabled never fired")
	}
	got, err = d.GetEndpoint(context.Background(), ep.ID)
	require.NoError(t, err)
	assert.True(t, got.Disabled)
	assert.Contains(t, got.DisabledReason, "every attempt failed since")
	clock.Advance(time.Second)
	dl := waitState(t, d.Dispatcher, id, webhook.StateFailed)
	assert.Contains(t, dl.LastError, "endpoint disabled", "its pending delivery fails without an attempt, and is kept")

	// Enabling clears the failure state; a success keeps it clear.
	require.NoError(t, d.EnableEndpoint(context.Background(), ep.ID))
	assert.True(t, failingSince().IsZero())
	healthy.Store(true)
	n, err := d.RetryFailed(context.Background(), ep.ID, t0.Add(-time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	waitState(t, d.Dispatcher, id, webhook.StateSucceeded)
	assert.True(t, failingSince().IsZero())
}

func TestSuccessClearsFailingSince(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	d := newDispatcher(t, func(c *webhook.Config) { c.Now = clock.Now })
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.FailFirst(2, 502)))
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	t0 := clock.Now()
	msg, err := d.Publish(context.Background(), rewardIssued{}, nil)
	require.NoError(t, err)
	id := deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID
	waitDelivery(t, d.Dispatcher, id, func(dl *webhook.Delivery) bool { return dl.Attempts == 1 })
	clock.Advance(2 * time.Minute)
	waitDelivery(t, d.Dispatcher, id, func(dl *webhook.Delivery) bool { return dl.Attempts == 2 })
	var got *webhook.Endpoint
	require.Eventually(t, func() bool {
		got, err = d.GetEndpoint(context.Background(), ep.ID)
		return err == nil && !got.FailingSince.IsZero()
	}, 5*time.Second, time.Millisecond)
	assert.True(t, got.FailingSince.Equal(t0))
	clock.Advance(time.Second)
	waitState(t, d.Dispatcher, id, webhook.StateSucceeded)
	require.Eventually(t, func() bool {
		got, err := d.GetEndpoint(context.Background(), ep.ID)
		return err == nil && got.FailingSince.IsZero()
	}, 5*time.Second, time.Millisecond)

	// An operator's update leaves FailingSince alone.
	got, err = d.GetEndpoint(context.Background(), ep.ID)
	require.NoError(t, err)
	got.FailingSince = clock.Now()
	got.Description = "changed"
	require.NoError(t, d.UpdateEndpoint(context.Background(), got))
	assert.True(t, got.FailingSince.IsZero())
}
