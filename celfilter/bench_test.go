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
// event's JSON and ten evaluations).
func BenchmarkPublish(b *testing.B) {
	for _, filtered := range []bool{false, true} {
		name := "filters=none"
		if filtered {
			name = "filters=10"
		}
		b.Run(name, func(b *testing.B) {
			d, err := webhook.New(webhook.Config{Filter: celfilter.Must(nil)})
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
