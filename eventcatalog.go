package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"
)

// EventCatalog is the list of event types a host declares, with a schema
// for each. Set Config.Events to one to make Publish strict: it then
// refuses an event type the catalog does not list and a RawEvent whose JSON
// does not match its type's schema. Typed events are checked for their type
// only: their JSON comes from their Go type, from which the catalog's
// schema was generated. The catalog module
// (github.com/hookline/webhook/catalog) implements it; so can a host's own
// type.
//
// Both methods are called on every Publish and must be safe for concurrent
// use.
type EventCatalog interface {
	// HasEventType reports whether eventType is in the catalog.
	HasEventType(eventType string) bool
	// ValidateEventData checks data, the JSON of a RawEvent of eventType,
	// against the type's schema. A mismatch is best a *ValidationError
	// naming the failing JSON path; any other error is wrapped in one.
	ValidateEventData(eventType string, data json.RawMessage) error
}

// checkCatalog applies Config.Events to an event about to be published:
// data is its marshalled JSON. Nil when no catalog is set.
func (d *Dispatcher) checkCatalog(ev Event, typ string, data json.RawMessage) error {
	cat := d.cfg.Events
	if cat == nil {
		return nil
	}
	if !cat.HasEventType(typ) {
		return invalid("event type", "%q is not in the event catalog (Config.Events): register it there, or publish a listed type", typ)
	}
	switch ev.(type) {
	case RawEvent, *RawEvent:
	default:
		return nil
	}
	err := cat.ValidateEventData(typ, data)
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return err
	}
	return &ValidationError{Field: "event data", Reason: fmt.Sprintf("does not match the schema of %s: %v", typ, err)}
}

// Test events are marked so receivers and the log can tell them apart.
const (
	// HeaderTest is set to "true" on the request of a test event
	// (SendTest, SendTestEvent), beside the usual signed headers.
	HeaderTest = "Hookline-Test"
	// MetadataTest is the Message.Metadata key set to "true" on the
	// message of a test event.
	MetadataTest = "hookline.test"
)

// SendTestEvent sends ev to one endpoint at once as a test, enabled or not,
// and returns the attempt: typically a catalog's example of a chosen type,
// so a receiver sees what that type's deliveries look like. The request is
// signed like any delivery and carries the header Hookline-Test: true; the
// message, stored with metadata hookline.test=true, its delivery and the
// attempt show in the endpoint's log like any other. It goes to this
// endpoint only (not to the tenant's other subscribers), whatever types the
// endpoint subscribes to, and is not retried.
//
// ev is checked as Publish checks it (a valid type, JSON within
// Config.MaxPayloadSize, and Config.Events when set): bad input returns an
// error matching ErrInvalid and sends nothing. An unknown endpoint is
// ErrNotFound.
func (d *Dispatcher) SendTestEvent(ctx context.Context, endpointID string, ev Event) (*Attempt, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	if ev == nil {
		return nil, invalid("event", "nil; pass the event to send as a test")
	}
	typ := ev.EventType()
	if err := ValidateEventType(typ); err != nil {
		return nil, err
	}
	data, err := d.marshal(ev)
	if err != nil {
		return nil, err
	}
	if err := d.checkCatalog(ev, typ, data); err != nil {
		return nil, err
	}
	ep, err := d.store.GetEndpoint(ctx, endpointID)
	if err != nil {
		return nil, err
	}
	now := d.cfg.Now().UTC()
	msg := &Message{ID: d.ids.newID("msg_"), Tenant: ep.Tenant, Type: typ, Metadata: map[string]string{MetadataTest: "true"}, CreatedAt: now}
	if msg.Payload, err = d.cfg.Envelope(msg, data); err != nil {
		return nil, fmt.Errorf("%w: the envelope failed: %v", ErrInvalid, err)
	}
	del := &Delivery{
		ID: d.ids.newID("dlv_"), MessageID: msg.ID, EndpointID: ep.ID, Tenant: ep.Tenant, EventType: typ,
		// Due in a day: the workers leave it alone while this call sends it.
		State: StatePending, NextAttemptAt: now.Add(24 * time.Hour), CreatedAt: now, UpdatedAt: now,
	}
	if err := d.store.InsertMessage(ctx, msg, []*Delivery{del}); err != nil {
		return nil, err
	}
	c, err := d.store.ClaimDelivery(ctx, del.ID, ClaimParams{Owner: d.owner, Now: d.cfg.Now(), Lease: d.cfg.Lease})
	if err != nil {
		return nil, err
	}
	// A copy of the endpoint, disabled or not, with the test header: the
	// request carries the endpoint's own headers the same way.
	test := *ep
	test.Headers = maps.Clone(ep.Headers)
	if test.Headers == nil {
		test.Headers = map[string]string{}
	}
	test.Headers[HeaderTest] = "true"
	c.Endpoint = &test
	a := d.send(ctx, c, d.cfg.Now())
	if a == nil {
		return nil, ctx.Err()
	}
	state := StateFailed
	if a.Succeeded() {
		state = StateSucceeded
	}
	out := *a // the store may keep a itself
	if _, err := d.store.Record(ctx, []Record{{DeliveryID: del.ID, Lease: c.Lease, Now: d.cfg.Now(), Attempt: a, State: state}}); err != nil {
		return &out, err
	}
	return &out, nil
}
