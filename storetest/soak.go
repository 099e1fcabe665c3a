package storetest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SoakResult summarises a soak run.
type SoakResult struct {
	Events, Deliveries, Requests, Attempts, Lost, Duplicates int
	ByOutcome                                                map[webhooktest.Outcome]int
	DuplicateCauses                                          map[string]int
	Elapsed                                                  time.Duration
}

// Soak publishes events to 5 endpoints on chaos receivers
// (webhooktest.ChaosReceiver: errors, 429s, hangs past the timeout,
// connection resets, slow bodies, redirects) with millisecond retries, and
// checks that nothing is lost: every message is accepted by every
// endpoint; a duplicate happens only where the receiver accepted a request
// the sender recorded as failed (a hang or reset); no attempt follows a
// recorded success; every delivery's attempt count matches its log; and a
// dispatcher started afterwards on the same store finds nothing in
// progress. st must be empty.
func Soak(t *testing.T, st webhook.Store, events int) SoakResult {
	t.Helper()
	ctx := context.Background()
	cfg := webhook.Config{
		Store: st, AllowHTTP: true, AllowPrivateNetworks: true,
		AttemptTimeout: 300 * time.Millisecond, Lease: 5 * time.Second, PollInterval: 20 * time.Millisecond,
		Retry: webhook.RetryPolicy{
			MaxAttempts:   100,
			NewBackOff:    func() backoff.BackOff { return backoff.NewConstantBackOff(2 * time.Millisecond) },
			MaxRetryAfter: 5 * time.Millisecond,
		},
		// The breaker runs as in production, on a millisecond scale like
		// the retries. Back-pressure recovers within a millisecond: the chaos
		// receivers answer 429 at random, not under load, so throttling
		// them would only slow the soak down (about twofold at 10,000
		// events with a 50 ms window).
		Health: webhook.HealthPolicy{BreakerCooldown: 10 * time.Millisecond, BreakerMaxCooldown: 50 * time.Millisecond, BackPressureWindow: time.Millisecond},
	}
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	var receivers []*webhooktest.ChaosReceiver
	eps := map[string]*webhooktest.ChaosReceiver{}
	for i := 0; i < 5; i++ {
		r := webhooktest.NewChaosReceiver(t, webhooktest.ChaosOptions{Seed: uint64(i + 1), HangFor: 2 * time.Second})
		receivers = append(receivers, r)
		ep := &webhook.Endpoint{Tenant: "soak", URL: r.URL}
		require.NoError(t, d.CreateEndpoint(ctx, ep))
		eps[ep.ID] = r
	}
	require.NoError(t, d.Start(ctx))
	start := time.Now()
	var msgs []string
	for i := 0; i < events; i++ {
		m, err := d.Publish(ctx, webhook.RawEvent{Type: "reward.issued", Data: []byte(`{"customer_id":"c` + strconv.Itoa(i) + `"}`)}, &webhook.PublishOpts{Tenant: "soak"})
		require.NoError(t, err)
		msgs = append(msgs, m.ID)
	}
	// Wait until nothing is pending.
	var pending atomic.Int64
	require.Eventually(t, func() bool {
		ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{Tenant: "soak", State: webhook.StatePending, Limit: 1})
		require.NoError(t, err)
		pending.Store(int64(len(ds)))
		return len(ds) == 0
	}, 3*time.Minute, 100*time.Millisecond, "deliveries still pending")
	elapsed := time.Since(start)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, d.Shutdown(sctx))

	res := SoakResult{Events: events, Deliveries: events * 5, ByOutcome: map[webhooktest.Outcome]int{},
		DuplicateCauses: map[string]int{}, Elapsed: elapsed}
	for _, r := range receivers {
		for _, req := range r.Requests() {
			res.Requests++
			res.ByOutcome[req.Outcome]++
		}
	}
	// Every message accepted by every endpoint at least once.
	for _, r := range receivers {
		for _, id := range msgs {
			accepted := false
			for _, o := range r.Outcomes(id) {
				accepted = accepted || o.Accepted()
			}
			if !accepted {
				res.Lost++
			}
		}
	}
	assert.Zero(t, res.Lost, "lost messages")

	// A fresh dispatcher on the same store finds nothing in progress, and
	// every delivery's attempt count matches its log.
	d2, err := webhook.New(cfg)
	require.NoError(t, err)
	require.NoError(t, d2.Start(ctx))
	require.NoError(t, d2.Shutdown(ctx))
	q := webhook.DeliveryQuery{Tenant: "soak", Limit: 1000}
	seen := 0
	for {
		ds, next, err := d2.ListDeliveries(ctx, q)
		require.NoError(t, err)
		for _, dl := range ds {
			seen++
			if !assert.Equal(t, webhook.StateSucceeded, dl.State, dl.ID) {
				continue
			}
			as, _, err := d2.ListAttempts(ctx, webhook.AttemptQuery{DeliveryID: dl.ID, Limit: 1000})
			require.NoError(t, err)
			res.Attempts += len(as)
			assert.Equal(t, dl.Attempts, len(as), "attempt count and log of %s", dl.ID)
			r, ok := eps[dl.EndpointID]
			if !ok {
				t.Errorf("delivery %s to unknown endpoint", dl.ID)
				continue
			}
			// A duplicate is a request the receiver accepted although the
			// sender recorded that attempt as failed (a hang past the timeout,
			// a reset, an answer that came too late), followed by another
			// attempt. The sender must never try again after it recorded a
			// success.
			for i, a := range as {
				if a.Succeeded() && i != len(as)-1 {
					t.Errorf("delivery %s: attempt %d succeeded but attempt %d followed", dl.ID, a.Number, as[len(as)-1].Number)
				}
			}
			byNumber := map[int]*webhook.Attempt{}
			for _, a := range as {
				byNumber[a.Number] = a
			}
			for _, req := range r.RequestsFor(dl.MessageID) {
				if !req.Outcome.Accepted() {
					continue
				}
				if a := byNumber[req.Attempt]; a != nil && !a.Succeeded() {
					res.Duplicates++
					res.DuplicateCauses[string(req.Outcome)+": "+shortError(a.Error)]++
				}
			}
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	assert.Equal(t, res.Deliveries, seen)
	t.Logf("soak: %d events, %d deliveries, %d requests, %d attempts recorded, %d lost, %d duplicates %v, outcomes %v, %s",
		res.Events, res.Deliveries, res.Requests, res.Attempts, res.Lost, res.Duplicates, res.DuplicateCauses, res.ByOutcome, res.Elapsed.Round(time.Millisecond))
	return res
}

// shortError keeps the kind of an attempt error, not its details.
func shortError(e string) string {
	switch {
	case strings.HasPrefix(e, "timeout"):
		return "timeout"
	case strings.Contains(e, "EOF"), strings.Contains(e, "reset"):
		return "connection closed"
	}
	return e
}

// SoakEvents is the soak size to use: HOOKLINE_SOAK_EVENTS when set, else
// 10,000, or 1,000 under the race detector (which slows everything about
// tenfold; run the full soak without it too).
func SoakEvents(t testing.TB) int {
	if v := os.Getenv("HOOKLINE_SOAK_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "HOOKLINE_SOAK_EVENTS")
		return n
	}
	if raceEnabled {
		return 1000
	}
	return 10000
}
