package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	webhook "github.com/hookline/webhook"
)

// CustomerChanged is an event a CRM mirrors: applied out of order, a
// "deleted" before an "updated" would bring the customer back.
type CustomerChanged struct {
	CustomerID string `json:"customer_id"`
	Change     string `json:"change"`
}

func (CustomerChanged) EventType() string { return "customer.changed" }

// An Ordered endpoint gets the messages of one OrderingKey one at a time,
// in publish order: here the receiver refuses the first attempt of
// "created", and "updated" and "deleted" wait until its retry succeeded.
// Keys are independent: cus_7's message does not wait for cus_42's.
func ExampleEndpoint_ordered() {
	var mu sync.Mutex
	var applied []string
	failed := false
	done := make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env struct{ Data CustomerChanged }
		_ = json.Unmarshal(body, &env)
		mu.Lock()
		defer mu.Unlock()
		if env.Data.CustomerID == "cus_42" && env.Data.Change == "created" && !failed {
			failed = true
			http.Error(w, "not now", http.StatusServiceUnavailable) // retried: the rest of cus_42 waits
			return
		}
		if env.Data.CustomerID == "cus_42" {
			applied = append(applied, env.Data.Change)
			if len(applied) == 3 {
				close(done)
			}
		}
	}))
	defer receiver.Close()

	ctx := context.Background()
	d, _ := webhook.New(webhook.Config{
		AllowHTTP: true, AllowPrivateNetworks: true, // a loopback receiver, for the example
		Retry: webhook.RetryPolicy{NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(10 * time.Millisecond) }},
	})
	_ = d.CreateEndpoint(ctx, &webhook.Endpoint{URL: receiver.URL, Ordered: true})
	for _, ev := range []CustomerChanged{
		{"cus_42", "created"}, {"cus_7", "created"}, {"cus_42", "updated"}, {"cus_42", "deleted"},
	} {
		if _, err := d.Publish(ctx, ev, &webhook.PublishOpts{OrderingKey: ev.CustomerID}); err != nil {
			panic(err)
		}
	}
	_ = d.Start(ctx)
	defer d.Shutdown(ctx)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	mu.Lock()
	fmt.Println(applied)
	mu.Unlock()
	// Output: [created updated deleted]
}
