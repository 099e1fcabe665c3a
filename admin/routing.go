package admin

import (
	"net/http"

	"github.com/hookline/webhook"
)

// routingPatch holds the routing fields of PATCH /api/endpoints/{id}:
// absent fields stay as they are.
type routingPatch struct {
	Channels *[]string `json:"channels"`
	Filter   *string   `json:"filter"`
	Format   *string   `json:"format"`
}

func (p routingPatch) apply(ep *webhook.Endpoint) {
	if p.Channels != nil {
		ep.Channels = *p.Channels
	}
	if p.Filter != nil {
		ep.Filter = *p.Filter
	}
	if p.Format != nil {
		ep.Format = *p.Format
	}
}

// replayMissing serves POST /api/endpoints/{id}/replay {"since": RFC 3339}:
// Dispatcher.ReplayMissing over the endpoint's own tenant.
func (h *handler) replayMissing(w http.ResponseWriter, r *http.Request, s scope) error {
	return h.sinceAction(w, r, s, "missed messages are replayed", "queued", h.d.ReplayMissing)
}

// listFormats serves GET /api/formats: the body formats an endpoint may
// name (Config.Formats); "" (the default envelope) is not listed.
func (h *handler) listFormats(w http.ResponseWriter, r *http.Request, s scope) error {
	writeJSON(w, http.StatusOK, newList(h.d.FormatNames(), ""))
	return nil
}
