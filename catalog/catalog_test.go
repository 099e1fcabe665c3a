package catalog_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type Money struct {
	Amount   int64  `json:"amount" jsonschema:"description=In the currency's smallest unit"`
	Currency string `json:"currency" jsonschema:"enum=EUR,enum=USD"`
}

type Audit struct {
	CreatedBy string `json:"created_by"`
}

type Line struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity" jsonschema:"minimum=1"`
}

// InvoicePaid covers what the schema generator must get right.
type InvoicePaid struct {
	Audit                      // embedded: its fields are promoted
	ID       string            `json:"invoice_id"`
	Total    Money             `json:"total"`            // nested struct
	Discount *Money            `json:"discount"`         // pointer, may be null
	Coupon   *string           `json:"coupon,omitempty"` // pointer, left out when nil
	Lines    []Line            `json:"lines"`            // slice of structs, may be null
	Tags     map[string]string `json:"tags,omitempty"`   // map
	Counters map[string]*Money `json:"counters,omitempty"`
	PaidAt   time.Time         `json:"paid_at"`
	Internal string            `json:"-"` // never sent
	Note     string            `json:"note,omitempty"`
	secret   string            // unexported: never sent
	Raw      json.RawMessage   `json:"raw,omitempty"`
}

func (InvoicePaid) EventType() string { return "invoice.paid" }

func example() InvoicePaid {
	return InvoicePaid{
		Audit: Audit{CreatedBy: "user_1"}, ID: "in_1", Total: Money{4200, "EUR"},
		secret: "s3cret", Lines: []Line{{SKU: "sku_1", Quantity: 2}}, PaidAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

type schema struct {
	Type                 any                `json:"type"`
	Format               string             `json:"format"`
	Required             []string           `json:"required"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	AdditionalProperties *schema            `json:"additionalProperties"`
	AnyOf                []*schema          `json:"anyOf"`
	Enum                 []any              `json:"enum"`
	Const                any                `json:"const"`
	Description          string             `json:"description"`
	Ref                  string             `json:"$ref"`
}

// UnmarshalJSON reads a boolean schema (true: anything) as an empty one.
func (s *schema) UnmarshalJSON(b []byte) error {
	if string(b) == "true" || string(b) == "false" {
		return nil
	}
	type plain schema
	return json.Unmarshal(b, (*plain)(s))
}

// nonNull returns the non-null branch of a nullable schema.
func nonNull(t *testing.T, s *schema) *schema {
	t.Helper()
	require.Len(t, s.AnyOf, 2, "nullable")
	assert.Equal(t, "null", s.AnyOf[1].Type)
	return s.AnyOf[0]
}

func TestSchemaFromGoType(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	require.NoError(t, c.Register(example(), catalog.Info{Description: "An invoice was paid.", Group: "Invoices", Version: "2"}))
	et, ok := c.Lookup("invoice.paid")
	require.True(t, ok)

	var env schema
	require.NoError(t, json.Unmarshal(et.Schema, &env))
	assert.Equal(t, "object", env.Type)
	assert.ElementsMatch(t, []string{"type", "timestamp", "data"}, env.Required, "the envelope the endpoint receives")
	assert.Equal(t, "invoice.paid", env.Properties["type"].Const)
	assert.Equal(t, "date-time", env.Properties["timestamp"].Format)
	assert.NotContains(t, string(et.Schema), `"$ref"`, "inline: no references")
	assert.NotContains(t, string(et.Schema), `"$defs"`)

	d := env.Properties["data"]
	require.NotNil(t, d)
	var raw struct{ Properties map[string]json.RawMessage }
	require.NoError(t, json.Unmarshal(et.Schema, &raw))
	assert.JSONEq(t, string(et.DataSchema), string(raw.Properties["data"]), "data's schema, inline in the envelope's")
	assert.ElementsMatch(t, []string{"created_by", "invoice_id", "total", "discount", "lines", "paid_at"}, d.Required,
		"fields without omitempty are required, embedded ones too")
	assert.Contains(t, d.Properties, "created_by", "embedded struct's fields are promoted")
	assert.NotContains(t, d.Properties, "Audit")
	assert.NotContains(t, d.Properties, "Internal", `json:"-"`)
	assert.NotContains(t, d.Properties, "-")
	assert.NotContains(t, d.Properties, "secret")
	assert.Contains(t, d.Properties, "note")

	total := d.Properties["total"]
	assert.Equal(t, "object", total.Type, "nested struct inline")
	assert.Equal(t, "integer", total.Properties["amount"].Type)
	assert.Equal(t, "In the currency's smallest unit", total.Properties["amount"].Description)
	assert.Equal(t, []any{"EUR", "USD"}, total.Properties["currency"].Enum)

	disc := nonNull(t, d.Properties["discount"]) // a nil pointer marshals as null
	assert.Equal(t, "object", disc.Type)
	assert.Equal(t, "string", d.Properties["coupon"].Type, "omitempty pointer: absent, never null")

	lines := nonNull(t, d.Properties["lines"]) // a nil slice marshals as null
	assert.Equal(t, "array", lines.Type)
	assert.Equal(t, "object", lines.Items.Type)
	assert.ElementsMatch(t, []string{"sku", "quantity"}, lines.Items.Required)

	assert.Equal(t, "object", d.Properties["tags"].Type)
	assert.Equal(t, "string", d.Properties["tags"].AdditionalProperties.Type)
	counter := nonNull(t, d.Properties["counters"].AdditionalProperties) // map of pointers: null values
	assert.Equal(t, "object", counter.Type)

	assert.Equal(t, "string", d.Properties["paid_at"].Type)
	assert.Equal(t, "date-time", d.Properties["paid_at"].Format)

	assert.JSONEq(t, `{"created_by":"user_1","invoice_id":"in_1","total":{"amount":4200,"currency":"EUR"},"discount":null,"lines":[{"sku":"sku_1","quantity":2}],"paid_at":"2026-01-02T03:04:05Z"}`, string(et.Example))
	assert.Equal(t, "Invoices", et.Group)
	assert.Equal(t, "2", et.Version)

	// What Publish would send for other values of the type matches too:
	// nil slice, nil pointer inside a map, a coupon.
	coupon := "WINTER"
	other := InvoicePaid{ID: "in_2", Total: Money{1, "USD"}, Coupon: &coupon, Counters: map[string]*Money{"a": nil}, Tags: map[string]string{"k": "v"}}
	b, err := json.Marshal(other)
	require.NoError(t, err)
	assert.NoError(t, c.ValidateEventData("invoice.paid", b))
}

type Node struct {
	Name     string  `json:"name"`
	Children []*Node `json:"children"`
}

func (Node) EventType() string { return "tree.changed" }

type withChan struct{ C chan int }

func (withChan) EventType() string { return "bad.chan" }

func TestRegisterRefuses(t *testing.T) {
	t.Parallel()
	bad := example()
	bad.Total.Currency = "GBP" // not in the enum
	zeroQty := example()
	zeroQty.Lines[0].Quantity = 0 // below the minimum

	for name, tc := range map[string]struct {
		reg  func(c *catalog.Catalog) error
		want string
	}{
		"example breaks an enum":   {func(c *catalog.Catalog) error { return c.Register(bad, catalog.Info{}) }, "/total/currency"},
		"example breaks a minimum": {func(c *catalog.Catalog) error { return c.Register(zeroQty, catalog.Info{}) }, "/lines/0/quantity"},
		"recursive type":           {func(c *catalog.Catalog) error { return c.Register(Node{}, catalog.Info{}) }, "recursive"},
		"channel":                  {func(c *catalog.Catalog) error { return c.Register(withChan{}, catalog.Info{}) }, "chan"},
		"nil":                      {func(c *catalog.Catalog) error { return c.Register(nil, catalog.Info{}) }, "nil"},
		"nil pointer":              {func(c *catalog.Catalog) error { return c.Register((*InvoicePaid)(nil), catalog.Info{}) }, "nil"},
		"raw via Register": {func(c *catalog.Catalog) error {
			return c.Register(webhook.RawEvent{Type: "a.b", Data: json.RawMessage(`{}`)}, catalog.Info{})
		}, "RegisterRaw"},
		"raw example breaks its schema": {func(c *catalog.Catalog) error {
			return c.RegisterRaw("user.created", json.RawMessage(`{"type":"object","required":["id"],"properties":{"id":{"type":"string"}}}`), json.RawMessage(`{"id":7}`), catalog.Info{})
		}, "/id"},
		"raw example missing a required field": {func(c *catalog.Catalog) error {
			return c.RegisterRaw("user.created", json.RawMessage(`{"type":"object","required":["id"]}`), json.RawMessage(`{}`), catalog.Info{})
		}, "id"},
		"raw without example": {func(c *catalog.Catalog) error {
			return c.RegisterRaw("user.created", json.RawMessage(`{"type":"object"}`), nil, catalog.Info{})
		}, "no example"},
		"raw schema not JSON": {func(c *catalog.Catalog) error {
			return c.RegisterRaw("user.created", json.RawMessage(`{`), json.RawMessage(`{}`), catalog.Info{})
		}, "not valid JSON"},
		"raw schema does not compile": {func(c *catalog.Catalog) error {
			return c.RegisterRaw("user.created", json.RawMessage(`{"type":"nonsense"}`), json.RawMessage(`{}`), catalog.Info{})
		}, "does not compile"},
		"raw schema reaches outside": {func(c *catalog.Catalog) error {
			return c.RegisterRaw("user.created", json.RawMessage(`{"$ref":"https://example.com/s.json"}`), json.RawMessage(`{}`), catalog.Info{})
		}, "does not compile"},
		"bad type name": {func(c *catalog.Catalog) error {
			return c.RegisterRaw("no spaces", json.RawMessage(`{}`), json.RawMessage(`{}`), catalog.Info{})
		}, "event type"},
		"duplicate": {func(c *catalog.Catalog) error {
			require.NoError(t, c.Register(example(), catalog.Info{}))
			return c.Register(example(), catalog.Info{})
		}, "registered already"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := catalog.New()
			before := len(c.Types())
			err := tc.reg(c)
			require.Error(t, err)
			assert.ErrorIs(t, err, catalog.ErrRegistration)
			assert.ErrorIs(t, err, webhook.ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
			if name != "duplicate" {
				assert.Len(t, c.Types(), before, "a refused registration adds nothing")
			} else {
				assert.Len(t, c.Types(), 1)
			}
		})
	}
}

func TestValidateEventData(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	require.NoError(t, c.RegisterRaw("user.created",
		json.RawMessage(`{"type":"object","required":["id","emails"],"properties":{"id":{"type":"string"},"emails":{"type":"array","items":{"type":"string","format":"email"}}}}`),
		json.RawMessage(`{ "id": "u_1", "emails": ["ada@example.com"] }`), catalog.Info{Description: "A user signed up."}))
	et, _ := c.Lookup("user.created")
	assert.Equal(t, `{"id":"u_1","emails":["ada@example.com"]}`, string(et.Example), "compacted")

	assert.NoError(t, c.ValidateEventData("user.created", json.RawMessage(`{"id":"u_2","emails":[]}`)))
	for data, path := range map[string]string{
		`{"id":"u_2","emails":["ok@example.com","not an email"]}`: "/emails/1",
		`{"id":2,"emails":[]}`: "/id",
		`{"emails":[]}`:        "at /: missing property 'id'",
		`[]`:                   "at /:",
	} {
		err := c.ValidateEventData("user.created", json.RawMessage(data))
		require.Error(t, err, data)
		var ve *webhook.ValidationError
		require.True(t, errors.As(err, &ve), data)
		assert.ErrorIs(t, err, webhook.ErrInvalid)
		assert.Equal(t, "event data", ve.Field)
		assert.Contains(t, ve.Reason, path, data)
	}
	err := c.ValidateEventData("user.deleted", json.RawMessage(`{}`))
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	assert.Contains(t, err.Error(), "not in the event catalog")
}
