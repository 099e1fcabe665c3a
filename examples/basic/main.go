// Command basic shows hookline end to end on the in-memory store: a local
// receiver that verifies signatures, two endpoints (one failing its first
// two attempts), typed events, retries, and the attempt log.
//
//	go run ./examples/basic
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	webhook "github.com/hookline/webhook"
)

// RewardIssued is a typed event: any struct with an EventType method.
type RewardIssued struct {
	CustomerID string `json:"customer_id"`
	Points     int    `json:"points"`
}

// EventType names the event.
func (RewardIssued) EventType() string { return "reward.issued" }

// PaymentUpdated is another event type.
type PaymentUpdated struct {
	PaymentID string `json:"payment_id"`
	Status    string `json:"status"`
}

// EventType names the event.
func (PaymentUpdated) EventType() string { return "payment.updated" }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A receiver with two paths: /crm answers 200; /loyalty fails its first
	// two requests with a 503, then answers 200.
	var secrets sync.Map // path -> secret
	var loyaltyRequests atomic.Int64
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		secret, _ := secrets.Load(r.URL.Path)
		if err := webhook.Verify(secret.(string), r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/loyalty" && loyaltyRequests.Add(1) <= 2 {
			http.Error(w, "warming up, try again", http.StatusServiceUnavailable)
			return
		}
		received.Add(1)
		fmt.Printf("  receiver %-8s got %s %s (signature verified)\n", r.URL.Path, r.Header.Get("webhook-id"), body)
	}))
	defer srv.Close()

	var attempts sync.WaitGroup
	d, err := webhook.New(webhook.Config{
		AllowHTTP:            true, // the local receiver is plain http
		AllowPrivateNetworks: true, // ...on loopback
		Retry: webhook.RetryPolicy{
			MaxAttempts: 5,
			// Retry fast for the demo; the default spans about 75 hours.
			NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(200 * time.Millisecond) },
		},
		Hooks: webhook.Hooks{
			AfterAttempt: func(_ context.Context, d *webhook.Delivery, a *webhook.Attempt) {
				result := fmt.Sprintf("HTTP %d", a.StatusCode)
				if a.Error != "" {
					result = a.Error
				}
				fmt.Printf("attempt %d of %s to %s: %s in %s -> %s\n",
					a.Number, d.MessageID, d.EndpointID, result, a.Duration.Round(time.Microsecond), d.State)
				if d.State != webhook.StatePending {
					attempts.Done()
				}
			},
		},
	})
	if err != nil {
		return err
	}
	defer d.Shutdown(context.Background())

	crm := &webhook.Endpoint{Tenant: "acme", URL: srv.URL + "/crm", Description: "CRM sync", EventTypes: []string{"payment.*"}}
	loyalty := &webhook.Endpoint{Tenant: "acme", URL: srv.URL + "/loyalty", Description: "Loyalty app"}
	for _, ep := range []*webhook.Endpoint{crm, loyalty} {
		if err := d.CreateEndpoint(ctx, ep); err != nil {
			return err
		}
		secrets.Store(ep.URL[len(srv.URL):], ep.Secret)
		fmt.Printf("endpoint %s %s types=%v\n", ep.ID, ep.URL, ep.EventTypes)
	}

	events := []webhook.Event{
		RewardIssued{CustomerID: "cus_1", Points: 120},
		PaymentUpdated{PaymentID: "pay_7", Status: "captured"},
		RewardIssued{CustomerID: "cus_2", Points: 40},
	}
	var msgs []*webhook.Message
	for _, ev := range events {
		msg, err := d.Publish(ctx, ev, &webhook.PublishOpts{Tenant: "acme"})
		if err != nil {
			return err
		}
		ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: msg.ID})
		if err != nil {
			return err
		}
		attempts.Add(len(ds))
		fmt.Printf("published %s %s to %d endpoint(s)\n", msg.Type, msg.ID, len(ds))
		msgs = append(msgs, msg)
	}

	// Publish works before Start; deliveries begin once the workers run.
	if err := d.Start(ctx); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { attempts.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("deliveries did not finish: %w", ctx.Err())
	}

	// Shutdown waits for the last attempts to be recorded; the store stays
	// readable after it.
	if err := d.Shutdown(ctx); err != nil {
		return err
	}
	fmt.Println("\nattempt log:")
	for _, msg := range msgs {
		ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: msg.ID})
		if err != nil {
			return err
		}
		for _, dl := range ds {
			fmt.Printf("%s %s -> %s: %s after %d attempt(s)\n", msg.Type, msg.ID, dl.EndpointID, dl.State, dl.Attempts)
			as, _, err := d.ListAttempts(ctx, webhook.AttemptQuery{DeliveryID: dl.ID})
			if err != nil {
				return err
			}
			for _, a := range as {
				fmt.Printf("    #%d %s status=%d duration=%s error=%q response=%q\n",
					a.Number, a.StartedAt.Format(time.TimeOnly+".000"), a.StatusCode, a.Duration.Round(time.Microsecond), a.Error, a.Response)
			}
			if dl.State != webhook.StateSucceeded {
				return fmt.Errorf("delivery %s ended %s", dl.ID, dl.State)
			}
		}
	}
	fmt.Printf("\n%d deliveries received, all signed and verified\n", received.Load())
	return nil
}
