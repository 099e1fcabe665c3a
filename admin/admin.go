// Package admin is hookline's admin and customer-portal http.Handler: a JSON
// API over a Dispatcher's endpoints, deliveries, attempts and stats, and one
// embedded web page that uses it.
//
// It runs in two modes. Operator mode (Options.Tenant nil) shows every
// tenant; the host puts its own authentication in front of it. Portal mode
// (Options.Tenant set) scopes every request to the tenant Tenant returns:
// another tenant's endpoint, delivery or message is a plain 404. PortalLinks
// provides a ready Tenant func for signed, expiring links.
//
// Mount it under a prefix with http.StripPrefix, keeping the trailing slash
// on the pattern and not on the prefix:
//
//	mux.Handle("/admin/", http.StripPrefix("/admin", h))
//
// The page and its assets are embedded; the page loads nothing from the
// internet.
package admin

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookline/webhook"
)

// EventType is one entry of the event catalog the page shows and the
// endpoint form offers as checkboxes.
type EventType struct {
	// Name is the event type, for example "invoice.paid".
	Name string `json:"name"`
	// Description says when the event is sent.
	Description string `json:"description"`
	// Example is a sample of the event's JSON data; optional. The page's
	// "send test event" sends it (POST /api/endpoints/{id}/test with
	// {"event_type": Name}).
	Example json.RawMessage `json:"example,omitempty"`
	// Group gathers related types on the page and in the endpoint form, for
	// example "Invoices"; optional.
	Group string `json:"group,omitempty"`
	// Schema is the JSON Schema of the body an endpoint receives for this
	// type; optional. The page shows it as a table of fields. The catalog
	// module (github.com/hookline/webhook/catalog) generates it from the
	// event's Go type.
	Schema json.RawMessage `json:"schema,omitempty"`
	// Version names the payload's version; optional.
	Version string `json:"version,omitempty"`
	// Deprecated, when not empty, marks the type deprecated and says what
	// to use instead.
	Deprecated string `json:"deprecated,omitempty"`
}

// Options configures the handler. A nil *Options is the zero value.
type Options struct {
	// Tenant scopes every request to one tenant (the customer portal); an
	// error, or an empty tenant, answers 401. Defaults to nil: operator mode,
	// every tenant visible (the host wraps the handler in its own auth).
	Tenant func(r *http.Request) (string, error)
	// Permissions says what the request may do beyond reading. An error
	// answers 401. Defaults to nil: everything (PermAll), within the
	// request's tenant when Tenant is set.
	Permissions func(r *http.Request) (Permissions, error)
	// Portal, when set, makes the handler a customer portal driven by signed
	// links: Tenant and Permissions come from it (they must then be nil) and
	// the handler exchanges a link's token for a cookie on first use.
	// Defaults to nil.
	Portal *PortalLinks
	// EventTypes is the event catalog. Defaults to none: the form then
	// offers "all types" and a free-text list.
	EventTypes []EventType
	// WebhooksOpenAPI is the receivers' OpenAPI document (the webhooks a
	// receiver gets, as the catalog module's Catalog.OpenAPI builds it),
	// served at GET /api/webhooks.openapi.json and linked from the page's
	// event catalog. Defaults to nil: that route answers 404.
	WebhooksOpenAPI json.RawMessage
	// ReadOnly refuses every state-changing request with 403, whatever the
	// request's permissions. Defaults to false.
	ReadOnly bool
	// DisableSecretReveal turns off GET /api/endpoints/{id}/secret and
	// rotate-secret (403) and leaves the secret out of create answers, so
	// secrets never leave the server through this handler. Defaults to
	// false.
	DisableSecretReveal bool
	// Title is the page's title. Defaults to "Webhooks".
	Title string
	// FrameAncestors are the CSP frame-ancestors sources allowed to embed
	// the page in a frame, for example "https://app.example.com". Defaults
	// to none: the page cannot be framed.
	FrameAncestors []string
	// TrustedOrigins are origins (scheme://host[:port]) allowed to make
	// state-changing requests cross-origin. Defaults to none: only
	// same-origin requests may change anything.
	TrustedOrigins []string
	// MaxBodyBytes caps request bodies. Defaults to 64 KiB.
	MaxBodyBytes int64
	// RotationOverlap is how long a rotated secret keeps signing beside the
	// new one when the request does not say. Defaults to 24 hours.
	RotationOverlap time.Duration
	// StatsWindow is the window of the stats the page and GET /api/stats
	// show when the request gives no since. Defaults to 24 hours.
	StatsWindow time.Duration
	// Logger receives errors the handler could not map to a client error.
	// Defaults to discarding them. Secrets are never logged.
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

//go:embed assets
var assets embed.FS

//go:embed openapi.json
var openapiDoc []byte

// OpenAPI returns the OpenAPI 3.1 document of the JSON API, as served at
// /api/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openapiDoc...) }

type handler struct {
	d    *webhook.Dispatcher
	o    Options
	page *pageRenderer
	mux  *http.ServeMux
}

// New returns the admin and customer-portal handler over d; the host mounts
// it with http.StripPrefix wherever it likes. It fails with an error
// matching webhook.ErrInvalid when the options contradict each other.
func New(d *webhook.Dispatcher, opts *Options) (http.Handler, error) {
	if d == nil {
		return nil, &webhook.ValidationError{Field: "dispatcher", Reason: "nil"}
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Portal != nil {
		if o.Tenant != nil || o.Permissions != nil {
			return nil, &webhook.ValidationError{Field: "options", Reason: "set Portal, or Tenant and Permissions, not both"}
		}
		o.Tenant, o.Permissions = o.Portal.Tenant, o.Portal.Permissions
	}
	if o.Title == "" {
		o.Title = "Webhooks"
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 10
	}
	if o.RotationOverlap < 0 || o.StatsWindow < 0 {
		return nil, &webhook.ValidationError{Field: "options", Reason: "RotationOverlap and StatsWindow must not be negative"}
	}
	if o.RotationOverlap == 0 {
		o.RotationOverlap = 24 * time.Hour
	}
	if o.StatsWindow == 0 {
		o.StatsWindow = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	seen := map[string]bool{}
	for _, et := range o.EventTypes {
		if err := webhook.ValidateEventType(et.Name); err != nil {
			return nil, err
		}
		if seen[et.Name] {
			return nil, &webhook.ValidationError{Field: "event types", Reason: fmt.Sprintf("%q is listed twice", et.Name)}
		}
		seen[et.Name] = true
		if len(et.Example) > 0 && !json.Valid(et.Example) {
			return nil, &webhook.ValidationError{Field: "event types", Reason: fmt.Sprintf("the example of %q is not valid JSON", et.Name)}
		}
		if len(et.Schema) > 0 && !json.Valid(et.Schema) {
			return nil, &webhook.ValidationError{Field: "event types", Reason: fmt.Sprintf("the schema of %q is not valid JSON", et.Name)}
		}
	}
	if len(o.WebhooksOpenAPI) > 0 && !json.Valid(o.WebhooksOpenAPI) {
		return nil, &webhook.ValidationError{Field: "webhooks OpenAPI document", Reason: "not valid JSON"}
	}
	for _, fa := range o.FrameAncestors {
		if fa == "" || strings.ContainsAny(fa, "; ,\t\r\n'") {
			return nil, &webhook.ValidationError{Field: "frame ancestors", Reason: fmt.Sprintf("%q: give a scheme://host source without spaces, commas, semicolons or quotes", fa)}
		}
	}
	cop := http.NewCrossOriginProtection()
	for _, origin := range o.TrustedOrigins {
		if err := cop.AddTrustedOrigin(origin); err != nil {
			return nil, &webhook.ValidationError{Field: "trusted origins", Reason: err.Error()}
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused: state-changing requests must come from the page's own origin")
	}))
	pr, err := newPageRenderer()
	if err != nil {
		return nil, err
	}
	h := &handler{d: d, o: o, page: pr, mux: http.NewServeMux()}
	for _, rt := range h.routes() {
		h.mux.Handle(rt.method+" "+rt.pattern, h.wrap(rt))
	}
	var out http.Handler = cop.Handler(h.mux)
	if o.Portal != nil {
		out = o.Portal.Middleware(out)
	}
	return secureHeaders(out), nil
}

// secureHeaders sets the headers every answer carries and makes sure the
// mux sees an absolute path even when the host stripped the slash too.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		if !strings.HasPrefix(r.URL.Path, "/") {
			r2 := new(http.Request)
			*r2 = *r
			u := *r.URL
			u.Path = "/" + u.Path
			u.RawPath = ""
			r2.URL = &u
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// scope is what a request may see and do.
type scope struct {
	tenant   string
	operator bool
	perms    Permissions
}

func (s scope) owns(tenant string) bool { return s.operator || tenant == s.tenant }

// route is one entry of the handler's routing table; the OpenAPI test and
// the tenant test walk the same table.
type route struct {
	method  string
	pattern string
	need    Permissions // beyond reading
	page    bool        // HTML answer instead of JSON
	serve   func(w http.ResponseWriter, r *http.Request, s scope) error
}

func (h *handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, status, msg := h.scope(r)
		if status != 0 {
			if rt.page {
				http.Error(w, msg, status)
			} else {
				writeError(w, status, msg)
			}
			return
		}
		if rt.need != 0 {
			if h.o.ReadOnly {
				writeError(w, http.StatusForbidden, "this view is read-only")
				return
			}
			if !s.perms.Has(rt.need) {
				writeError(w, http.StatusForbidden, "not permitted: this needs the "+rt.need.String()+" permission")
				return
			}
		}
		if err := checkRequestText(r); err != nil {
			if rt.page {
				http.Error(w, err.Error(), http.StatusBadRequest)
			} else {
				h.writeErr(w, r, err)
			}
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes)
		}
		if err := rt.serve(w, r, s); err != nil {
			h.writeErr(w, r, err)
		}
	})
}

func (h *handler) scope(r *http.Request) (scope, int, string) {
	s := scope{operator: h.o.Tenant == nil, perms: PermAll}
	if h.o.Tenant != nil {
		t, err := h.o.Tenant(r)
		if err != nil || t == "" {
			return s, http.StatusUnauthorized, "not signed in: open the portal through a valid link"
		}
		s.tenant = t
	}
	if h.o.Permissions != nil {
		p, err := h.o.Permissions(r)
		if err != nil {
			return s, http.StatusUnauthorized, "not signed in: open the portal through a valid link"
		}
		s.perms = p
	}
	if h.o.ReadOnly {
		s.perms = 0
	}
	if h.o.DisableSecretReveal {
		s.perms &^= PermSecrets
	}
	return s, 0, ""
}

// errTooLarge marks a request body over the cap.
var errTooLarge = errors.New("request body too large")

func (h *handler) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	var ve *webhook.ValidationError
	switch {
	case errors.As(err, &mbe) || errors.Is(err, errTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", h.o.MaxBodyBytes))
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid %s: %s", ve.Field, ve.Reason))
	case errors.Is(err, webhook.ErrInvalid), errors.Is(err, webhook.ErrPayloadTooLarge):
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "hookline: "))
	case errors.Is(err, webhook.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case errors.Is(err, webhook.ErrConflict), errors.Is(err, webhook.ErrDuplicate):
		writeError(w, http.StatusConflict, strings.TrimPrefix(err.Error(), "hookline: "))
	case errors.Is(err, webhook.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "the dispatcher is shut down")
	case r.Context().Err() != nil:
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
	default:
		h.o.Logger.ErrorContext(r.Context(), "hookline admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error; the server log has the details")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error: encoding the answer")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// list is the shape of every list answer.
type list[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

func newList[T any](data []T, next string) list[T] {
	if data == nil {
		data = []T{}
	}
	return list[T]{Data: data, NextCursor: next}
}

// badRequest is a 400 with a message saying what to fix.
func badRequest(field, format string, args ...any) error {
	return &webhook.ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// checkRequestText refuses a path or query that, unescaped, is not valid
// UTF-8 or holds a control character. No ID, tenant or cursor holds one, so
// such a request can only be wrong, and it must be answered alike whatever
// the store (Postgres cannot even compare such text).
func checkRequestText(r *http.Request) error {
	if !printable(r.URL.Path) {
		return badRequest("path", "not valid UTF-8 or holds a control character once unescaped")
	}
	for k, vs := range r.URL.Query() {
		ok := printable(k)
		for _, v := range vs {
			ok = ok && printable(v)
		}
		if !ok {
			if len(k) > 64 {
				k = k[:64]
			}
			return badRequest("query", "the parameter %q is not valid UTF-8 or holds a control character once unescaped", k)
		}
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// decode reads a JSON body into v: unknown fields, trailing data, malformed
// JSON and bytes that are not UTF-8 (which encoding/json would silently turn
// into U+FFFD) are 400s; an empty body leaves v as it is when optional.
func decode(r *http.Request, v any, optional bool) error {
	var b []byte
	var err error
	if r.Body != nil {
		b, err = io.ReadAll(r.Body)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return err
	}
	if !utf8.Valid(b) {
		return badRequest("request body", "not valid UTF-8; send JSON encoded as UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, errEOF) && optional {
			return nil
		}
		return badRequest("request body", "not the JSON this route takes: %v", err)
	}
	if dec.More() {
		return badRequest("request body", "holds more than one JSON value")
	}
	return nil
}
