package webhook

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// reservedHeaders cannot be set as an endpoint's static headers.
var reservedHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Host": true, "User-Agent": true,
	"Webhook-Id": true, "Webhook-Timestamp": true, "Webhook-Signature": true,
	"Hookline-Event-Type": true, "Hookline-Attempt": true, "Transfer-Encoding": true, "Connection": true,
}

// ValidateURL checks an endpoint URL the way CreateEndpoint does: absolute,
// https (http only with allowHTTP), with a host, no user info or fragment,
// and, unless allowPrivate, not an IP literal or name of a private,
// loopback, link-local or other special-purpose address.
func ValidateURL(raw string, allowHTTP, allowPrivate bool) error {
	g := addrGuard{allowAll: allowPrivate}
	return g.validateURL(raw, allowHTTP)
}

func (g *addrGuard) validateURL(raw string, allowHTTP bool) error {
	if raw == "" {
		return invalid("url", "empty; give the receiver's absolute https:// URL")
	}
	if len(raw) > MaxURLLength {
		return invalid("url", "longer than %d bytes", MaxURLLength)
	}
	if err := checkName("url", "", raw); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid("url", "%q does not parse: %v", raw, err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return invalid("url", "%q uses http; use https (or set Config.AllowHTTP for local development)", raw)
		}
	default:
		return invalid("url", "%q: want an absolute https:// URL", raw)
	}
	host := u.Hostname()
	if host == "" {
		return invalid("url", "%q has no host", raw)
	}
	if err := checkName("url", "the host ", host); err != nil {
		return err
	}
	if u.User != nil {
		return invalid("url", "%q holds user info; put credentials in the endpoint's headers instead", raw)
	}
	if u.Fragment != "" {
		return invalid("url", "%q has a fragment, which is never sent", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := netipPort(p); err != nil || n == 0 {
			return invalid("url", "%q has an invalid port", raw)
		}
	}
	if g.allowAll {
		return nil
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if !g.allows(a) {
			return &ValidationError{Field: "url", Reason: "host " + a.String() + " is not allowed: " + ErrAddressNotAllowed.Error()}
		}
		return nil
	}
	lh := strings.ToLower(strings.TrimSuffix(host, "."))
	if lh == "localhost" || strings.HasSuffix(lh, ".localhost") {
		return &ValidationError{Field: "url", Reason: "host " + host + " is not allowed: " + ErrAddressNotAllowed.Error()}
	}
	return nil
}

func netipPort(p string) (uint16, error) {
	ap, err := netip.ParseAddrPort("0.0.0.0:" + p)
	return ap.Port(), err
}

// validateEndpoint checks the fields a caller sets.
func (d *Dispatcher) validateEndpoint(ep *Endpoint) error {
	if ep == nil {
		return invalid("endpoint", "nil")
	}
	if err := d.guard.validateURL(ep.URL, d.cfg.AllowHTTP); err != nil {
		return err
	}
	if err := validateTenant(ep.Tenant); err != nil {
		return err
	}
	if err := validateText("description", ep.Description, MaxDescriptionLength); err != nil {
		return err
	}
	if err := validateText("disabled reason", ep.DisabledReason, MaxDescriptionLength); err != nil {
		return err
	}
	if len(ep.EventTypes) > MaxEventTypes {
		return invalid("event types", "%d entries; at most %d", len(ep.EventTypes), MaxEventTypes)
	}
	for _, t := range ep.EventTypes {
		if t == "*" {
			continue
		}
		if err := ValidateEventType(strings.TrimSuffix(t, ".*")); err != nil {
			return invalid("event types", "%s: an event type, a prefix ending in \".*\", or \"*\"", clip(t))
		}
	}
	if len(ep.Headers) > MaxHeaders {
		return invalid("headers", "%d entries; at most %d", len(ep.Headers), MaxHeaders)
	}
	for k, v := range ep.Headers {
		if len(k)+len(v) > MaxHeaderEntry {
			return invalid("headers", "%s is %d bytes, name and value together; at most %d", clip(k), len(k)+len(v), MaxHeaderEntry)
		}
		if !validHeaderName(k) {
			return invalid("headers", "%s is not a valid header name", clip(k))
		}
		if reservedHeaders[http.CanonicalHeaderKey(k)] {
			return invalid("headers", "%q is set by hookline and cannot be replaced", k)
		}
		if !validHeaderValue(v) {
			return invalid("headers", "the value of %q holds a control character or invalid UTF-8", k)
		}
	}
	if err := validateRateLimit(ep.RateLimit); err != nil {
		return err
	}
	if err := validateMetadata(ep.Metadata); err != nil {
		return err
	}
	if ep.Secret != "" {
		if _, err := decodeSecret(ep.Secret); err != nil {
			return invalid("secret", "want whsec_ followed by base64 key bytes (or leave it empty to have one made)")
		}
	}
	if ep.SigningKey != "" {
		if _, err := decodeSigningKey(ep.SigningKey); err != nil {
			return invalid("signing key", "want whsk_ followed by a base64 ed25519 private key (see NewSigningKey), or empty for v1 signatures only")
		}
	}
	return d.validateRouting(ep)
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// CreateEndpoint validates ep and stores it, filling in ep.ID (when empty),
// ep.Secret (when empty: a new whsec_ secret) and its times. Bad input
// returns an error matching ErrInvalid and stores nothing.
func (d *Dispatcher) CreateEndpoint(ctx context.Context, ep *Endpoint) error {
	if err := d.validateEndpoint(ep); err != nil {
		return err
	}
	if ep.ID != "" && !validID(ep.ID) {
		return invalid("endpoint ID", "%q: use 1 to %d characters of A-Z, a-z, 0-9, _ and -", ep.ID, maxIDLen)
	}
	c := *ep
	if c.ID == "" {
		c.ID = d.ids.newID("ep_")
	}
	if c.Secret == "" {
		c.Secret = NewSecret()
	}
	now := d.cfg.Now().UTC()
	c.CreatedAt, c.UpdatedAt = now, now
	if !c.Disabled {
		c.DisabledReason = ""
	}
	if err := d.store.CreateEndpoint(ctx, &c); err != nil {
		return err
	}
	*ep = c
	return nil
}

// GetEndpoint returns an endpoint, secret included.
func (d *Dispatcher) GetEndpoint(ctx context.Context, id string) (*Endpoint, error) {
	if err := lookupID("endpoint", id); err != nil {
		return nil, err
	}
	return d.store.GetEndpoint(ctx, id)
}

// ListEndpoints lists endpoints in ID order (creation order for generated
// IDs), a page at a time.
func (d *Dispatcher) ListEndpoints(ctx context.Context, q EndpointQuery) ([]*Endpoint, string, error) {
	if err := validateTenant(q.Tenant); err != nil {
		return nil, "", err
	}
	if err := checkName("cursor", "", q.Cursor); err != nil {
		return nil, "", err
	}
	return d.store.ListEndpoints(ctx, q)
}

// UpdateEndpoint replaces an endpoint's URL, Description, EventTypes,
// Channels, Filter, Format, Headers, RateLimit, Metadata, SigningKey,
// Ordered and Disabled state with ep's (matched by ep.ID) after validating them. An
// empty SigningKey keeps the current one (SetSigningKey turns v1a signatures off). Tenant, CreatedAt
// and FailingSince cannot change (enabling a disabled endpoint clears
// FailingSince and its breaker, as EnableEndpoint does); an empty
// Secret keeps the current one (use RotateSecret to change it); it returns
// the stored result in ep. Turning Ordered on applies to deliveries
// created from then on; turning it off releases the deliveries waiting in
// its queues at once (they go out unordered).
func (d *Dispatcher) UpdateEndpoint(ctx context.Context, ep *Endpoint) error {
	if ep == nil {
		return invalid("endpoint", "nil")
	}
	cur, err := d.GetEndpoint(ctx, ep.ID)
	if err != nil {
		return err
	}
	c := *ep
	c.Tenant = cur.Tenant
	if err := d.validateEndpoint(&c); err != nil {
		return err
	}
	if c.Secret == "" {
		c.Secret = cur.Secret
	}
	if c.SigningKey == "" {
		c.SigningKey = cur.SigningKey
	}
	if c.Secret == cur.Secret {
		c.PreviousSecret, c.PreviousSecretExpiresAt = cur.PreviousSecret, cur.PreviousSecretExpiresAt
	}
	if !c.Disabled {
		c.DisabledReason = ""
	}
	c.FailingSince = cur.FailingSince
	enabled := cur.Disabled && !c.Disabled
	if enabled {
		c.FailingSince = time.Time{}
	}
	c.CreatedAt = cur.CreatedAt
	c.UpdatedAt = d.cfg.Now().UTC()
	if err := d.store.UpdateEndpoint(ctx, &c); err != nil {
		return err
	}
	if enabled {
		d.health.reset(c.ID)
	}
	*ep = c
	return nil
}

// DeleteEndpoint deletes an endpoint with its deliveries and their attempts.
func (d *Dispatcher) DeleteEndpoint(ctx context.Context, id string) error {
	if err := lookupID("endpoint", id); err != nil {
		return err
	}
	if err := d.store.DeleteEndpoint(ctx, id); err != nil {
		return err
	}
	d.health.reset(id)
	return nil
}

// EnableEndpoint enables an endpoint and clears its disabled reason and its
// failure state (FailingSince, and this dispatcher's circuit breaker and
// back-pressure for it). Its deliveries that failed while it was disabled
// stay failed: recover them with RetryFailed.
func (d *Dispatcher) EnableEndpoint(ctx context.Context, id string) error {
	err := d.modifyEndpoint(ctx, id, func(ep *Endpoint) {
		ep.Disabled, ep.DisabledReason, ep.FailingSince = false, "", time.Time{}
	})
	if err == nil {
		d.health.reset(id)
	}
	return err
}

// DisableEndpoint disables an endpoint with a reason shown to operators. It
// gets no new deliveries; its pending deliveries fail (without an attempt,
// with the reason as their last error) when they come due, and are kept:
// recover them with RetryFailed once it is enabled again. The dispatcher
// disables endpoints by itself the same way (410 Gone, auto-disable).
func (d *Dispatcher) DisableEndpoint(ctx context.Context, id, reason string) error {
	if err := validateText("reason", reason, MaxDescriptionLength); err != nil {
		return err
	}
	return d.modifyEndpoint(ctx, id, func(ep *Endpoint) {
		ep.Disabled, ep.DisabledReason = true, reason
	})
}

// RotateSecret gives the endpoint a new secret and returns the endpoint.
// During overlap the previous secret keeps signing beside the new one (the
// webhook-signature header then holds both), so receivers can switch
// without refusing a delivery; overlap 0 retires it at once.
func (d *Dispatcher) RotateSecret(ctx context.Context, id string, overlap time.Duration) (*Endpoint, error) {
	if overlap < 0 {
		return nil, invalid("overlap", "negative")
	}
	var out *Endpoint
	err := d.modifyEndpoint(ctx, id, func(ep *Endpoint) {
		if overlap > 0 {
			ep.PreviousSecret, ep.PreviousSecretExpiresAt = ep.Secret, d.cfg.Now().Add(overlap).UTC()
		} else {
			ep.PreviousSecret, ep.PreviousSecretExpiresAt = "", time.Time{}
		}
		ep.Secret = NewSecret()
		out = ep
	})
	return out, err
}

// SetSigningKey sets the endpoint's ed25519 signing key ("whsk_...", see
// NewSigningKey), so its deliveries carry a v1a signature beside the v1
// one, and returns the endpoint; an empty key turns v1a signatures off. A
// malformed key returns an error matching ErrInvalid and changes nothing.
func (d *Dispatcher) SetSigningKey(ctx context.Context, id, key string) (*Endpoint, error) {
	if key != "" {
		if _, err := decodeSigningKey(key); err != nil {
			return nil, invalid("signing key", "want whsk_ followed by a base64 ed25519 private key (see NewSigningKey), or empty to turn v1a off")
		}
	}
	var out *Endpoint
	err := d.modifyEndpoint(ctx, id, func(ep *Endpoint) {
		ep.SigningKey = key
		out = ep
	})
	return out, err
}

func (d *Dispatcher) modifyEndpoint(ctx context.Context, id string, f func(*Endpoint)) error {
	ep, err := d.GetEndpoint(ctx, id)
	if err != nil {
		return err
	}
	f(ep)
	ep.UpdatedAt = d.cfg.Now().UTC()
	return d.store.UpdateEndpoint(ctx, ep)
}
