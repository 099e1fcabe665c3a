package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSendTestOfCatalogType(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	var marks []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, marks = append(bodies, string(b)), append(marks, r.Header.Get(webhook.HeaderTest))
		mu.Unlock()
	}))
	defer recv.Close()
	tenant := "acme"
	h, d := newTestHandler(t, &Options{
		Tenant: func(*http.Request) (string, error) { return tenant, nil },
		EventTypes: []EventType{
			{Name: "invoice.paid", Description: "Paid.", Example: json.RawMessage(`{"invoice_id":"in_1"}`)},
			{Name: "invoice.voided", Description: "No example."},
		},
		WebhooksOpenAPI: json.RawMessage(`{"openapi":"3.1.0","webhooks":{}}`),
	})
	ep := &webhook.Endpoint{Tenant: "acme", URL: recv.URL}
	require.NoError(t, d.CreateEndpoint(context.Background(), ep))
	other := &webhook.Endpoint{Tenant: "globex", URL: recv.URL}
	require.NoError(t, d.CreateEndpoint(context.Background(), other))

	rec := do(h, "POST", "/api/endpoints/"+ep.ID+"/test", `{"event_type":"invoice.paid"}`, "Content-Type", "application/json")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var a webhook.Attempt
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
	assert.Equal(t, 200, a.StatusCode)
	mu.Lock()
	require.Len(t, bodies, 1)
	var got struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(bodies[0]), &got))
	assert.Equal(t, "invoice.paid", got.Type)
	assert.JSONEq(t, `{"invoice_id":"in_1"}`, string(got.Data), "the catalog's example")
	assert.Equal(t, "true", marks[0])
	mu.Unlock()

	for body, want := range map[string]int{
		`{"event_type":"invoice.unknown"}`: 400,
		`{"event_type":"invoice.voided"}`:  400, // no example
		`{"event_typo":"invoice.paid"}`:    400,
	} {
		rec := do(h, "POST", "/api/endpoints/"+ep.ID+"/test", body, "Content-Type", "application/json")
		assert.Equal(t, want, rec.Code, body)
		assert.Contains(t, rec.Body.String(), `"error"`)
	}
	rec = do(h, "POST", "/api/endpoints/"+other.ID+"/test", `{"event_type":"invoice.paid"}`, "Content-Type", "application/json")
	assert.Equal(t, 404, rec.Code, "another tenant's endpoint")
	mu.Lock()
	assert.Len(t, bodies, 1, "nothing else was sent")
	mu.Unlock()

	rec = do(h, "GET", "/api/webhooks.openapi.json", "")
	assert.Equal(t, 200, rec.Code)
	assert.JSONEq(t, `{"openapi":"3.1.0","webhooks":{}}`, rec.Body.String())
	h2, _ := newTestHandler(t, nil)
	assert.Equal(t, 404, do(h2, "GET", "/api/webhooks.openapi.json", "").Code, "no document given")
	d2, err := webhook.New(webhook.Config{})
	require.NoError(t, err)
	_, err = New(d2, &Options{WebhooksOpenAPI: json.RawMessage(`{`)})
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	_, err = New(d2, &Options{EventTypes: []EventType{{Name: "a.b", Schema: json.RawMessage(`nope`)}}})
	assert.ErrorIs(t, err, webhook.ErrInvalid)
}
