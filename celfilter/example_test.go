package celfilter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/celfilter"
)

type paymentSettled struct {
	Amount   int    `json:"amount"`
	Currency string `json:"currency"`
}

func (paymentSettled) EventType() string { return "payment.settled" }

// Routing: a CEL filter and channels decide which of a tenant's endpoints
// get a message; a per-endpoint format changes the body one of them
// receives; ReplayMissing catches an endpoint up on what it missed.
func Example() {
	ctx := context.Background()
	legacy := func(msg *webhook.Message, data json.RawMessage) ([]byte, error) {
		return json.Marshal(map[string]any{"data": data, "meta": map[string]string{"event": msg.Type, "id": msg.ID}})
	}
	d, err := webhook.New(webhook.Config{
		Filter:  celfilter.Must(nil),
		Formats: map[string]webhook.EnvelopeFunc{"legacy": legacy},
	})
	if err != nil {
		panic(err)
	}
	big := &webhook.Endpoint{Tenant: "acme", URL: "https://example.com/big",
		Filter: `data.amount >= 100 && data.currency == "EUR"`}
	eu := &webhook.Endpoint{Tenant: "acme", URL: "https://example.com/eu", Channels: []string{"eu"}, Format: "legacy"}
	for _, ep := range []*webhook.Endpoint{big, eu} {
		if err := d.CreateEndpoint(ctx, ep); err != nil {
			panic(err)
		}
	}
	bad := &webhook.Endpoint{Tenant: "acme", URL: "https://example.com/x", Filter: `data.amount >=`}
	fmt.Println(d.CreateEndpoint(ctx, bad) != nil)

	first, _ := d.Publish(ctx, paymentSettled{250, "EUR"}, &webhook.PublishOpts{Tenant: "acme", Channels: []string{"eu"}})
	_, _ = d.Publish(ctx, paymentSettled{20, "EUR"}, &webhook.PublishOpts{Tenant: "acme", Channels: []string{"us"}})
	count := func(ep *webhook.Endpoint) int {
		ds, _, _ := d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep.ID})
		return len(ds)
	}
	fmt.Println("big:", count(big), "eu:", count(eu))

	// The filter was too narrow: widen it and replay what it missed.
	big.Filter = `data.amount > 0`
	if err := d.UpdateEndpoint(ctx, big); err != nil {
		panic(err)
	}
	n, _ := d.ReplayMissing(ctx, big.ID, first.CreatedAt.Add(-time.Second))
	again, _ := d.ReplayMissing(ctx, big.ID, first.CreatedAt.Add(-time.Second))
	fmt.Println("replayed:", n, "then:", again)
	// Output:
	// true
	// big: 1 eu: 1
	// replayed: 1 then: 0
}
