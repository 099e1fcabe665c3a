package catalog_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/catalog"
)

// FuzzValidateEventData feeds hostile JSON to the strict-mode check: it
// must never panic, and every refusal must be a *webhook.ValidationError
// matching ErrInvalid; what it accepts must be JSON.
func FuzzValidateEventData(f *testing.F) {
	c := catalog.New()
	if err := c.Register(example(), catalog.Info{Description: "fuzzed"}); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{}`, `null`, `[]`, `"x"`, `{"invoice_id":1}`, `{"total":{"amount":"1","currency":"GBP"}}`,
		`{"created_by":"u","invoice_id":"i","total":{"amount":1,"currency":"EUR"},"discount":null,"lines":null,"paid_at":"2026-01-02T03:04:05Z"}`,
		`{"lines":[{"sku":"a","quantity":0}]}`, `{"paid_at":"not a time"}`, `{`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := c.ValidateEventData("invoice.paid", json.RawMessage(data))
		if err == nil {
			if !json.Valid(data) {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			return
		}
		var ve *webhook.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, webhook.ErrInvalid) {
			t.Fatalf("%q: %T %v is not a *webhook.ValidationError", data, err, err)
		}
	})
}
