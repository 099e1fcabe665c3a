package admintest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hookline/webhook/admin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testBadInput(t *testing.T, nd NewDispatcher, portal bool) {
	e := newEnv(t, nd)
	m := e.mode(portal)
	epID := e.createEndpoint(t, m.h, map[string]any{}, m.hdr...)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		mention            string
	}{
		{"malformed JSON", "POST", "/api/endpoints", `{"url":`, 400, "JSON"},
		{"not an object", "POST", "/api/endpoints", `[1,2]`, 400, "JSON"},
		{"two values", "POST", "/api/endpoints", `{"url":"http://127.0.0.1/"} {}`, 400, "more than one"},
		{"unknown field", "POST", "/api/endpoints", `{"url":"http://127.0.0.1/","colour":"red"}`, 400, "colour"},
		{"empty body", "POST", "/api/endpoints", ``, 400, "JSON"},
		{"missing url", "POST", "/api/endpoints", map[string]any{"description": "x"}, 400, "url"},
		{"bad event type", "POST", "/api/endpoints", map[string]any{"url": e.recvURL, "event_types": []string{"bad type!"}}, 400, "event types"},
		{"body too large", "POST", "/api/endpoints", `{"description":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger"},
		{"patch malformed", "PATCH", "/api/endpoints/" + epID, `{`, 400, "JSON"},
		{"patch unknown", "PATCH", "/api/endpoints/" + epID, `{"tenant":"other"}`, 400, "tenant"},
		{"recover no since", "POST", "/api/endpoints/" + epID + "/recover", `{}`, 400, "since"},
		{"recover bad since", "POST", "/api/endpoints/" + epID + "/recover", `{"since":"yesterday"}`, 400, "RFC 3339"},
		{"rotate negative overlap", "POST", "/api/endpoints/" + epID + "/rotate-secret", `{"overlap_seconds":-1}`, 400, "overlap"},
		{"bad state filter", "GET", "/api/deliveries?state=lost", nil, 400, "state"},
		{"bad limit", "GET", "/api/endpoints?limit=0", nil, 400, "limit"},
		{"bad since filter", "GET", "/api/stats?since=soon", nil, 400, "since"},
		{"unknown endpoint", "GET", "/api/endpoints/ep_missing", nil, 404, "not found"},
		{"unknown delivery", "POST", "/api/deliveries/dlv_missing/redeliver", nil, 404, "not found"},
		{"stats unknown endpoint", "GET", "/api/stats?endpoint_id=ep_missing", nil, 404, "not found"},
		// What no store can hold is refused alike on every store.
		{"description NUL", "POST", "/api/endpoints", `{"url":"` + e.recvURL + `","description":"a\u0000b"}`, 400, "description"},
		{"metadata NUL", "POST", "/api/endpoints", `{"url":"` + e.recvURL + `","metadata":{"k":"\u0000"}}`, 400, "metadata"},
		{"body not UTF-8", "POST", "/api/endpoints", "{\"url\":\"" + e.recvURL + "\",\"metadata\":{\"k\":\"\xff\"}}", 400, "UTF-8"},
		{"patch rate limit tiny", "PATCH", "/api/endpoints/" + epID, `{"rate_limit":1e-9}`, 400, "rate limit"},
		{"patch description control", "PATCH", "/api/endpoints/" + epID, `{"description":"\u001b[2J"}`, 400, "description"},
		{"disable reason NUL", "POST", "/api/endpoints/" + epID + "/disable", `{"reason":"\u0000"}`, 400, "reason"},
		{"endpoint ID NUL", "GET", "/api/endpoints/ep%00", nil, 400, "path"},
		{"message ID NUL", "GET", "/api/messages/msg%00", nil, 400, "path"},
		{"delivery ID not UTF-8", "GET", "/api/deliveries/dlv%FF", nil, 400, "path"},
		{"redeliver ID NUL", "POST", "/api/deliveries/dlv%00/redeliver", nil, 400, "path"},
		{"endpoint filter NUL", "GET", "/api/deliveries?endpoint_id=ep%00", nil, 400, "endpoint_id"},
		{"cursor not UTF-8", "GET", "/api/endpoints?cursor=%FF", nil, 400, "cursor"},
		{"stats endpoint NUL", "GET", "/api/stats?endpoint_id=%00", nil, 400, "endpoint_id"},
	}
	for _, c := range cases {
		r := m.call(t, c.method, c.path, c.body)
		assert.Equal(t, c.status, r.Status, "%s: %s", c.name, r.Body)
		var m map[string]string
		if assert.NoError(t, json.Unmarshal(r.Body, &m), c.name) {
			assert.Contains(t, m["error"], c.mention, c.name)
		}
	}
	// Nothing of the bad input was stored or changed.
	l := m.call(t, "GET", "/api/endpoints", nil).list(t)
	if assert.Len(t, l, 1) {
		assert.Equal(t, "", l[0]["description"])
		assert.Equal(t, false, l[0]["disabled"])
		assert.Nil(t, l[0]["rate_limit"])
	}
}

func testCrossOrigin(t *testing.T, nd NewDispatcher, portal bool) {
	e := newEnv(t, nd)
	m := e.mode(portal)
	epID := e.createEndpoint(t, m.h, map[string]any{"description": "before"}, m.hdr...)
	refused := []struct {
		name string
		hdr  []string
	}{
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site"}},
		{"foreign Origin", []string{"Origin", "https://evil.example"}},
	}
	for _, c := range refused {
		r := m.call(t, "POST", "/api/endpoints", map[string]any{"url": e.recvURL}, c.hdr...)
		assert.Equal(t, http.StatusForbidden, r.Status, c.name)
		r = m.call(t, "PATCH", "/api/endpoints/"+epID, map[string]any{"description": "after"}, c.hdr...)
		assert.Equal(t, http.StatusForbidden, r.Status, c.name)
		r = m.call(t, "DELETE", "/api/endpoints/"+epID, nil, c.hdr...)
		assert.Equal(t, http.StatusForbidden, r.Status, c.name)
		// Reading cross-origin is not a state change (the browser's
		// same-origin policy keeps the answer from the other site).
		r = m.call(t, "GET", "/api/endpoints", nil, c.hdr...)
		assert.Equal(t, http.StatusOK, r.Status, c.name)
	}
	l := m.call(t, "GET", "/api/endpoints", nil).list(t)
	require.Len(t, l, 1, "nothing was created or deleted")
	assert.Equal(t, "before", l[0]["description"], "nothing was changed")

	r := m.call(t, "POST", "/api/endpoints", map[string]any{"url": e.recvURL}, "Sec-Fetch-Site", "same-origin")
	assert.Equal(t, http.StatusCreated, r.Status, "same-origin requests pass")
	r = m.call(t, "PATCH", "/api/endpoints/"+epID, map[string]any{"description": "after"}, "Origin", "http://admin.test")
	assert.Equal(t, http.StatusOK, r.Status, "an Origin matching the Host passes: %s", r.Body)
}

// testTenantIsolation runs every API route of the OpenAPI document (which a
// test in package admin holds equal to the routing table) as tenant B with
// tenant A's IDs.
func testTenantIsolation(t *testing.T, nd NewDispatcher) {
	e := newEnv(t, nd)
	h := e.portal
	asA := []string{tenantHeader, "tenant-a"}
	asB := []string{tenantHeader, "tenant-b"}

	// A create ignores the tenant in the body.
	epA := e.createEndpoint(t, h, map[string]any{"tenant": "tenant-b", "description": "A's"}, asA...)
	r := call(t, h, "GET", "/api/endpoints/"+epA, nil, asA...)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "tenant-a", r.obj(t)["tenant"], "a portal create ignores the body's tenant")
	epB := e.createEndpoint(t, h, map[string]any{"description": "B's"}, asB...)
	msgA, dlvA := e.publish(t, h, "tenant-a", epA, asA...)
	_, dlvB := e.publish(t, h, "tenant-b", epB, asB...)

	// Without a tenant: 401 everywhere.
	r = call(t, h, "GET", "/api/endpoints", nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Contains(t, r.obj(t), "error")
	r = call(t, h, "GET", "/", nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(admin.OpenAPI(), &doc))
	checked := 0
	for path, ops := range doc.Paths {
		if !strings.Contains(path, "{id}") {
			continue
		}
		var id string
		switch {
		case strings.HasPrefix(path, "/api/endpoints/"):
			id = epA
		case strings.HasPrefix(path, "/api/deliveries/"):
			id = dlvA
		case strings.HasPrefix(path, "/api/messages/"):
			id = msgA
		default:
			t.Fatalf("no ID of tenant A for %s: extend this test", path)
		}
		for method := range ops {
			if method == "parameters" {
				continue
			}
			m := strings.ToUpper(method)
			var body any
			switch {
			case m == "PATCH":
				body = map[string]any{"description": "hijacked"}
			case strings.HasSuffix(path, "/recover"), strings.HasSuffix(path, "/replay"):
				body = map[string]any{"since": "2000-01-01T00:00:00Z"}
			case strings.HasSuffix(path, "/disable"):
				body = map[string]any{"reason": "hijacked"}
			}
			p := strings.Replace(path, "{id}", id, 1)
			r := call(t, h, m, p, body, asB...)
			assert.Equal(t, http.StatusNotFound, r.Status, "%s %s as another tenant: %s", m, p, r.Body)
			assert.NotContains(t, string(r.Body), "tenant-a", "%s %s", m, p)
			checked++
		}
	}
	assert.Equal(t, 13, checked, "every {id} route was tried")

	// Nothing of A's changed or was sent.
	ep, err := e.d.GetEndpoint(context.Background(), epA)
	require.NoError(t, err)
	assert.Equal(t, "A's", ep.Description)
	assert.False(t, ep.Disabled)
	del, err := e.d.GetDelivery(context.Background(), dlvA)
	require.NoError(t, err)
	assert.Equal(t, 1, del.Attempts, "no redelivery or recovery of A's delivery")

	// Lists and stats show B only; filters naming A's objects reveal nothing.
	l := call(t, h, "GET", "/api/endpoints", nil, asB...).list(t)
	require.Len(t, l, 1)
	assert.Equal(t, epB, l[0]["id"])
	l = call(t, h, "GET", "/api/endpoints?tenant=tenant-a", nil, asB...).list(t)
	require.Len(t, l, 1, "the tenant filter is for operators only")
	assert.Equal(t, epB, l[0]["id"])
	l = call(t, h, "GET", "/api/deliveries", nil, asB...).list(t)
	require.Len(t, l, 1)
	assert.Equal(t, dlvB, l[0]["id"])
	l = call(t, h, "GET", "/api/deliveries?message_id="+msgA, nil, asB...).list(t)
	assert.Empty(t, l)
	r = call(t, h, "GET", "/api/deliveries?endpoint_id="+epA, nil, asB...)
	assert.Equal(t, http.StatusNotFound, r.Status)
	r = call(t, h, "GET", "/api/stats?endpoint_id="+epA, nil, asB...)
	assert.Equal(t, http.StatusNotFound, r.Status)
	r = call(t, h, "GET", "/api/stats?tenant=tenant-a", nil, asB...)
	require.Equal(t, http.StatusOK, r.Status)
	st := r.obj(t)
	counts := st["counts"].(map[string]any)
	assert.EqualValues(t, 1, counts["pending"].(float64)+counts["succeeded"].(float64)+counts["failed"].(float64), "B's stats count B's one delivery")

	// The operator sees both.
	l = call(t, e.operator, "GET", "/api/endpoints", nil).list(t)
	assert.Len(t, l, 2)
}
