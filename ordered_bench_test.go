package webhook_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
)

// BenchmarkMemoryStoreClaimBesideWaiting is BenchmarkMemoryStoreClaim's
// claim and record of 100,000 unordered pending deliveries, with waiting
// ordered deliveries of another endpoint in the same store (one queue
// whose head is leased, so the rest wait all along). Waiting deliveries
// are outside the due heaps: the cost must not depend on how many there
// are.
func BenchmarkMemoryStoreClaimBesideWaiting(b *testing.B) {
	for _, waiting := range []int{0, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("waiting=%d", waiting), func(b *testing.B) {
			s := webhook.NewMemoryStore()
			base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			fillWaiting(b, s, waiting, base)
			const n = 100_000
			fillPending(b, s, n, base)
			claimAndRetry(b, s, n, base)
		})
	}
}

// fillWaiting stores n ordered deliveries of one key to an ordered
// endpoint and leases the head for a day: the other n-1 wait.
func fillWaiting(b *testing.B, s *webhook.MemoryStore, n int, base time.Time) {
	b.Helper()
	if n == 0 {
		return
	}
	ctx := context.Background()
	if err := s.CreateEndpoint(ctx, &webhook.Endpoint{ID: "ep_ordered", URL: "https://example.com", Ordered: true}); err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"type":"a.b","timestamp":"2030-01-01T00:00:00Z","data":{}}`)
	for i := range n {
		msg := &webhook.Message{ID: fmt.Sprintf("wmsg_%09d", i), Type: "a.b", Payload: payload, OrderingKey: "k", CreatedAt: base}
		d := &webhook.Delivery{ID: fmt.Sprintf("wdlv_%09d", i), MessageID: msg.ID, EndpointID: "ep_ordered",
			State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, Ordered: true, OrderingKey: "k"}
		if err := s.InsertMessage(ctx, msg, []*webhook.Delivery{d}); err != nil {
			b.Fatal(err)
		}
	}
	cs, err := s.Claim(ctx, webhook.ClaimParams{Owner: "b", Now: base, Limit: 10, Lease: 24 * time.Hour})
	if err != nil || len(cs) != 1 {
		b.Fatalf("claiming the head: %v, %d claimed", err, len(cs))
	}
}
