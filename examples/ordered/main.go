// Command ordered shows ordered delivery: one endpoint with Ordered set, a
// receiver that refuses a third of the requests at random, and events of
// three customers published with the customer as the ordering key. Each
// customer's events are applied in publish order, whatever the failures;
// the customers do not wait for each other.
//
//	go run ./examples/ordered
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	webhook "github.com/hookline/webhook"
)

// CustomerChanged is a typed event; Seq is the change's number for its
// customer, so the receiver can show the order it applied them in.
type CustomerChanged struct {
	CustomerID string `json:"customer_id"`
	Seq        int    `json:"seq"`
}

// EventType names the event.
func (CustomerChanged) EventType() string { return "customer.changed" }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	applied := map[string][]int{} // customer -> Seq, in the order applied
	seen := map[string]bool{}     // webhook-id: a receiver dedupes on it
	refused, total := 0, 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct{ Data CustomerChanged }
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(3) == 0 {
			refused++
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if id := r.Header.Get("webhook-id"); !seen[id] {
			seen[id] = true
			applied[env.Data.CustomerID] = append(applied[env.Data.CustomerID], env.Data.Seq)
			total++
		}
	}))
	defer recv.Close()

	d, err := webhook.New(webhook.Config{
		AllowHTTP: true, AllowPrivateNetworks: true, // a loopback receiver, for the example
		Retry: webhook.RetryPolicy{MaxAttempts: 50, // retried 5 ms apart until it goes through
			NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(5 * time.Millisecond) }},
		Health: webhook.HealthPolicy{DisableBreaker: true},
	})
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = d.Shutdown(sctx)
	}()
	if err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: recv.URL, Description: "CRM mirror", Ordered: true}); err != nil {
		return err
	}

	customers := []string{"cus_1", "cus_2", "cus_3"}
	const perCustomer = 5
	for seq := range perCustomer {
		for _, c := range customers {
			if _, err := d.Publish(ctx, CustomerChanged{CustomerID: c, Seq: seq}, &webhook.PublishOpts{OrderingKey: c}); err != nil {
				return err
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := total
		mu.Unlock()
		if n == len(customers)*perCustomer {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d events arrived", n, len(customers)*perCustomer)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("the receiver refused %d requests; every event arrived, each customer's in order:\n", refused)
	want := []int{0, 1, 2, 3, 4}
	for _, c := range customers {
		fmt.Println(" ", c, applied[c])
		if !slices.Equal(applied[c], want) {
			return errors.New("out of order: " + c)
		}
	}
	return nil
}
