// Command envelopes shows Config.Envelope replacing the Standard Webhooks
// body with the shapes two kinds of host platform use:
//
//	{"data": {...}, "meta": {"event_id": "...", "event_type": "..."}}
//	{"event_type": "...", "event_id": "...", "timestamp": "...", "account_id": "...", "data": {...}}
//
// Signatures and headers stay Standard Webhooks either way.
//
//	go run ./examples/envelopes
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	webhook "github.com/hookline/webhook"
)

// MetaEnvelope wraps the event as {"data": ..., "meta": {...}}.
func MetaEnvelope(msg *webhook.Message, data json.RawMessage) ([]byte, error) {
	return json.Marshal(struct {
		Data json.RawMessage `json:"data"`
		Meta struct {
			EventID   string `json:"event_id"`
			EventType string `json:"event_type"`
		} `json:"meta"`
	}{Data: data, Meta: struct {
		EventID   string `json:"event_id"`
		EventType string `json:"event_type"`
	}{msg.ID, msg.Type}})
}

// FlatEnvelope puts the fields beside the data, with the tenant as
// account_id.
func FlatEnvelope(msg *webhook.Message, data json.RawMessage) ([]byte, error) {
	return json.Marshal(struct {
		EventType string          `json:"event_type"`
		EventID   string          `json:"event_id"`
		Timestamp time.Time       `json:"timestamp"`
		AccountID string          `json:"account_id"`
		Data      json.RawMessage `json:"data"`
	}{msg.Type, msg.ID, msg.CreatedAt, msg.Tenant, data})
}

type customerCreated struct {
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
}

func (customerCreated) EventType() string { return "customer.created" }

func main() {
	for _, e := range []struct {
		name string
		fn   webhook.EnvelopeFunc
	}{{"meta envelope", MetaEnvelope}, {"flat envelope", FlatEnvelope}} {
		if err := show(e.name, e.fn); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
	}
}

func show(name string, env webhook.EnvelopeFunc) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan []byte, 1)
	var secret string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got <- body
	}))
	defer srv.Close()

	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true, Envelope: env})
	if err != nil {
		return err
	}
	ep := &webhook.Endpoint{Tenant: "acct_42", URL: srv.URL}
	if err := d.CreateEndpoint(ctx, ep); err != nil {
		return err
	}
	secret = ep.Secret
	if err := d.Start(ctx); err != nil {
		return err
	}
	defer d.Shutdown(context.Background())
	if _, err := d.Publish(ctx, customerCreated{CustomerID: "cus_9", Email: "ana@example.com"},
		&webhook.PublishOpts{Tenant: "acct_42"}); err != nil {
		return err
	}
	select {
	case body := <-got:
		fmt.Printf("%s (signature verified):\n%s\n\n", name, body)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: no delivery: %w", name, ctx.Err())
	}
}
