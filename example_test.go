package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	webhook "github.com/hookline/webhook"
)

// OrderPaid is a typed event: any value with an EventType method.
type OrderPaid struct {
	OrderID string `json:"order_id"`
	Cents   int    `json:"cents"`
}

func (OrderPaid) EventType() string { return "order.paid" }

func ExampleNew() {
	d, err := webhook.New(webhook.Config{
		// Store: pgstore.New(pool, nil) for durable, multi-instance delivery.
		Retry: webhook.RetryPolicy{MaxAttempts: 5},
	})
	if err != nil {
		panic(err)
	}
	if err := d.Start(context.Background()); err != nil {
		panic(err)
	}
	defer d.Shutdown(context.Background())
	fmt.Println("started")
	// Output: started
}

func ExampleDispatcher_CreateEndpoint() {
	d, _ := webhook.New(webhook.Config{})
	ep := &webhook.Endpoint{
		Tenant:      "acme",
		URL:         "https://hooks.acme.example/hookline",
		Description: "Acme's order system",
		EventTypes:  []string{"order.*"},
	}
	if err := d.CreateEndpoint(context.Background(), ep); err != nil {
		panic(err)
	}
	fmt.Println(ep.ID != "", ep.Secret[:6])

	err := d.CreateEndpoint(context.Background(), &webhook.Endpoint{URL: "http://10.0.0.5/hook"})
	fmt.Println(err)
	// Output:
	// true whsec_
	// hookline: invalid url: "http://10.0.0.5/hook" uses http; use https (or set Config.AllowHTTP for local development)
}

func ExampleDispatcher_Publish() {
	got := make(chan string, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("webhook-id")
	}))
	defer receiver.Close()

	d, _ := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true})
	ctx := context.Background()
	_ = d.Start(ctx)
	defer d.Shutdown(ctx)
	_ = d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "acme", URL: receiver.URL})

	msg, err := d.Publish(ctx, OrderPaid{OrderID: "o_1", Cents: 4200}, &webhook.PublishOpts{
		Tenant: "acme",
		ID:     "order-o_1-paid", // publishing this ID again stores nothing new
	})
	if err != nil {
		panic(err)
	}
	select {
	case id := <-got:
		fmt.Println(msg.Type, id)
	case <-time.After(5 * time.Second):
		fmt.Println("timeout")
	}
	// Output: order.paid order-o_1-paid
}

func ExampleVerify() {
	secret := webhook.NewSecret()
	body := []byte(`{"type":"order.paid","timestamp":"2030-01-01T00:00:00Z","data":{}}`)
	now := time.Now()
	sig, _ := webhook.Sign(secret, "msg_1", now, body)

	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
	h.Set("webhook-signature", sig)
	fmt.Println(webhook.Verify(secret, h, body))
	fmt.Println(webhook.Verify(secret, h, []byte(`{"tampered":true}`)))
	// Output:
	// <nil>
	// hookline: no signature matches
}

// ReplayMissing catches an endpoint up: here one created after the
// messages it would have wanted. A second run queues nothing.
func ExampleDispatcher_ReplayMissing() {
	ctx := context.Background()
	d, err := webhook.New(webhook.Config{})
	if err != nil {
		panic(err)
	}
	start := time.Now().Add(-time.Second)
	for _, ch := range []string{"eu", "us", "eu"} {
		if _, err := d.Publish(ctx, webhook.RawEvent{Type: "order.placed", Data: json.RawMessage(`{}`)},
			&webhook.PublishOpts{Tenant: "acme", Channels: []string{ch}}); err != nil {
			panic(err)
		}
	}
	ep := &webhook.Endpoint{Tenant: "acme", URL: "https://example.com/hooks", Channels: []string{"eu"}}
	if err := d.CreateEndpoint(ctx, ep); err != nil {
		panic(err)
	}
	n, _ := d.ReplayMissing(ctx, ep.ID, start)
	again, _ := d.ReplayMissing(ctx, ep.ID, start)
	fmt.Println(n, again)
	// Output: 2 0
}
