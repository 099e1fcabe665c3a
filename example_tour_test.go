package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cenkalti/backoff/v4"
	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
)

// The package's quick start, end to end: a receiver that verifies
// signatures, a dispatcher on the memory store, an endpoint, a publish.
func Example() {
	ctx := context.Background()

	// The receiving side: Verifier.Middleware answers 401 unless the
	// signature checks out against the endpoint's secret.
	v := &webhook.Verifier{}
	got := make(chan string, 1)
	receiver := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("webhook-id") // the same on every attempt: dedupe on it
		w.WriteHeader(http.StatusNoContent)
	})))
	defer receiver.Close()

	// The sending side. The local receiver is plain http on loopback, which
	// the default configuration refuses.
	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true})
	if err != nil {
		panic(err)
	}
	if err := d.Start(ctx); err != nil {
		panic(err)
	}
	defer d.Shutdown(ctx)

	ep := &webhook.Endpoint{Tenant: "acme", URL: receiver.URL, EventTypes: []string{"order.*"}}
	if err := d.CreateEndpoint(ctx, ep); err != nil {
		panic(err)
	}
	v.Secrets = []string{ep.Secret} // the customer configures the secret on their side

	msg, err := d.Publish(ctx, OrderPaid{OrderID: "o_1", Cents: 4200}, &webhook.PublishOpts{Tenant: "acme", ID: "order-o_1-paid"})
	if err != nil {
		panic(err)
	}
	select {
	case id := <-got:
		fmt.Println("received", id, "for", msg.Type)
	case <-time.After(5 * time.Second):
		fmt.Println("timeout")
	}
	// Output: received order-o_1-paid for order.paid
}

// A retry schedule in milliseconds, for tests and demos: an exponential
// backoff from github.com/cenkalti/backoff/v4 (import it beside hookline).
// Build it with backoff.NewExponentialBackOff, not a struct literal, and set
// MaxElapsedTime to 0 so that MaxAttempts alone ends the retries.
func ExampleRetryPolicy() {
	retry := webhook.RetryPolicy{
		MaxAttempts: 4,
		NewBackOff: func() backoff.BackOff {
			return backoff.NewExponentialBackOff(
				backoff.WithInitialInterval(time.Millisecond),
				backoff.WithMultiplier(2),
				backoff.WithRandomizationFactor(0), // no jitter, so this example's output is fixed
				backoff.WithMaxInterval(100*time.Millisecond),
				backoff.WithMaxElapsedTime(0), // never stop on elapsed time
			)
		},
	}
	for n := 1; n <= retry.MaxAttempts; n++ {
		delay, again := retry.Delay(n)
		fmt.Printf("after attempt %d: retry %v, in %v\n", n, again, delay)
	}

	// In a dispatcher: a receiver that fails twice, then accepts.
	r := webhooktest.StartReceiver(webhooktest.WithScript(webhooktest.FailFirst(2, http.StatusServiceUnavailable)))
	defer r.Close()
	ctx := context.Background()
	d, _ := webhook.New(webhook.Config{Retry: retry, AllowHTTP: true, AllowPrivateNetworks: true})
	_ = d.Start(ctx)
	defer d.Shutdown(ctx)
	_ = d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "acme", URL: r.URL})
	msg, _ := d.Publish(ctx, OrderPaid{OrderID: "o_2"}, &webhook.PublishOpts{Tenant: "acme"})

	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.Await(wait, func() bool { return r.Acked(msg.ID) > 0 }); err != nil {
		fmt.Println(err)
	}
	for _, got := range r.Deliveries() {
		fmt.Println("attempt", got.Attempt, "answered", got.Status)
	}
	// Output:
	// after attempt 1: retry true, in 1ms
	// after attempt 2: retry true, in 2ms
	// after attempt 3: retry true, in 4ms
	// after attempt 4: retry false, in 0s
	// attempt 1 answered 503
	// attempt 2 answered 503
	// attempt 3 answered 200
}

// CombineHooks runs the host's hooks and an instrumentation's (here a
// counter) side by side, in the order given.
func ExampleCombineHooks() {
	r := webhooktest.StartReceiver()
	defer r.Close()

	done := make(chan struct{})
	host := webhook.Hooks{
		BeforeAttempt: func(_ context.Context, req *http.Request, _ *webhook.Delivery) {
			req.Header.Set("X-Shop", "acme-shop") // hooks may add headers
		},
		AfterAttempt: func(_ context.Context, _ *webhook.Delivery, a *webhook.Attempt) {
			fmt.Println("host: attempt", a.Number, "answered", a.StatusCode)
		},
	}
	attempts := 0
	metrics := webhook.Hooks{
		AfterAttempt: func(context.Context, *webhook.Delivery, *webhook.Attempt) {
			attempts++ // one attempt here; hooks run on many workers at once, so a real counter is atomic
			fmt.Println("metrics: attempts =", attempts)
			close(done)
		},
	}

	ctx := context.Background()
	d, _ := webhook.New(webhook.Config{
		Hooks:     webhook.CombineHooks(host, metrics),
		AllowHTTP: true, AllowPrivateNetworks: true,
	})
	_ = d.Start(ctx)
	defer d.Shutdown(ctx)
	_ = d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "acme", URL: r.URL})
	_, _ = d.Publish(ctx, OrderPaid{OrderID: "o_3"}, &webhook.PublishOpts{Tenant: "acme"})

	select {
	case <-done:
	case <-time.After(5 * time.Second):
		fmt.Println("timeout")
	}
	fmt.Println("receiver saw X-Shop:", r.Deliveries()[0].Header.Get("X-Shop"))
	// Output:
	// host: attempt 1 answered 200
	// metrics: attempts = 1
	// receiver saw X-Shop: acme-shop
}

// PublishTx is a function, not a Dispatcher method: it publishes inside the
// caller's transaction of a store that supports that transaction type
// (pgstore with a pgx.Tx; see the pgstore package's example). The memory
// store has no transactions and says so.
func ExamplePublishTx() {
	ctx := context.Background()
	d, _ := webhook.New(webhook.Config{}) // a MemoryStore

	var tx any // with pgstore: tx, err := pool.Begin(ctx)
	_, err := webhook.PublishTx(ctx, d, tx, OrderPaid{OrderID: "o_4"}, &webhook.PublishOpts{Tenant: "acme"})
	fmt.Println(errors.Is(err, webhook.ErrTxUnsupported))
	// Output: true
}
