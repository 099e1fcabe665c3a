// Package admintest is the admin handler's API test suite, exported so every
// Store runs it: the memory store in the core module, pgstore in its own.
//
//	func TestAdminAPI(t *testing.T) {
//		admintest.Run(t, func(t *testing.T, cfg webhook.Config) *webhook.Dispatcher {
//			cfg.Store = newStore(t) // a fresh, empty store
//			d, err := webhook.New(cfg)
//			require.NoError(t, err)
//			return d
//		})
//	}
package admintest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/admin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// NewDispatcher builds a Dispatcher from cfg over a fresh, empty store of
// the kind under test (it sets cfg.Store and calls webhook.New). The suite
// starts it and shuts it down.
type NewDispatcher func(t *testing.T, cfg webhook.Config) *webhook.Dispatcher

// tenantHeader is how the suite's portal-mode handler learns the tenant.
const tenantHeader = "X-Test-Tenant"

// env is one dispatcher, one failing-on-demand receiver and two handlers
// over them: operator mode and portal mode (tenant from a header).
type env struct {
	t        *testing.T
	d        *webhook.Dispatcher
	operator http.Handler
	portal   http.Handler
	recvURL  string
	status   atomic.Int32 // what the receiver answers
	hits     atomic.Int32
}

func newEnv(t *testing.T, nd NewDispatcher) *env {
	e := &env{t: t}
	e.status.Store(http.StatusInternalServerError)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(int(e.status.Load()))
		_, _ = io.WriteString(w, `<img src=x onerror="alert(1)">`)
	}))
	t.Cleanup(srv.Close)
	e.recvURL = srv.URL + "/hook"
	e.d = nd(t, webhook.Config{
		AllowHTTP: true, AllowPrivateNetworks: true,
		Retry:        webhook.RetryPolicy{MaxAttempts: 1},
		PollInterval: 20 * time.Millisecond, AttemptTimeout: 5 * time.Second,
		Filter: stubFilters{}, Formats: testFormats,
	})
	require.NoError(t, e.d.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, e.d.Shutdown(ctx))
	})
	catalog := []admin.EventType{
		{Name: "invoice.paid", Description: "An invoice was paid.", Example: json.RawMessage(`{"invoice_id":"in_1"}`)},
		{Name: "invoice.voided", Description: "An invoice was voided."},
	}
	var err error
	e.operator, err = admin.New(e.d, &admin.Options{EventTypes: catalog})
	require.NoError(t, err)
	e.portal, err = admin.New(e.d, &admin.Options{EventTypes: catalog, Tenant: func(r *http.Request) (string, error) {
		if v := r.Header.Get(tenantHeader); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("no tenant")
	}})
	require.NoError(t, err)
	return e
}

// resp is a handler's answer.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r resp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

func (r resp) list(t *testing.T) []map[string]any {
	t.Helper()
	var l struct {
		Data       []map[string]any `json:"data"`
		NextCursor *string          `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &l), "body: %s", r.Body)
	require.NotNil(t, l.Data, "a list answer has data: %s", r.Body)
	require.NotNil(t, l.NextCursor, "a list answer has next_cursor: %s", r.Body)
	return l.Data
}

// call sends one request to h; body is JSON-encoded unless it is a string
// (sent as is) or nil.
func call(t *testing.T, h http.Handler, method, path string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, "http://admin.test"+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return resp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// createEndpoint creates an endpoint through the API and returns its ID.
func (e *env) createEndpoint(t *testing.T, h http.Handler, body map[string]any, hdr ...string) string {
	t.Helper()
	if _, ok := body["url"]; !ok {
		body["url"] = e.recvURL
	}
	r := call(t, h, "POST", "/api/endpoints", body, hdr...)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	return r.obj(t)["id"].(string)
}

// waitDelivery polls GET /api/deliveries/{id} until cond holds.
func waitDelivery(t *testing.T, h http.Handler, id string, cond func(map[string]any) bool, hdr ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := call(t, h, "GET", "/api/deliveries/"+id, nil, hdr...)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		m := r.obj(t)
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "delivery did not reach the expected state", "%s", r.Body)
		}
		time.Sleep(10 * time.Millisecond) // polling for a state, not waiting out a retry delay
	}
}

func finished(m map[string]any) bool { return m["state"] != "pending" }

// publish publishes one event for tenant and returns the message ID and the
// ID of its delivery to endpointID (waiting until that delivery finished).
func (e *env) publish(t *testing.T, h http.Handler, tenant, endpointID string, hdr ...string) (msgID, dlvID string) {
	t.Helper()
	m, err := e.d.Publish(context.Background(), webhook.RawEvent{Type: "invoice.paid", Data: json.RawMessage(`{"invoice_id":"in_1"}`)}, &webhook.PublishOpts{Tenant: tenant})
	require.NoError(t, err)
	r := call(t, h, "GET", "/api/deliveries?message_id="+m.ID+"&endpoint_id="+endpointID, nil, hdr...)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	l := r.list(t)
	require.Len(t, l, 1)
	id := l[0]["id"].(string)
	waitDelivery(t, h, id, finished, hdr...)
	return m.ID, id
}

// mode is one way of calling the handler: operator mode, or portal mode
// as tenant "acme".
type mode struct {
	portal bool
	h      http.Handler
	hdr    []string
}

func (e *env) mode(portal bool) mode {
	if portal {
		return mode{portal: true, h: e.portal, hdr: []string{tenantHeader, "acme"}}
	}
	return mode{h: e.operator}
}

func (m mode) call(t *testing.T, method, path string, body any, hdr ...string) resp {
	t.Helper()
	return call(t, m.h, method, path, body, append(slices.Clone(m.hdr), hdr...)...)
}

// Run runs the API suite against the Store behind nd: every route in
// operator mode and in portal mode, then the tenant-isolation table.
func Run(t *testing.T, nd NewDispatcher) {
	for _, portal := range []bool{false, true} {
		name := "Operator"
		if portal {
			name = "Portal"
		}
		t.Run(name+"/Endpoints", func(t *testing.T) { testEndpoints(t, nd, portal) })
		t.Run(name+"/Deliveries", func(t *testing.T) { testDeliveries(t, nd, portal) })
		t.Run(name+"/CrossOrigin", func(t *testing.T) { testCrossOrigin(t, nd, portal) })
		t.Run(name+"/BadInput", func(t *testing.T) { testBadInput(t, nd, portal) })
	}
	t.Run("TenantIsolation", func(t *testing.T) { testTenantIsolation(t, nd) })
	t.Run("Operator/Routing", func(t *testing.T) { testRouting(t, nd, false) })
	t.Run("Portal/Routing", func(t *testing.T) { testRouting(t, nd, true) })
}

func testEndpoints(t *testing.T, nd NewDispatcher, portal bool) {
	e := newEnv(t, nd)
	m := e.mode(portal)

	r := m.call(t, "POST", "/api/endpoints", map[string]any{
		"url": e.recvURL, "description": "orders", "event_types": []string{"invoice.paid"}, "tenant": "acme",
	})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	created := r.obj(t)
	id := created["id"].(string)
	secret, _ := created["secret"].(string)
	assert.True(t, strings.HasPrefix(secret, "whsec_"), "the create answer carries the secret")
	assert.Equal(t, "acme", created["tenant"], "operators choose the tenant; a portal's is the request's")
	assert.Equal(t, "api/endpoints/"+id, r.Header.Get("Location"))

	r = m.call(t, "GET", "/api/endpoints/"+id, nil)
	require.Equal(t, http.StatusOK, r.Status)
	got := r.obj(t)
	for _, k := range []string{"id", "tenant", "url", "description", "event_types", "disabled"} {
		assert.Contains(t, got, k)
	}
	assert.NotContains(t, string(r.Body), secret, "GET never shows the secret")
	assert.NotContains(t, got, "secret")

	// A second endpoint, then a paged list.
	id2 := e.createEndpoint(t, m.h, map[string]any{"tenant": "globex"}, m.hdr...)
	r = m.call(t, "GET", "/api/endpoints?limit=1", nil)
	require.Equal(t, http.StatusOK, r.Status)
	page1 := r.list(t)
	require.Len(t, page1, 1)
	assert.NotContains(t, string(r.Body), secret, "lists never show a secret")
	next := r.obj(t)["next_cursor"].(string)
	require.NotEmpty(t, next)
	r = m.call(t, "GET", "/api/endpoints?limit=1&cursor="+url.QueryEscape(next), nil)
	page2 := r.list(t)
	require.Len(t, page2, 1)
	assert.ElementsMatch(t, []string{id, id2}, []string{page1[0]["id"].(string), page2[0]["id"].(string)})
	r = m.call(t, "GET", "/api/endpoints?tenant=globex", nil)
	l := r.list(t)
	if m.portal {
		assert.Len(t, l, 2, "a portal ignores the tenant filter")
	} else {
		require.Len(t, l, 1)
		assert.Equal(t, id2, l[0]["id"])
	}

	// PATCH changes only what it names.
	r = m.call(t, "PATCH", "/api/endpoints/"+id, map[string]any{"description": "orders v2"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, "orders v2", r.obj(t)["description"])
	assert.Equal(t, []any{"invoice.paid"}, r.obj(t)["event_types"])
	r = m.call(t, "PATCH", "/api/endpoints/"+id, map[string]any{"url": "ftp://nope"})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.obj(t)["error"], "url")

	// Disable with a reason, enable again.
	r = m.call(t, "POST", "/api/endpoints/"+id+"/disable", map[string]any{"reason": "maintenance"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, true, r.obj(t)["disabled"])
	assert.Equal(t, "maintenance", r.obj(t)["disabled_reason"])
	r = m.call(t, "POST", "/api/endpoints/"+id+"/enable", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, false, r.obj(t)["disabled"])

	// Secrets: reveal, rotate (new one, old kept for the overlap).
	r = m.call(t, "GET", "/api/endpoints/"+id+"/secret", nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, secret, r.obj(t)["secret"])
	r = m.call(t, "POST", "/api/endpoints/"+id+"/rotate-secret", map[string]any{"overlap_seconds": 3600})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	rot := r.obj(t)
	assert.NotEqual(t, secret, rot["secret"])
	assert.NotEmpty(t, rot["previous_secret_expires_at"])
	ep, err := e.d.GetEndpoint(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, rot["secret"], ep.Secret)
	assert.Equal(t, secret, ep.PreviousSecret)

	// A duplicate ID is a conflict.
	r = m.call(t, "POST", "/api/endpoints", map[string]any{"id": id, "url": e.recvURL})
	assert.Equal(t, http.StatusConflict, r.Status, "%s", r.Body)

	// Send a test event: the answer is the attempt made.
	e.status.Store(http.StatusOK)
	r = m.call(t, "POST", "/api/endpoints/"+id+"/test", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	a := r.obj(t)
	assert.EqualValues(t, 200, a["status_code"])
	assert.EqualValues(t, 1, a["number"])
	for _, k := range []string{"number", "status_code", "duration_ms", "response"} {
		assert.Contains(t, a, k)
	}

	// A test event of a catalog type: its example, the message marked as a
	// test in its stored metadata; an unknown type is a 400.
	r = m.call(t, "POST", "/api/endpoints/"+id+"/test", map[string]any{"event_type": "invoice.paid"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	a = r.obj(t)
	assert.EqualValues(t, 200, a["status_code"])
	msg, err := e.d.GetMessage(context.Background(), a["message_id"].(string))
	require.NoError(t, err)
	assert.Equal(t, "invoice.paid", msg.Type)
	assert.Equal(t, "true", msg.Metadata[webhook.MetadataTest], "the store keeps the test mark")
	var body struct {
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(msg.Payload, &body))
	assert.JSONEq(t, `{"invoice_id":"in_1"}`, string(body.Data), "the catalog's example")
	r = m.call(t, "POST", "/api/endpoints/"+id+"/test", map[string]any{"event_type": "invoice.unknown"})
	assert.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)

	// Event catalog.
	r = m.call(t, "GET", "/api/event-types", nil)
	require.Equal(t, http.StatusOK, r.Status)
	cat := r.list(t)
	require.Len(t, cat, 2)
	assert.Equal(t, "invoice.paid", cat[0]["name"])
	assert.Equal(t, map[string]any{"invoice_id": "in_1"}, cat[0]["example"])

	// Delete: gone afterwards.
	r = m.call(t, "DELETE", "/api/endpoints/"+id, nil)
	assert.Equal(t, http.StatusNoContent, r.Status)
	r = m.call(t, "GET", "/api/endpoints/"+id, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, "not found", r.obj(t)["error"])
}

func testDeliveries(t *testing.T, nd NewDispatcher, portal bool) {
	e := newEnv(t, nd)
	m := e.mode(portal)
	start := time.Now().UTC().Add(-time.Second)
	epID := e.createEndpoint(t, m.h, map[string]any{"tenant": "acme", "event_types": []string{"invoice.*"}}, m.hdr...)

	// The receiver fails: with one attempt allowed the delivery fails.
	msgID, dlvID := e.publish(t, m.h, "acme", epID, m.hdr...)
	d := waitDelivery(t, m.h, dlvID, finished, m.hdr...)
	assert.Equal(t, "failed", d["state"])
	assert.EqualValues(t, 1, d["attempts"])
	for _, k := range []string{"id", "message_id", "endpoint_id", "state", "attempts", "next_attempt_at"} {
		assert.Contains(t, d, k)
	}
	log := d["attempt_log"].([]any)
	require.Len(t, log, 1)
	a := log[0].(map[string]any)
	assert.EqualValues(t, 500, a["status_code"])
	assert.EqualValues(t, 1, a["number"])
	assert.Equal(t, `<img src=x onerror="alert(1)">`, a["response"])
	assert.NotEmpty(t, a["error"])
	assert.Contains(t, a["request_headers"], "Webhook-Signature")
	assert.Equal(t, msgID, d["message"].(map[string]any)["id"])

	// Filters.
	for _, q := range []string{"endpoint_id=" + epID, "message_id=" + msgID, "state=failed", "endpoint_id=" + epID + "&state=failed", "tenant=acme", "since=" + url.QueryEscape(start.Format(time.RFC3339Nano))} {
		r := m.call(t, "GET", "/api/deliveries?"+q, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", q, r.Body)
		l := r.list(t)
		require.Len(t, l, 1, q)
		assert.Equal(t, dlvID, l[0]["id"], q)
	}
	empty := []string{"state=succeeded", "message_id=msg_nope"}
	if !m.portal {
		empty = append(empty, "tenant=globex") // a portal ignores the tenant filter
	}
	for _, q := range empty {
		r := m.call(t, "GET", "/api/deliveries?"+q, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Empty(t, r.list(t), q)
	}

	// Message lookup shows where it went.
	r := m.call(t, "GET", "/api/messages/"+msgID, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	msg := r.obj(t)
	assert.Equal(t, "invoice.paid", msg["event_type"])
	require.Len(t, msg["deliveries"], 1)
	assert.Equal(t, dlvID, msg["deliveries"].([]any)[0].(map[string]any)["id"])
	assert.Contains(t, msg["payload"], "data")
	r = m.call(t, "GET", "/api/messages/msg_unknown", nil)
	assert.Equal(t, http.StatusNotFound, r.Status)

	// Stats: one failed delivery, one failed attempt.
	r = m.call(t, "GET", "/api/stats?endpoint_id="+epID, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	st := r.obj(t)
	assert.EqualValues(t, 1, st["counts"].(map[string]any)["failed"])
	assert.EqualValues(t, 1, st["attempts"])
	assert.EqualValues(t, 0, st["success_rate"])
	assert.Contains(t, st, "latency_p50_ms")
	assert.Contains(t, st, "latency_p95_ms")

	// Redeliver once the receiver is back: a second attempt, succeeded.
	e.status.Store(http.StatusNoContent)
	r = m.call(t, "POST", "/api/deliveries/"+dlvID+"/redeliver", nil)
	require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
	d = waitDelivery(t, m.h, dlvID, func(m map[string]any) bool { return m["state"] == "succeeded" }, m.hdr...)
	assert.EqualValues(t, 2, d["attempts"])
	log = d["attempt_log"].([]any)
	require.Len(t, log, 2)
	assert.EqualValues(t, 2, log[1].(map[string]any)["number"])
	assert.EqualValues(t, 204, log[1].(map[string]any)["status_code"])
	r = m.call(t, "GET", "/api/stats?endpoint_id="+epID, nil)
	st = r.obj(t)
	assert.EqualValues(t, 2, st["attempts"])
	assert.EqualValues(t, 0.5, st["success_rate"])

	// Recover: failed deliveries since a time come due again.
	e.status.Store(http.StatusBadGateway)
	_, d2 := e.publish(t, m.h, "acme", epID, m.hdr...)
	_, d3 := e.publish(t, m.h, "acme", epID, m.hdr...)
	e.status.Store(http.StatusOK)
	r = m.call(t, "POST", "/api/endpoints/"+epID+"/recover", map[string]any{"since": start.Format(time.RFC3339Nano)})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.EqualValues(t, 2, r.obj(t)["requeued"])
	for _, id := range []string{d2, d3} {
		waitDelivery(t, m.h, id, func(m map[string]any) bool { return m["state"] == "succeeded" }, m.hdr...)
	}
	r = m.call(t, "POST", "/api/endpoints/"+epID+"/recover", map[string]any{"since": time.Now().Add(time.Hour).Format(time.RFC3339)})
	require.Equal(t, http.StatusOK, r.Status)
	assert.EqualValues(t, 0, r.obj(t)["requeued"])
}
