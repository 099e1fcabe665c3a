package admintest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stubFilters is a FilterEngine for the API suite (the core has no
// expression language): "true" and "false" compile, anything else is a
// mistake at line 1, column 1, as a real engine would report it.
type stubFilters struct{}

func (stubFilters) Compile(expr string) (webhook.Filter, error) {
	switch expr {
	case "true":
		return stubFilter(true), nil
	case "false":
		return stubFilter(false), nil
	}
	return nil, &webhook.ValidationError{Field: "filter", Reason: "ERROR: <input>:1:1: the stub engine knows only true and false"}
}

type stubFilter bool

func (f stubFilter) Match(*webhook.FilterInput) (bool, error) { return bool(f), nil }

var testFormats = map[string]webhook.EnvelopeFunc{
	"legacy": func(msg *webhook.Message, data json.RawMessage) ([]byte, error) {
		return json.Marshal(map[string]any{"data": data, "meta": map[string]string{"event": msg.Type}})
	},
}

// testRouting: channels, filter and format through the endpoint routes,
// GET /api/formats, and POST /api/endpoints/{id}/replay, scoped to the
// caller's tenant.
func testRouting(t *testing.T, nd NewDispatcher, portal bool) {
	e := newEnv(t, nd)
	m := e.mode(portal)
	tenant := ""
	if portal {
		tenant = "acme"
	}
	ctx := context.Background()

	r := m.call(t, "GET", "/api/formats", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{"data":["legacy"],"next_cursor":""}`, string(r.Body))

	r = m.call(t, "POST", "/api/endpoints", map[string]any{"url": e.recvURL, "tenant": tenant,
		"channels": []string{"eu"}, "filter": "false", "format": "legacy"})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	ep := r.obj(t)
	id := ep["id"].(string)
	assert.Equal(t, []any{"eu"}, ep["channels"])
	assert.Equal(t, "false", ep["filter"])
	assert.Equal(t, "legacy", ep["format"])

	for _, bad := range []map[string]any{
		{"filter": "data.amount >"}, {"format": "nope"}, {"channels": []string{"has space"}},
	} {
		r = m.call(t, "PATCH", "/api/endpoints/"+id, bad)
		assert.Equal(t, http.StatusBadRequest, r.Status, "%v: %s", bad, r.Body)
	}
	r = m.call(t, "PATCH", "/api/endpoints/"+id, map[string]any{"filter": "data.amount >"})
	assert.Contains(t, r.obj(t)["error"], "1:1", "the position of the mistake")
	got := m.call(t, "GET", "/api/endpoints/"+id, nil).obj(t)
	assert.Equal(t, "false", got["filter"], "a refused PATCH changes nothing")

	// Filter false: published messages get no delivery; the replay after
	// the filter is widened queues them, once.
	var first time.Time
	for i := range 3 {
		msg, err := e.d.Publish(ctx, webhook.RawEvent{Type: "invoice.paid", Data: json.RawMessage(`{}`)},
			&webhook.PublishOpts{Tenant: tenant, Channels: []string{"eu"}})
		require.NoError(t, err)
		if i == 0 {
			first = msg.CreatedAt
		}
	}
	other, err := e.d.Publish(ctx, webhook.RawEvent{Type: "invoice.paid", Data: json.RawMessage(`{}`)},
		&webhook.PublishOpts{Tenant: "someone-else", Channels: []string{"eu"}})
	require.NoError(t, err)
	_ = other
	assert.Empty(t, m.call(t, "GET", "/api/deliveries?endpoint_id="+id, nil).list(t))
	r = m.call(t, "PATCH", "/api/endpoints/"+id, map[string]any{"filter": "true", "channels": []string{"eu", "us"}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, []any{"eu", "us"}, r.obj(t)["channels"])

	since := first.Add(-time.Millisecond).Format(time.RFC3339Nano)
	r = m.call(t, "POST", "/api/endpoints/"+id+"/replay", map[string]any{"since": since})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.EqualValues(t, 3, r.obj(t)["queued"], "its own tenant's three, not another's")
	r = m.call(t, "POST", "/api/endpoints/"+id+"/replay", map[string]any{"since": since})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.EqualValues(t, 0, r.obj(t)["queued"], "a second run queues nothing")
	assert.Len(t, m.call(t, "GET", "/api/deliveries?endpoint_id="+id, nil).list(t), 3)

	r = m.call(t, "POST", "/api/endpoints/"+id+"/replay", map[string]any{})
	assert.Equal(t, http.StatusBadRequest, r.Status, "since is required")
	r = m.call(t, "POST", "/api/endpoints/"+id+"/replay", map[string]any{"since": "yesterday"})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	if portal {
		r = call(t, e.portal, "POST", "/api/endpoints/"+id+"/replay", map[string]any{"since": since}, tenantHeader, "someone-else")
		assert.Equal(t, http.StatusNotFound, r.Status, "another tenant's endpoint is a plain 404")
	}
}
