package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
)

// BenchmarkIsolation publishes 1,000 events per op to a healthy endpoint,
// alone and beside endpoints that hang on every request for longer than
// the attempt timeout (subscribed to the same events, so each gets 1,000
// deliveries per op too), with the default workers (64), in-flight cap
// (16) and attempt timeout (15 s). One op is the time until the healthy
// endpoint has answered all 1,000: compare the sub-benchmarks' ns/op.
// beside_healthy is the control: the same fan-out to two endpoints, the
// second one answering at once. With four hanging endpoints, 4 × 16
// attempts in flight would hold every worker.
func BenchmarkIsolation(b *testing.B) {
	for _, tc := range []struct {
		name    string
		other   bool
		hanging int
	}{
		{"alone", false, 0},
		{"beside_healthy", true, 0}, // the control: the cost of fanning out to two endpoints
		{"beside_1_hanging", true, 1},
		{"beside_4_hanging", true, 4},
	} {
		b.Run(tc.name, func(b *testing.B) { benchIsolation(b, tc.other, tc.hanging) })
	}
}

func benchIsolation(b *testing.B, withOther bool, hanging int) {
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
		if hanging == 0 {
			return
		}
		hung.Add(1)
		select {
		case <-time.After(time.Minute):
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer func() {
		close(stop)
		hang.CloseClientConnections() // the hanging requests end now, not in a minute
		hang.Close()
	}()

	st := webhook.NewMemoryStore()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: healthy.URL}); err != nil {
		b.Fatal(err)
	}
	for i := range max(hanging, 1) {
		if !withOther {
			break
		}
		// Distinct URLs (a query each): distinct endpoints on one server.
		if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: fmt.Sprintf("%s/?ep=%d", hang.URL, i)}); err != nil {
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
		case <-time.After(2 * time.Minute):
			b.Fatalf("the healthy endpoint got %d of %d", got.Load(), target.Load())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
	if hanging > 0 {
		b.ReportMetric(float64(hung.Load()), "hung_requests")
	}
}
