package celfilter_test

import (
	"context"
	"fmt"
	"testing"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/celfilter"
)

type rewardIssued struct {
	CustomerID string `json:"customer_id"`
	Points     int    `json:"points"`
	Tier       string `json:"tier"`
}

func (rewardIssued) EventType() string { return "reward.issued" }

// BenchmarkPublish is the core's BenchmarkPublish (memory store, 10
// subscribed endpoints, no workers) with a CEL filter on every endpoint,
// each a program of its own that lets the event through, against none:
// the difference is what filtering costs a publish (one decode of the
// event's JSON and ten evaluations). filters=10,no-timeout turns the
// wall-clock backstop (Options.Timeout) off, to show what it costs.
func BenchmarkPublish(b *testing.B) {
	for _, tc := range []struct {
		name     string
		filtered bool
		opts     *celfilter.Options
	}{
		{"filters=none", false, nil},
		{"filters=10", true, nil},
		{"filters=10,no-timeout", true, &celfilter.Options{Timeout: -1}},
	} {
		filtered := tc.filtered
		b.Run(tc.name, func(b *testing.B) {
			d, err := webhook.New(webhook.Config{Filter: celfilter.Must(tc.opts)})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for i := range 10 {
				ep := &webhook.Endpoint{Tenant: "t", URL: "https://example.com/hook"}
				if filtered {
					ep.Filter = fmt.Sprintf(`data.points >= %d && data.tier in ["gold", "platinum"]`, i)
				}
				if err := d.CreateEndpoint(ctx, ep); err != nil {
					b.Fatal(err)
				}
			}
			ev := rewardIssued{CustomerID: "cus_123", Points: 50, Tier: "gold"}
			opts := &webhook.PublishOpts{Tenant: "t"}
			b.ReportAllocs()
			var last *webhook.Message
			for b.Loop() {
				m, err := d.Publish(ctx, ev, opts)
				if err != nil {
					b.Fatal(err)
				}
				last = m
			}
			ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: last.ID})
			if err != nil || len(ds) != 10 {
				b.Fatalf("every filter must pass: %d deliveries, %v", len(ds), err)
			}
		})
	}
}
