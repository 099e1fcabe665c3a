// Command routing shows filters (CEL), channels, a per-endpoint body
// format and the replay of missed messages, on the in-memory store with a
// local receiver.
//
//	go run ./examples/routing
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/celfilter"
)

// TransactionCompleted is a typed event.
type TransactionCompleted struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

// EventType names the event.
func (TransactionCompleted) EventType() string { return "transaction.completed" }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	var mu sync.Mutex
	got := map[string][]string{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], string(b))
		mu.Unlock()
	}))
	defer recv.Close()

	legacy := func(msg *webhook.Message, data json.RawMessage) ([]byte, error) {
		return json.Marshal(map[string]any{"data": data, "meta": map[string]string{"event": msg.Type, "id": msg.ID}})
	}
	d, err := webhook.New(webhook.Config{
		AllowHTTP: true, AllowPrivateNetworks: true, PollInterval: 20 * time.Millisecond,
		Filter:  celfilter.Must(nil),
		Formats: map[string]webhook.EnvelopeFunc{"legacy": legacy},
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

	big := &webhook.Endpoint{Tenant: "acme", URL: recv.URL + "/big", Filter: `data.amount >= 100`}
	eu := &webhook.Endpoint{Tenant: "acme", URL: recv.URL + "/eu-legacy", Channels: []string{"eu"}, Format: "legacy"}
	for _, ep := range []*webhook.Endpoint{big, eu} {
		if err := d.CreateEndpoint(ctx, ep); err != nil {
			return err
		}
	}
	err = d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "acme", URL: recv.URL + "/x", Filter: `data.amount >=`})
	fmt.Println("a malformed filter is refused:", err)

	first, err := d.Publish(ctx, TransactionCompleted{"tx_1", 250}, &webhook.PublishOpts{Tenant: "acme", Channels: []string{"eu"}})
	if err != nil {
		return err
	}
	if _, err := d.Publish(ctx, TransactionCompleted{"tx_2", 20}, &webhook.PublishOpts{Tenant: "acme", Channels: []string{"us"}}); err != nil {
		return err
	}

	// The filter was too narrow: widen it and replay what it missed.
	big.Filter = `data.amount > 0`
	if err := d.UpdateEndpoint(ctx, big); err != nil {
		return err
	}
	n, err := d.ReplayMissing(ctx, big.ID, first.CreatedAt)
	if err != nil {
		return err
	}
	fmt.Println("replayed into /big:", n)

	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		done := len(got["/big"]) == 2 && len(got["/eu-legacy"]) == 1
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Println("/big received", len(got["/big"]), "deliveries")
	fmt.Println("/eu-legacy received", got["/eu-legacy"])
	return nil
}
