package catalog_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/hookline/webhook/catalog"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c := catalog.New()
	require.NoError(t, c.Register(example(), catalog.Info{Description: "An invoice was paid.", Group: "Invoices", Version: "2"}))
	require.NoError(t, c.RegisterRaw("user.created", json.RawMessage(`{"type":"object","required":["id"],"properties":{"id":{"type":"string","description":"The user's ID."}}}`),
		json.RawMessage(`{"id":"u_1"}`), catalog.Info{Description: "A user signed up.", Group: "Users", Deprecated: "use account.created"}))
	return c
}

func TestOpenAPIDocumentValidates(t *testing.T) {
	t.Parallel()
	b, err := testCatalog(t).OpenAPI(catalog.DocInfo{Title: "Acme webhooks", Version: "2026-01", Description: "Events Acme sends."})
	require.NoError(t, err)

	doc, err := libopenapi.NewDocument(b)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	for _, e := range verrs {
		t.Errorf("%s: %s", e.Message, e.Reason)
		for _, se := range e.SchemaValidationErrors {
			t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
		}
	}
	require.True(t, ok, "the document is valid OpenAPI 3.1")

	// The validator is not a rubber stamp: a header parameter in a place
	// that does not exist fails it.
	broken := bytes.Replace(b, []byte(`"in": "header"`), []byte(`"in": "nowhere"`), 1)
	bdoc, err := libopenapi.NewDocument(broken)
	require.NoError(t, err)
	bv, _ := validator.NewValidator(bdoc)
	bok, _ := bv.ValidateDocument()
	assert.False(t, bok, "a broken document fails validation")
	model, merrs := doc.BuildV3Model()
	require.NoError(t, merrs)
	require.NotNil(t, model)
	m := model.Model
	assert.Equal(t, "3.1.0", m.Version)
	assert.Equal(t, "Acme webhooks", m.Info.Title)
	assert.Contains(t, m.Info.Description, "Events Acme sends.")
	assert.Contains(t, m.Info.Description, "{id}.{timestamp}.{body}", "how to verify")
	require.Equal(t, 2, m.Webhooks.Len())
	for name, deprecated := range map[string]bool{"invoice.paid": false, "user.created": true} {
		hook, ok := m.Webhooks.Get(name)
		require.True(t, ok, name)
		op := hook.Post
		require.NotNil(t, op, name)
		assert.Equal(t, deprecated, op.Deprecated != nil && *op.Deprecated, name)
		var names []string
		for _, p := range op.Parameters {
			names = append(names, p.Name)
		}
		assert.Subset(t, names, []string{"webhook-id", "webhook-timestamp", "webhook-signature"}, name)
		media, ok := op.RequestBody.Content.Get("application/json")
		require.True(t, ok)
		require.NotNil(t, media.Schema, name)
		s := media.Schema.Schema()
		require.NotNil(t, s, name)
		assert.Equal(t, []string{"type", "timestamp", "data"}, s.Required, "%s: the envelope", name)
		require.NotNil(t, media.Example, name)
	}

	// Each example body matches its schema in the document.
	var raw struct {
		Webhooks map[string]struct {
			Post struct {
				RequestBody struct {
					Content map[string]struct {
						Example json.RawMessage `json:"example"`
					} `json:"content"`
				} `json:"requestBody"`
			} `json:"post"`
		} `json:"webhooks"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(b, &raw))
	require.Len(t, raw.Webhooks, 2)
	for name, hook := range raw.Webhooks {
		ex := hook.Post.RequestBody.Content["application/json"].Example
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(ex))
		require.NoError(t, err)
		sch, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw.Components.Schemas[name]))
		require.NoError(t, err)
		comp := jsonschema.NewCompiler()
		comp.AssertFormat()
		require.NoError(t, comp.AddResource("urn:test:"+name, sch))
		compiled, err := comp.Compile("urn:test:" + name)
		require.NoError(t, err)
		assert.NoError(t, compiled.Validate(inst), name)
		assert.Contains(t, string(ex), `"type": "`+name+`"`)
	}
}
