package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
)

// BenchmarkIsolation publishes 1,000 events per op to a healthy endpoint,
// alone and beside an endpoint of the same tenant that hangs 30 s on every
// request (subscribed to the same events, so it gets 1,000 deliveries per
// op too), with the default workers (64) and in-flight cap (16). One op is
// the time until the healthy endpoint has answered all 1,000: compare the
// sub-benchmarks' ns/op. beside_healthy is the control: the same fan-out
// to two endpoints, the second one answering at once.
func BenchmarkIsolation(b *testing.B) {
	for _, tc := range []struct {
		name         string
		other, hangs bool
	}{
		{"alone", false, false},
		{"beside_healthy", true, false}, // the control: the cost of fanning out to two endpoints
		{"beside_hanging", true, true},
	} {
		b.Run(tc.name, func(b *testing.B) { benchIsolation(b, tc.other, tc.hangs) })
	}
}

func benchIsolation(b *testing.B, withOther, hangs bool) {
	var got atomic.Int64
	target := atomic.Int64{}
	done := make(chan struct{}, 1)
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got.Add(1) == target.Load() {
			done <- struct{}{}
		}
	}))
	defer healthy.Close()
	stop := make(chan struct{})
	var hung atomic.Int64
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hangs {
			return
		}
		hung.Add(1)
		select {
		case <-time.After(30 * time.Second):
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer func() {
		close(stop)
		hang.CloseClientConnections() // the hanging requests end now, not in 30 s
		hang.Close()
	}()

	st := webhook.NewMemoryStore()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Lease: 2 * time.Minute, AttemptTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: healthy.URL}); err != nil {
		b.Fatal(err)
	}
	if withOther {
		if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: hang.URL}); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_ = d.Shutdown(sctx) // the hanging attempts are cut off
	}()
	const events = 1000
	b.ResetTimer()
	for b.Loop() {
		target.Add(events)
		for i := range events {
			if _, err := d.Publish(ctx, rewardIssued{Points: i}, nil); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-done:
		case <-time.After(25 * time.Second):
			b.Fatalf("the healthy endpoint got %d of %d", got.Load(), target.Load())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
	if hangs {
		b.ReportMetric(float64(hung.Load()), "hung_requests")
	}
}
