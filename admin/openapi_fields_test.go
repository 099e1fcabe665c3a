package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schemaChecker compares JSON values with the schemas of the OpenAPI
// document: every key of an answer must be documented (a property, or
// covered by additionalProperties), every required key present, every
// value of its documented type.
type schemaChecker struct {
	doc map[string]any
}

func (c schemaChecker) resolve(s map[string]any) map[string]any {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		cur := any(c.doc)
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		s = cur.(map[string]any)
	}
}

// flatten merges an allOf into one object schema.
func (c schemaChecker) flatten(s map[string]any) map[string]any {
	s = c.resolve(s)
	all, ok := s["allOf"].([]any)
	if !ok {
		return s
	}
	out := map[string]any{"type": "object"}
	props := map[string]any{}
	var req []any
	rest := map[string]any{}
	for k, v := range s {
		if k != "allOf" {
			rest[k] = v
		}
	}
	for _, b := range append(all, rest) {
		bs := c.flatten(b.(map[string]any))
		for k, v := range mapOf(bs["properties"]) {
			props[k] = v
		}
		req = append(req, sliceOf(bs["required"])...)
	}
	out["properties"], out["required"] = props, req
	return out
}

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }
func sliceOf(v any) []any        { s, _ := v.([]any); return s }

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

func (c schemaChecker) check(s map[string]any, v any, path string) []string {
	s = c.flatten(s)
	for _, key := range []string{"anyOf", "oneOf"} {
		if bs, ok := s[key].([]any); ok {
			var all []string
			for _, b := range bs {
				errs := c.check(b.(map[string]any), v, path)
				if len(errs) == 0 {
					return nil
				}
				all = append(all, errs...)
			}
			return all
		}
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		got := jsonType(v)
		if !slices.Contains(types, got) && !(got == "number" && slices.Contains(types, "integer")) {
			return []string{fmt.Sprintf("%s: a %s, documented as %v", path, got, types)}
		}
	}
	var errs []string
	switch v := v.(type) {
	case map[string]any:
		props := mapOf(s["properties"])
		addl, hasAddl := s["additionalProperties"]
		for _, r := range sliceOf(s["required"]) {
			if _, ok := v[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required %q missing from the answer", path, r))
			}
		}
		for k, val := range v {
			switch p, ok := props[k]; {
			case ok:
				errs = append(errs, c.check(p.(map[string]any), val, path+"."+k)...)
			case hasAddl && addl != false:
				if am, ok := addl.(map[string]any); ok {
					errs = append(errs, c.check(am, val, path+"."+k)...)
				}
			case props == nil && !hasAddl:
				// a free-form object
			default:
				errs = append(errs, fmt.Sprintf("%s: %q is in the answer but not in the document", path, k))
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range v {
				errs = append(errs, c.check(items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

// TestOpenAPIMatchesResponses calls every documented operation and checks
// the real answer against the document's response schema, field by field,
// so a field added to a Go type without the document following fails.
func TestOpenAPIMatchesResponses(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(openapiDoc, &doc))
	c := schemaChecker{doc: doc}

	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "not today", http.StatusServiceUnavailable)
	}))
	defer recv.Close()
	store := webhook.NewMemoryStore()
	d, err := webhook.New(webhook.Config{Store: store, AllowHTTP: true, AllowPrivateNetworks: true,
		Formats: map[string]webhook.EnvelopeFunc{"legacy": webhook.StandardEnvelope}})
	require.NoError(t, err)
	h, err := New(d, &Options{
		EventTypes: []EventType{{Name: "invoice.paid", Description: "Paid.", Group: "Invoices", Version: "2", Deprecated: "use invoice.settled",
			Example: json.RawMessage(`{"id":"in_1"}`), Schema: json.RawMessage(`{"type":"object"}`)}},
		WebhooksOpenAPI: json.RawMessage(`{"openapi":"3.1.0"}`),
	})
	require.NoError(t, err)
	ctx := context.Background()

	called := map[string]bool{}
	call := func(method, pattern, path, body string, status int) map[string]any {
		t.Helper()
		rec := do(h, method, path, body, "Content-Type", "application/json")
		require.Equal(t, status, rec.Code, "%s %s: %s", method, path, rec.Body.String())
		op := mapOf(mapOf(mapOf(doc["paths"])[pattern])[strings.ToLower(method)])
		require.NotNil(t, op, "%s %s is documented", method, pattern)
		called[method+" "+pattern] = true
		resp := mapOf(mapOf(op["responses"])[fmt.Sprint(status)])
		require.NotNil(t, resp, "%s %s: status %d is documented", method, pattern, status)
		schema := mapOf(mapOf(mapOf(resp["content"])["application/json"])["schema"])
		if schema == nil {
			assert.Empty(t, strings.TrimSpace(rec.Body.String()), "%s %s: undocumented body", method, pattern)
			return nil
		}
		var v any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
		for _, e := range c.check(schema, v, method+" "+pattern) {
			t.Error(e)
		}
		m, _ := v.(map[string]any)
		return m
	}

	ep := call("POST", "/api/endpoints", "/api/endpoints",
		`{"url":"`+recv.URL+`","description":"d","event_types":["invoice.paid"],"headers":{"X-A":"b"},"metadata":{"k":"v"},"rate_limit":5,"channels":["eu"],"format":"legacy","ordered":true}`, 201)
	id := ep["id"].(string)
	// Fields only the dispatcher sets: a run of failures, a reason.
	stored, err := store.GetEndpoint(ctx, id)
	require.NoError(t, err)
	stored.FailingSince = time.Now().Add(-time.Hour)
	require.NoError(t, store.UpdateEndpoint(ctx, stored))

	call("GET", "/api/endpoints", "/api/endpoints", "", 200)
	call("GET", "/api/endpoints/{id}", "/api/endpoints/"+id, "", 200)
	call("PATCH", "/api/endpoints/{id}", "/api/endpoints/"+id, `{"description":"e"}`, 200)
	call("POST", "/api/endpoints/{id}/disable", "/api/endpoints/"+id+"/disable", `{"reason":"testing"}`, 200)
	call("POST", "/api/endpoints/{id}/enable", "/api/endpoints/"+id+"/enable", "", 200)
	call("POST", "/api/endpoints/{id}/test", "/api/endpoints/"+id+"/test", "", 200)
	att := call("POST", "/api/endpoints/{id}/test", "/api/endpoints/"+id+"/test", `{"event_type":"invoice.paid"}`, 200)
	call("POST", "/api/endpoints/{id}/rotate-secret", "/api/endpoints/"+id+"/rotate-secret", `{}`, 200)
	call("GET", "/api/endpoints/{id}/secret", "/api/endpoints/"+id+"/secret", "", 200)
	call("POST", "/api/endpoints/{id}/recover", "/api/endpoints/"+id+"/recover", `{"since":"2020-01-01T00:00:00Z"}`, 200)
	// Two of one ordering key: the second waits (waiting_for, ordered, ordering_key).
	for range 2 {
		_, err = d.Publish(ctx, webhook.RawEvent{Type: "invoice.paid", Data: json.RawMessage(`{"id":"in_2"}`)},
			&webhook.PublishOpts{Metadata: map[string]string{"k": "v"}, OrderingKey: "in_2"})
		require.NoError(t, err)
	}
	call("GET", "/api/deliveries", "/api/deliveries?endpoint_id="+id, "", 200)
	call("POST", "/api/endpoints/{id}/replay", "/api/endpoints/"+id+"/replay", `{"since":"2020-01-01T00:00:00Z"}`, 200)
	call("GET", "/api/formats", "/api/formats", "", 200)
	dlv := att["delivery_id"].(string)
	call("GET", "/api/deliveries/{id}", "/api/deliveries/"+dlv, "", 200)
	call("POST", "/api/deliveries/{id}/redeliver", "/api/deliveries/"+dlv+"/redeliver", "", 202)
	call("GET", "/api/messages/{id}", "/api/messages/"+att["message_id"].(string), "", 200)
	call("GET", "/api/event-types", "/api/event-types", "", 200)
	call("GET", "/api/stats", "/api/stats", "", 200)
	call("GET", "/api/stats", "/api/stats?endpoint_id="+id, "", 200)
	call("GET", "/api/openapi.json", "/api/openapi.json", "", 200)
	call("GET", "/api/webhooks.openapi.json", "/api/webhooks.openapi.json", "", 200)
	call("DELETE", "/api/endpoints/{id}", "/api/endpoints/"+id, "", 204)

	var missing []string
	for p, ops := range mapOf(doc["paths"]) {
		for m := range mapOf(ops) {
			if m != "parameters" && !called[strings.ToUpper(m)+" "+p] {
				missing = append(missing, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "documented operations this test does not call")
}

// TestSchemaCheckerCatches makes sure the checker above is not a rubber
// stamp.
func TestSchemaCheckerCatches(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(openapiDoc, &doc))
	c := schemaChecker{doc: doc}
	ep := map[string]any{"$ref": "#/components/schemas/Endpoint"}
	v := map[string]any{"id": "ep_1", "tenant": "", "url": "https://x", "description": "", "event_types": []any{}, "disabled": false,
		"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
	assert.Empty(t, c.check(ep, v, "ok"))
	v["surprise"] = 1
	assert.NotEmpty(t, c.check(ep, v, "extra key"))
	delete(v, "surprise")
	delete(v, "url")
	assert.NotEmpty(t, c.check(ep, v, "missing required"))
	v["url"] = 7.0
	assert.NotEmpty(t, c.check(ep, v, "wrong type"))
}
