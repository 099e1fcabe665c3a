package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOrderedEndpointAPI: the endpoint API shows and sets Ordered, and a
// delivery waiting behind its queue's head names that head.
func TestOrderedEndpointAPI(t *testing.T) {
	t.Parallel()
	h, d := newTestHandler(t, nil) // never started: deliveries stay where the store puts them
	ctx := context.Background()
	call := func(method, path, body string, status int) map[string]any {
		t.Helper()
		rec := do(h, method, path, body, "Content-Type", "application/json")
		require.Equal(t, status, rec.Code, "%s %s: %s", method, path, rec.Body.String())
		var out map[string]any
		if rec.Body.Len() > 0 {
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
		}
		return out
	}

	ep := call("POST", "/api/endpoints", `{"url":"http://127.0.0.1:1/hook","ordered":true}`, http.StatusCreated)
	id := ep["id"].(string)
	assert.Equal(t, true, ep["ordered"], "POST sets ordered")
	assert.Equal(t, true, call("GET", "/api/endpoints/"+id, "", http.StatusOK)["ordered"], "GET shows it")
	assert.Equal(t, true, call("PATCH", "/api/endpoints/"+id, `{"description":"crm"}`, http.StatusOK)["ordered"],
		"a PATCH without ordered keeps it")

	var ids []string
	for range 2 {
		m, err := d.Publish(ctx, webhook.RawEvent{Type: "customer.updated", Data: json.RawMessage(`{}`)}, &webhook.PublishOpts{OrderingKey: "cust_1"})
		require.NoError(t, err)
		ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: m.ID})
		require.NoError(t, err)
		require.Len(t, ds, 1)
		ids = append(ids, ds[0].ID)
	}
	head, waiting := ids[0], ids[1]
	got := call("GET", "/api/deliveries/"+waiting, "", http.StatusOK)
	assert.Equal(t, head, got["waiting_for"], "the delivery view names the head it waits for")
	assert.Equal(t, true, got["ordered"])
	assert.Equal(t, "cust_1", got["ordering_key"])
	assert.Equal(t, "cust_1", got["message"].(map[string]any)["ordering_key"], "the message shows its key")
	_, ok := call("GET", "/api/deliveries/"+head, "", http.StatusOK)["waiting_for"]
	assert.False(t, ok, "the head waits for nobody")
	list := call("GET", "/api/deliveries?endpoint_id="+id, "", http.StatusOK)["data"].([]any)
	require.Len(t, list, 2)
	for _, x := range list {
		row := x.(map[string]any)
		if row["id"] == waiting {
			assert.Equal(t, head, row["waiting_for"], "the list shows it too")
		}
	}

	// Turning it off releases the waiting delivery.
	ep = call("PATCH", "/api/endpoints/"+id, `{"ordered":false}`, http.StatusOK)
	_, ok = ep["ordered"]
	assert.False(t, ok, "ordered is off (absent means false)")
	got = call("GET", "/api/deliveries/"+waiting, "", http.StatusOK)
	_, ok = got["waiting_for"]
	assert.False(t, ok, "released: it waits for nobody")
	assert.Equal(t, true, call("PATCH", "/api/endpoints/"+id, `{"ordered":true}`, http.StatusOK)["ordered"], "PATCH turns it on")
	call("PATCH", "/api/endpoints/"+id, `{"ordered":"yes"}`, http.StatusBadRequest)
}

// TestPageOffersOrdered: the page's script has the checkbox on both
// endpoint forms and shows a waiting delivery's head as a link.
func TestPageOffersOrdered(t *testing.T) {
	t.Parallel()
	h, _ := newTestHandler(t, nil)
	rec := do(h, "GET", "/assets/app.js", "")
	require.Equal(t, http.StatusOK, rec.Code)
	js := rec.Body.String()
	for _, want := range []string{`orderedBox("add-ordered"`, `orderedBox("edit-ordered"`, `ordered: ordered.box.checked`,
		`"waiting for ", el("a", { href: "deliveries/" + enc(d.waiting_for) }`, `id: "ep-ordered"`} {
		assert.Contains(t, js, want)
	}
}
