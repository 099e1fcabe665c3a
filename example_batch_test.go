package webhook_test

import (
	"context"
	"errors"
	"fmt"

	webhook "github.com/hookline/webhook"
)

// A nightly job issuing rewards publishes them in batches: one store
// write per batch, all or nothing, and idempotent per ID, so a job that
// crashed half way simply runs again.
func ExampleDispatcher_PublishBatch() {
	ctx := context.Background()
	d, _ := webhook.New(webhook.Config{})
	_ = d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "acme", URL: "https://hooks.acme.example/hookline"})

	var batch []webhook.BatchEvent
	for i := range 3 {
		batch = append(batch, webhook.BatchEvent{
			Event: OrderPaid{OrderID: fmt.Sprint("ord_", i), Cents: 100 * i},
			Opts:  &webhook.PublishOpts{ID: fmt.Sprint("reward-2030-01-01-", i), Tenant: "acme"},
		})
	}
	msgs, err := d.PublishBatch(ctx, batch)
	fmt.Println(len(msgs), err)

	// The same batch again stores nothing new and returns what was stored.
	again, _ := d.PublishBatch(ctx, batch)
	fmt.Println(again[2].ID == msgs[2].ID)

	// Bad input in one event: nothing of the batch is stored.
	batch = append(batch, webhook.BatchEvent{Event: webhook.RawEvent{Type: "order.paid", Data: []byte("{")}})
	_, err = d.PublishBatch(ctx, batch)
	var be *webhook.BatchError
	fmt.Println(errors.Is(err, webhook.ErrInvalid), errors.As(err, &be) && be.Index == 3)
	// Output:
	// 3 <nil>
	// true
	// true true
}
