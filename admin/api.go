package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/webhook"
)

var errEOF = io.EOF

func (h *handler) routes() []route {
	return []route{
		{method: "GET", pattern: "/{$}", page: true, serve: h.servePage},
		{method: "GET", pattern: "/endpoints/{id}", page: true, serve: h.servePage},
		{method: "GET", pattern: "/deliveries/{id}", page: true, serve: h.servePage},
		{method: "GET", pattern: "/messages/{id}", page: true, serve: h.servePage},
		{method: "GET", pattern: "/event-types", page: true, serve: h.servePage},
		{method: "GET", pattern: "/assets/{file}", page: true, serve: h.serveAsset},

		{method: "GET", pattern: "/api/openapi.json", serve: h.serveOpenAPI},
		{method: "GET", pattern: "/api/endpoints", serve: h.listEndpoints},
		{method: "POST", pattern: "/api/endpoints", need: PermManage, serve: h.createEndpoint},
		{method: "GET", pattern: "/api/endpoints/{id}", serve: h.getEndpoint},
		{method: "PATCH", pattern: "/api/endpoints/{id}", need: PermManage, serve: h.patchEndpoint},
		{method: "DELETE", pattern: "/api/endpoints/{id}", need: PermManage, serve: h.deleteEndpoint},
		{method: "POST", pattern: "/api/endpoints/{id}/enable", need: PermManage, serve: h.enableEndpoint},
		{method: "POST", pattern: "/api/endpoints/{id}/disable", need: PermManage, serve: h.disableEndpoint},
		{method: "POST", pattern: "/api/endpoints/{id}/test", need: PermSend, serve: h.sendTest},
		{method: "POST", pattern: "/api/endpoints/{id}/rotate-secret", need: PermManage | PermSecrets, serve: h.rotateSecret},
		{method: "GET", pattern: "/api/endpoints/{id}/secret", need: PermSecrets, serve: h.getSecret},
		{method: "POST", pattern: "/api/endpoints/{id}/recover", need: PermSend, serve: h.recoverFailed},
		{method: "POST", pattern: "/api/endpoints/{id}/replay", need: PermSend, serve: h.replayMissing},
		{method: "GET", pattern: "/api/formats", serve: h.listFormats},
		{method: "GET", pattern: "/api/deliveries", serve: h.listDeliveries},
		{method: "GET", pattern: "/api/deliveries/{id}", serve: h.getDelivery},
		{method: "POST", pattern: "/api/deliveries/{id}/redeliver", need: PermSend, serve: h.redeliver},
		{method: "GET", pattern: "/api/messages/{id}", serve: h.getMessage},
		{method: "GET", pattern: "/api/event-types", serve: h.listEventTypes},
		{method: "GET", pattern: "/api/webhooks.openapi.json", serve: h.serveWebhooksOpenAPI},
		{method: "GET", pattern: "/api/stats", serve: h.getStats},
	}
}

func (h *handler) serveOpenAPI(w http.ResponseWriter, r *http.Request, s scope) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(openapiDoc)
	return nil
}

// endpointOf returns the endpoint if the scope may see it; another
// tenant's is ErrNotFound.
func (h *handler) endpointOf(ctx context.Context, s scope, id string) (*webhook.Endpoint, error) {
	ep, err := h.d.GetEndpoint(ctx, id)
	if err != nil {
		return nil, err
	}
	if !s.owns(ep.Tenant) {
		return nil, webhook.ErrNotFound
	}
	return ep, nil
}

func (h *handler) deliveryOf(ctx context.Context, s scope, id string) (*webhook.Delivery, error) {
	d, err := h.d.GetDelivery(ctx, id)
	if err != nil {
		return nil, err
	}
	if !s.owns(d.Tenant) {
		return nil, webhook.ErrNotFound
	}
	return d, nil
}

// paging reads cursor and limit.
func paging(r *http.Request) (string, int, error) {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return "", 0, badRequest("limit", "%q: give a number from 1 to 1000", v)
		}
		limit = n
	}
	return q.Get("cursor"), limit, nil
}

func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest(field, "%q: give an RFC 3339 time such as 2026-01-02T15:04:05Z", v)
	}
	return t, nil
}

func (h *handler) listEndpoints(w http.ResponseWriter, r *http.Request, s scope) error {
	cursor, limit, err := paging(r)
	if err != nil {
		return err
	}
	q := webhook.EndpointQuery{Tenant: s.tenant, Cursor: cursor, Limit: limit}
	if s.operator {
		if t, ok := r.URL.Query()["tenant"]; ok {
			q.Tenant = t[0]
		} else {
			q.AllTenants = true
		}
	}
	eps, next, err := h.d.ListEndpoints(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(eps, next))
	return nil
}

// endpointInput is the body of POST /api/endpoints.
type endpointInput struct {
	ID          string            `json:"id"`
	Tenant      string            `json:"tenant"`
	URL         string            `json:"url"`
	Description string            `json:"description"`
	EventTypes  []string          `json:"event_types"`
	Disabled    bool              `json:"disabled"`
	Headers     map[string]string `json:"headers"`
	RateLimit   float64           `json:"rate_limit"`
	Metadata    map[string]string `json:"metadata"`
	Secret      string            `json:"secret"`
	Channels    []string          `json:"channels"`
	Filter      string            `json:"filter"`
	Format      string            `json:"format"`
	Ordered     bool              `json:"ordered"`
}

// endpointWithSecret is an endpoint answer that carries its secret.
type endpointWithSecret struct {
	*webhook.Endpoint
	Secret string `json:"secret,omitempty"`
}

func (h *handler) createEndpoint(w http.ResponseWriter, r *http.Request, s scope) error {
	var in endpointInput
	if err := decode(r, &in, false); err != nil {
		return err
	}
	ep := &webhook.Endpoint{
		ID: in.ID, Tenant: in.Tenant, URL: in.URL, Description: in.Description, EventTypes: in.EventTypes,
		Disabled: in.Disabled, Headers: in.Headers, RateLimit: in.RateLimit, Metadata: in.Metadata, Secret: in.Secret,
		Channels: in.Channels, Filter: in.Filter, Format: in.Format, Ordered: in.Ordered,
	}
	if !s.operator {
		ep.Tenant = s.tenant // a portal user cannot create for another tenant
	}
	if ep.EventTypes == nil {
		ep.EventTypes = []string{}
	}
	if err := h.d.CreateEndpoint(r.Context(), ep); err != nil {
		return err
	}
	out := endpointWithSecret{Endpoint: ep}
	if s.perms.Has(PermSecrets) {
		out.Secret = ep.Secret
	}
	w.Header().Set("Location", "api/endpoints/"+ep.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *handler) getEndpoint(w http.ResponseWriter, r *http.Request, s scope) error {
	ep, err := h.endpointOf(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ep)
	return nil
}

// endpointPatch is the body of PATCH /api/endpoints/{id}: absent fields
// stay as they are.
type endpointPatch struct {
	URL         *string            `json:"url"`
	Description *string            `json:"description"`
	EventTypes  *[]string          `json:"event_types"`
	Headers     *map[string]string `json:"headers"`
	RateLimit   *float64           `json:"rate_limit"`
	Metadata    *map[string]string `json:"metadata"`
	// Ordered turns ordered delivery on or off (off releases the waiting
	// deliveries at once).
	Ordered *bool `json:"ordered"`
	routingPatch
}

func (h *handler) patchEndpoint(w http.ResponseWriter, r *http.Request, s scope) error {
	ep, err := h.endpointOf(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	var p endpointPatch
	if err := decode(r, &p, false); err != nil {
		return err
	}
	if p.URL != nil {
		ep.URL = *p.URL
	}
	if p.Description != nil {
		ep.Description = *p.Description
	}
	if p.EventTypes != nil {
		ep.EventTypes = *p.EventTypes
		if ep.EventTypes == nil {
			ep.EventTypes = []string{}
		}
	}
	if p.Headers != nil {
		ep.Headers = *p.Headers
	}
	if p.RateLimit != nil {
		ep.RateLimit = *p.RateLimit
	}
	if p.Metadata != nil {
		ep.Metadata = *p.Metadata
	}
	if p.Ordered != nil {
		ep.Ordered = *p.Ordered
	}
	p.routingPatch.apply(ep)
	if err := h.d.UpdateEndpoint(r.Context(), ep); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ep)
	return nil
}

func (h *handler) deleteEndpoint(w http.ResponseWriter, r *http.Request, s scope) error {
	ep, err := h.endpointOf(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := h.d.DeleteEndpoint(r.Context(), ep.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) enableEndpoint(w http.ResponseWriter, r *http.Request, s scope) error {
	return h.toggle(w, r, s, func(ctx context.Context, id string) error { return h.d.EnableEndpoint(ctx, id) })
}

func (h *handler) disableEndpoint(w http.ResponseWriter, r *http.Request, s scope) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(r, &in, true); err != nil {
		return err
	}
	if in.Reason == "" {
		in.Reason = "disabled by hand"
	}
	return h.toggle(w, r, s, func(ctx context.Context, id string) error { return h.d.DisableEndpoint(ctx, id, in.Reason) })
}

func (h *handler) toggle(w http.ResponseWriter, r *http.Request, s scope, f func(context.Context, string) error) error {
	ep, err := h.endpointOf(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := f(r.Context(), ep.ID); err != nil {
		return err
	}
	if ep, err = h.d.GetEndpoint(r.Context(), ep.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ep)
	return nil
}

// secretAnswer is the answer of /secret and rotate-secret.
type secretAnswer struct {
	ID                      string     `json:"id"`
	Secret                  string     `json:"secret"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
}

func newSecretAnswer(ep *webhook.Endpoint, now time.Time) secretAnswer {
	out := secretAnswer{ID: ep.ID, Secret: ep.Secret}
	if ep.PreviousSecret != "" && ep.PreviousSecretExpiresAt.After(now) {
		t := ep.PreviousSecretExpiresAt
		out.PreviousSecretExpiresAt = &t
	}
	return out
}

func (h *handler) rotateSecret(w http.ResponseWriter, r *http.Request, s scope) error {
	ep, err := h.endpointOf(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	var in struct {
		OverlapSeconds *int64 `json:"overlap_seconds"`
	}
	if err := decode(r, &in, true); err != nil {
		return err
	}
	overlap := h.o.RotationOverlap
	if in.OverlapSeconds != nil {
		if *in.OverlapSeconds < 0 || *in.OverlapSeconds > 30*24*3600 {
			return badRequest("overlap_seconds", "%d: give 0 (retire the old secret at once) up to 2592000 (30 days)", *in.OverlapSeconds)
		}
		overlap = time.Duration(*in.OverlapSeconds) * time.Second
	}
	ep, err = h.d.RotateSecret(r.Context(), ep.ID, overlap)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newSecretAnswer(ep, h.o.Now()))
	return nil
}

func (h *handler) getSecret(w http.ResponseWriter, r *http.Request, s scope) error {
	ep, err := h.endpointOf(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newSecretAnswer(ep, h.o.Now()))
	return nil
}

func (h *handler) recoverFailed(w http.ResponseWriter, r *http.Request, s scope) error {
	return h.sinceAction(w, r, s, "failed deliveries are retried", "requeued", h.d.RetryFailed)
}

// sinceAction serves a POST /api/endpoints/{id}/... route whose body is
// {"since": RFC 3339}: it runs do on the endpoint (of the request's own
// tenant) and answers {key: n}. what finishes the message of a missing
// since ("the time from which ...").
func (h *handler) sinceAction(w http.ResponseWriter, r *http.Request, s scope, what, key string,
	do func(ctx context.Context, endpointID string, since time.Time) (int, error)) error {
	ep, err := h.endpointOf(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	var in struct {
		Since string `json:"since"`
	}
	if err := decode(r, &in, false); err != nil {
		return err
	}
	if in.Since == "" {
		return badRequest("since", "missing: give the RFC 3339 time from which %s", what)
	}
	since, err := parseTime("since", in.Since)
	if err != nil {
		return err
	}
	n, err := do(r.Context(), ep.ID, since)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{key: n})
	return nil
}

func (h *handler) listDeliveries(w http.ResponseWriter, r *http.Request, s scope) error {
	cursor, limit, err := paging(r)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	q := webhook.DeliveryQuery{
		Tenant: s.tenant, EndpointID: qs.Get("endpoint_id"), MessageID: qs.Get("message_id"),
		State: webhook.DeliveryState(qs.Get("state")), Cursor: cursor, Limit: limit,
	}
	if s.operator {
		q.Tenant = qs.Get("tenant")
	}
	if q.EndpointID != "" {
		if _, err := h.endpointOf(r.Context(), s, q.EndpointID); err != nil {
			return err
		}
	}
	if v := qs.Get("since"); v != "" {
		if q.Since, err = parseTime("since", v); err != nil {
			return err
		}
	}
	ds, next, err := h.d.ListDeliveries(r.Context(), q)
	if err != nil {
		return err
	}
	out := ds[:0]
	for _, d := range ds { // belt and braces: a store that ignores Tenant leaks nothing
		if s.owns(d.Tenant) {
			out = append(out, d)
		}
	}
	writeJSON(w, http.StatusOK, newList(out, next))
	return nil
}

// deliveryDetail is the answer of GET /api/deliveries/{id}.
type deliveryDetail struct {
	*webhook.Delivery
	AttemptLog []*webhook.Attempt `json:"attempt_log"`
	Message    *webhook.Message   `json:"message"`
}

func (h *handler) getDelivery(w http.ResponseWriter, r *http.Request, s scope) error {
	d, err := h.deliveryOf(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := deliveryDetail{Delivery: d, AttemptLog: []*webhook.Attempt{}}
	q := webhook.AttemptQuery{DeliveryID: d.ID, Limit: 1000}
	for range 10 { // at most 10,000 attempts
		as, next, err := h.d.ListAttempts(r.Context(), q)
		if err != nil {
			return err
		}
		out.AttemptLog = append(out.AttemptLog, as...)
		if next == "" {
			break
		}
		q.Cursor = next
	}
	if out.Message, err = h.d.GetMessage(r.Context(), d.MessageID); err != nil && !errors.Is(err, webhook.ErrNotFound) {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) redeliver(w http.ResponseWriter, r *http.Request, s scope) error {
	d, err := h.deliveryOf(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := h.d.Redeliver(r.Context(), d.ID); err != nil {
		return err
	}
	if d, err = h.d.GetDelivery(r.Context(), d.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, d)
	return nil
}

// messageDetail is the answer of GET /api/messages/{id}.
type messageDetail struct {
	*webhook.Message
	Deliveries []*webhook.Delivery `json:"deliveries"`
}

func (h *handler) getMessage(w http.ResponseWriter, r *http.Request, s scope) error {
	m, err := h.d.GetMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if !s.owns(m.Tenant) {
		return webhook.ErrNotFound
	}
	out := messageDetail{Message: m, Deliveries: []*webhook.Delivery{}}
	q := webhook.DeliveryQuery{MessageID: m.ID, Tenant: m.Tenant, Limit: 1000}
	ds, _, err := h.d.ListDeliveries(r.Context(), q)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if s.owns(d.Tenant) {
			out.Deliveries = append(out.Deliveries, d)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// statsAnswer is the answer of GET /api/stats.
type statsAnswer struct {
	EndpointID        string                        `json:"endpoint_id,omitempty"`
	Since             time.Time                     `json:"since"`
	Counts            map[webhook.DeliveryState]int `json:"counts"`
	Attempts          int                           `json:"attempts"`
	SucceededAttempts int                           `json:"succeeded_attempts"`
	SuccessRate       float64                       `json:"success_rate"`
	LatencyP50MS      float64                       `json:"latency_p50_ms"`
	LatencyP95MS      float64                       `json:"latency_p95_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (h *handler) getStats(w http.ResponseWriter, r *http.Request, s scope) error {
	qs := r.URL.Query()
	q := webhook.StatsQuery{EndpointID: qs.Get("endpoint_id"), Tenant: s.tenant, Since: h.o.Now().Add(-h.o.StatsWindow).UTC()}
	if s.operator {
		q.Tenant = qs.Get("tenant")
	}
	if v := qs.Get("since"); v != "" {
		t, err := parseTime("since", v)
		if err != nil {
			return err
		}
		q.Since = t
	}
	if q.EndpointID != "" {
		ep, err := h.endpointOf(r.Context(), s, q.EndpointID)
		if err != nil {
			return err
		}
		q.Tenant = ep.Tenant
	} else if strings.TrimSpace(q.Tenant) == "" && !s.operator {
		return webhook.ErrNotFound // unreachable: portal scopes always have a tenant
	}
	st, err := h.d.Stats(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, statsAnswer{
		EndpointID: q.EndpointID, Since: q.Since, Counts: st.Counts, Attempts: st.Attempts,
		SucceededAttempts: st.SucceededAttempts, SuccessRate: st.SuccessRate(),
		LatencyP50MS: ms(st.LatencyP50), LatencyP95MS: ms(st.LatencyP95),
	})
	return nil
}
