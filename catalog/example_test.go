package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/admin"
	"github.com/hookline/webhook/catalog"
)

// OrderShipped is a host's event: a Go type with an EventType method.
type OrderShipped struct {
	OrderID string   `json:"order_id" jsonschema:"description=The order's ID"`
	Carrier string   `json:"carrier" jsonschema:"enum=ups,enum=dhl"`
	Items   []string `json:"items"`
}

func (OrderShipped) EventType() string { return "order.shipped" }

// A host registers its event types once, then hands the catalog to the
// dispatcher (strict publishing), to the admin handler (the page's catalog
// and test events) and to its docs (the receivers' OpenAPI document).
func Example() {
	cat := catalog.New()
	if err := cat.Register(OrderShipped{OrderID: "ord_1", Carrier: "ups", Items: []string{"sku_1"}},
		catalog.Info{Description: "An order left the warehouse.", Group: "Orders"}); err != nil {
		panic(err)
	}
	if err := cat.RegisterRaw("order.refunded", json.RawMessage(`{"type":"object","required":["order_id"],"properties":{"order_id":{"type":"string"}}}`),
		json.RawMessage(`{"order_id":"ord_1"}`), catalog.Info{Description: "An order was refunded.", Group: "Orders"}); err != nil {
		panic(err)
	}

	d, err := webhook.New(webhook.Config{Events: cat})
	if err != nil {
		panic(err)
	}
	docs, err := cat.OpenAPI(catalog.DocInfo{Title: "Shop webhooks", Version: "2026-01"})
	if err != nil {
		panic(err)
	}
	h, err := admin.New(d, &admin.Options{EventTypes: cat.AdminEventTypes(), WebhooksOpenAPI: docs})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/", http.StripPrefix("/webhooks", h))
	// A build step can write docs to a file for a docs site instead.

	// Strict publishing: a RawEvent that does not match its schema is
	// refused, with the failing path.
	_, err = d.Publish(context.Background(), webhook.RawEvent{Type: "order.refunded", Data: json.RawMessage(`{"order_id":7}`)}, nil)
	var ve *webhook.ValidationError
	fmt.Println(errors.As(err, &ve), ve.Field)
	fmt.Println(ve.Reason)
	_, err = d.Publish(context.Background(), webhook.RawEvent{Type: "order.lost", Data: json.RawMessage(`{}`)}, nil)
	fmt.Println(err)
	// Output:
	// true event data
	// does not match the schema of order.refunded: at /order_id: got number, want string
	// hookline: invalid event type: "order.lost" is not in the event catalog (Config.Events): register it there, or publish a listed type
}

// The JSON Schema of what an endpoint receives, generated from the Go type.
func ExampleCatalog_Lookup() {
	cat := catalog.New()
	_ = cat.Register(OrderShipped{OrderID: "ord_1", Carrier: "dhl"}, catalog.Info{Description: "An order left the warehouse."})
	et, _ := cat.Lookup("order.shipped")
	var s struct {
		Required   []string `json:"required"`
		Properties struct {
			Data json.RawMessage `json:"data"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(et.Schema, &s)
	fmt.Println(s.Required)
	fmt.Println(string(s.Properties.Data))
	fmt.Println(string(et.Example))
	// Output:
	// [type timestamp data]
	// {"properties":{"order_id":{"type":"string","description":"The order's ID"},"carrier":{"type":"string","enum":["ups","dhl"]},"items":{"anyOf":[{"items":{"type":"string"},"type":"array"},{"type":"null"}]}},"type":"object","required":["order_id","carrier","items"]}
	// {"order_id":"ord_1","carrier":"dhl","items":null}
}
