package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Routing: which of a tenant's endpoints get a message beyond its event
// type. Channels are matched by the store (EndpointMatcher), filters here,
// over the publishing tenant's own message only.

// Limits on routing fields, checked like those in validate.go.
const (
	// MaxChannels is the most channels of a message or an endpoint.
	MaxChannels = 32
	// MaxChannelLength is the most bytes of one channel name; names are
	// [A-Za-z0-9_.:-].
	MaxChannelLength = 128
	// MaxFilterLength is the most bytes of an Endpoint.Filter.
	MaxFilterLength = 4096
	// MaxFormatLength is the most bytes of a Config.Formats name.
	MaxFormatLength = 64

	filterCacheCap = 4096
)

// FilterEngine compiles Endpoint.Filter expressions. Compile must refuse
// (with an error naming the position of the mistake) any expression that
// does not parse, does not type-check, or cannot evaluate to a bool. It is
// called when an endpoint is created or updated, and again on a cache miss
// at publish; it must be safe for concurrent use. The celfilter module
// implements it for CEL.
type FilterEngine interface {
	Compile(expr string) (Filter, error)
}

// Filter is a compiled expression. Match reports whether a message passes;
// an error (a missing field, a cost limit reached) means it does not. It
// must be safe for concurrent use and bound its own cost: it runs on the
// publish path.
type Filter interface {
	Match(in *FilterInput) (bool, error)
}

// FilterInput is what a filter sees: the published message, never another.
type FilterInput struct {
	Type     string
	Tenant   string
	Channels []string
	Metadata map[string]string
	// Data is the event's JSON decoded by encoding/json: map[string]any,
	// []any, string, float64, bool or nil.
	Data any
}

// Receives reports whether the endpoint wants a message with these
// channels: it lists none, or one of them. Type, enabled state and filter
// aside.
func (ep *Endpoint) Receives(channels []string) bool {
	if len(ep.Channels) == 0 {
		return true
	}
	for _, c := range channels {
		if slices.Contains(ep.Channels, c) {
			return true
		}
	}
	return false
}

// MatchQuery is what EndpointMatcher matches: a tenant's enabled endpoints
// subscribed to EventType (Endpoint.Subscribes) that take Channels
// (Endpoint.Receives).
type MatchQuery struct {
	Tenant    string
	EventType string
	Channels  []string
}

// validateChannels checks a list of channel names.
func validateChannels(field string, cs []string) error {
	if len(cs) > MaxChannels {
		return invalid(field, "%d entries; at most %d", len(cs), MaxChannels)
	}
	for _, c := range cs {
		if c == "" || len(c) > MaxChannelLength {
			return invalid(field, "%q: 1 to %d characters", c, MaxChannelLength)
		}
		for i := 0; i < len(c); i++ {
			b := c[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.' || b == ':') {
				return invalid(field, "%q may hold only letters, digits and _ - . :", c)
			}
		}
	}
	return nil
}

// validateRouting checks an endpoint's channels, filter and format.
func (d *Dispatcher) validateRouting(ep *Endpoint) error {
	if err := validateChannels("channels", ep.Channels); err != nil {
		return err
	}
	if ep.Format != "" {
		if _, ok := d.cfg.Formats[ep.Format]; !ok {
			return invalid("format", "%q is not registered; use one of %v (Config.Formats) or \"\" for the default", ep.Format, d.FormatNames())
		}
	}
	if ep.Filter == "" {
		return nil
	}
	if err := validateText("filter", ep.Filter, MaxFilterLength); err != nil {
		return err
	}
	if d.cfg.Filter == nil {
		return invalid("filter", "no filter engine is configured; set Config.Filter (for example celfilter.New()) or leave the filter empty")
	}
	if _, err := d.filters.get(ep.Filter); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return ve
		}
		return invalid("filter", "%v", err)
	}
	return nil
}

// filterCache keeps compiled filters by expression. It is bounded: when
// full it starts afresh (expressions are few; this only stops a flood of
// distinct ones from growing it without end).
type filterCache struct {
	eng FilterEngine
	mu  sync.Mutex
	m   map[string]Filter
}

func (c *filterCache) get(expr string) (Filter, error) {
	c.mu.Lock()
	f, ok := c.m[expr]
	c.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := c.eng.Compile(expr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= filterCacheCap {
		c.m = make(map[string]Filter)
	}
	c.m[expr] = f
	c.mu.Unlock()
	return f, nil
}

// filterEval evaluates the filters of one message's endpoints, decoding the
// event's data at most once.
type filterEval struct {
	d       *Dispatcher
	msg     *Message
	data    json.RawMessage
	in      *FilterInput
	decoded bool
}

// match reports whether ep's filter lets the message through. A filter
// that fails to compile or to evaluate, or panics, lets nothing through and
// is logged (endpoint, message and error; never the payload).
func (fe *filterEval) match(ctx context.Context, ep *Endpoint) (ok bool) {
	if ep.Filter == "" {
		return true
	}
	fail := func(err error) bool {
		fe.d.log.WarnContext(ctx, "hookline: endpoint filter failed; no delivery", "endpoint_id", ep.ID,
			"message_id", fe.msg.ID, "event_type", fe.msg.Type, "error", err)
		return false
	}
	if fe.d.cfg.Filter == nil {
		return fail(errors.New("no Config.Filter to evaluate it"))
	}
	defer func() {
		if r := recover(); r != nil {
			ok = fail(fmt.Errorf("filter panicked: %v", r))
		}
	}()
	f, err := fe.d.filters.get(ep.Filter)
	if err != nil {
		return fail(err)
	}
	if !fe.decoded {
		fe.decoded = true
		fe.in = &FilterInput{Type: fe.msg.Type, Tenant: fe.msg.Tenant, Channels: fe.msg.Channels, Metadata: fe.msg.Metadata}
		if err := json.Unmarshal(fe.data, &fe.in.Data); err != nil {
			fe.in.Data = nil
		}
	}
	if fe.msg.Tenant != ep.Tenant { // never evaluate one tenant's filter over another's message
		return false
	}
	ok, err = f.Match(fe.in)
	if err != nil {
		return fail(err)
	}
	return ok
}

// route returns the endpoints whose channels and filter take msg (whose
// data is the event's JSON): eps itself when none has either.
func (d *Dispatcher) route(ctx context.Context, msg *Message, data json.RawMessage, eps []*Endpoint) []*Endpoint {
	plain := 0
	for _, ep := range eps {
		if ep.Filter == "" && len(ep.Channels) == 0 && ep.Tenant == msg.Tenant {
			plain++
		}
	}
	if plain == len(eps) { // no routing beyond the type: nothing to allocate
		return eps
	}
	fe := &filterEval{d: d, msg: msg, data: data}
	out := make([]*Endpoint, 0, len(eps))
	for _, ep := range eps {
		if ep.Tenant == msg.Tenant && ep.Receives(msg.Channels) && fe.match(ctx, ep) {
			out = append(out, ep)
		}
	}
	return out
}

// EventData returns the event's JSON of a stored message: Data when kept,
// else the "data" member of a Standard Webhooks Payload.
func (m *Message) EventData() (json.RawMessage, error) {
	if m.Data != nil {
		return m.Data, nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(m.Payload, &env); err != nil || env.Data == nil {
		return nil, fmt.Errorf("hookline: message %s keeps no event data and its payload has no \"data\" member", m.ID)
	}
	return env.Data, nil
}
