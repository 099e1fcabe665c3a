package webhook_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
)

// fillPending stores n pending deliveries, due at base, spread over 10
// endpoints, straight into the store.
func fillPending(b *testing.B, s *webhook.MemoryStore, n int, base time.Time) {
	b.Helper()
	ctx := context.Background()
	const eps = 10
	for i := range eps {
		if err := s.CreateEndpoint(ctx, &webhook.Endpoint{ID: fmt.Sprintf("ep_%d", i), URL: "https://example.com"}); err != nil {
			b.Fatal(err)
		}
	}
	payload := []byte(`{"type":"a.b","timestamp":"2030-01-01T00:00:00Z","data":{}}`)
	for i := 0; i < n; i += eps {
		msg := &webhook.Message{ID: fmt.Sprintf("msg_%09d", i), Type: "a.b", Payload: payload, CreatedAt: base}
		ds := make([]*webhook.Delivery, eps)
		for j := range ds {
			ds[j] = &webhook.Delivery{ID: fmt.Sprintf("dlv_%09d", i+j), MessageID: msg.ID, EndpointID: fmt.Sprintf("ep_%d", j),
				State: webhook.StatePending, NextAttemptAt: base.Add(time.Duration(i+j) * time.Nanosecond), CreatedAt: base}
		}
		if err := s.InsertMessage(ctx, msg, ds); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryStoreClaim measures claiming and recording (as a retry,
// so the pending count stays n) per delivery, with n deliveries pending.
// The cost must stay flat as n grows: O(log n).
func BenchmarkMemoryStoreClaim(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("pending=%d", n), func(b *testing.B) {
			s := webhook.NewMemoryStore()
			base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			fillPending(b, s, n, base)
			claimAndRetry(b, s, n, base)
		})
	}
}

// claimAndRetry is the timed loop of the claim benchmarks: claims of 64
// from s, whose n pending deliveries fillPending stored at base, each
// recorded as a retry due after every other, so n stay pending; it reports
// ns per claimed delivery.
func claimAndRetry(b *testing.B, s *webhook.MemoryStore, n int, base time.Time) {
	ctx := context.Background()
	now := base.Add(time.Hour)
	next := base.Add(time.Duration(n) * time.Nanosecond)
	const batch = 64
	recs := make([]webhook.Record, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	claimed := 0
	for claimed < b.N {
		cs, err := s.Claim(ctx, webhook.ClaimParams{Owner: "b", Now: now, Limit: batch, Lease: time.Minute})
		if err != nil || len(cs) == 0 {
			b.Fatalf("claim: %v, %d", err, len(cs))
		}
		recs = recs[:0]
		for _, c := range cs {
			next = next.Add(time.Nanosecond)
			recs = append(recs, webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: now,
				State: webhook.StatePending, NextAttemptAt: next})
		}
		if _, err := s.Record(ctx, recs); err != nil {
			b.Fatal(err)
		}
		claimed += len(cs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(claimed), "ns/delivery")
}

// BenchmarkPublish measures Publish on the memory store with 10 subscribed
// endpoints (no workers running).
func BenchmarkPublish(b *testing.B) {
	d, err := webhook.New(webhook.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "t", URL: "https://example.com/hook"}); err != nil {
			b.Fatal(err)
		}
	}
	ev := rewardIssued{CustomerID: "cus_123", Points: 50}
	opts := &webhook.PublishOpts{Tenant: "t"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.Publish(ctx, ev, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign measures one Standard Webhooks signature of a 1 KiB body.
func BenchmarkSign(b *testing.B) {
	secret := webhook.NewSecret()
	body := make([]byte, 1024)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := webhook.Sign(secret, "msg_01934f0c2b6a7cc1b5f8e2a4d9c3e7f1", now, body); err != nil {
			b.Fatal(err)
		}
	}
}
