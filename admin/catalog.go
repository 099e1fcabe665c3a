package admin

import (
	"net/http"

	"github.com/hookline/webhook"
)

// The event catalog's routes: the catalog itself, the receivers' OpenAPI
// document, and test events of a chosen type.

func (h *handler) listEventTypes(w http.ResponseWriter, r *http.Request, s scope) error {
	writeJSON(w, http.StatusOK, newList(h.o.EventTypes, ""))
	return nil
}

func (h *handler) serveWebhooksOpenAPI(w http.ResponseWriter, r *http.Request, s scope) error {
	if len(h.o.WebhooksOpenAPI) == 0 {
		return webhook.ErrNotFound
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(h.o.WebhooksOpenAPI)
	return nil
}

// testInput is the optional body of POST /api/endpoints/{id}/test.
type testInput struct {
	// EventType picks a catalog type whose example is sent; empty sends
	// the generic webhook.test event.
	EventType string `json:"event_type"`
}

func (h *handler) sendTest(w http.ResponseWriter, r *http.Request, s scope) error {
	var in testInput
	if err := decode(r, &in, true); err != nil {
		return err
	}
	ep, err := h.endpointOf(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	var a *webhook.Attempt
	if in.EventType == "" {
		a, err = h.d.SendTest(r.Context(), ep.ID)
	} else {
		et, ok := h.eventType(in.EventType)
		switch {
		case !ok:
			return badRequest("event_type", "%q is not in the event catalog (GET /api/event-types lists it)", in.EventType)
		case len(et.Example) == 0:
			return badRequest("event_type", "%q has no example to send", in.EventType)
		}
		a, err = h.d.SendTestEvent(r.Context(), ep.ID, webhook.RawEvent{Type: et.Name, Data: et.Example})
	}
	if err != nil && a == nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (h *handler) eventType(name string) (EventType, bool) {
	for _, et := range h.o.EventTypes {
		if et.Name == name {
			return et, true
		}
	}
	return EventType{}, false
}
