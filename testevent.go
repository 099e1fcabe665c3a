package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// TestEventType is the event type of SendTest's sample event.
const TestEventType = "webhook.test"

// SendTest sends a signed sample event (type "webhook.test") to one
// endpoint at once, enabled or not, and returns the attempt. The message,
// its delivery and the attempt are stored like any other, so the test shows
// in the endpoint's log; it is not retried. It is SendTestEvent with a
// built-in event, which Config.Events need not list: the request carries
// Hookline-Test: true and the message hookline.test=true.
//
// On an Ordered endpoint the test event is ordered too, in the queue of
// messages without an OrderingKey: if a delivery of that queue is ahead of
// it, SendTest sends nothing now and returns an error matching
// ErrConflict naming that delivery; the test goes out after it, through
// the workers.
func (d *Dispatcher) SendTest(ctx context.Context, endpointID string) (*Attempt, error) {
	data, _ := json.Marshal(map[string]string{"endpoint_id": endpointID, "message": "This is a test event from hookline."})
	return d.sendTest(ctx, endpointID, TestEventType, data)
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
	return d.sendTest(ctx, endpointID, typ, data)
}

// sendTest stores a test message of type typ with data, and one delivery
// to the endpoint, and sends it at once: the steps SendTest and
// SendTestEvent share once the event is checked.
func (d *Dispatcher) sendTest(ctx context.Context, endpointID, typ string, data json.RawMessage) (*Attempt, error) {
	if d.closed.Load() {
		return nil, ErrClosed
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
	setOrdered(del, ep, msg)
	if err := d.store.InsertMessage(ctx, msg, []*Delivery{del}); err != nil {
		return nil, err
	}
	c, err := d.store.ClaimDelivery(ctx, del.ID, ClaimParams{Owner: d.owner, Now: d.cfg.Now(), Lease: d.cfg.Lease})
	if err != nil {
		if del.Ordered {
			return nil, d.testQueued(ctx, del, err)
		}
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

// testQueued handles a test event to an Ordered endpoint that could not go
// out at once: it waits in the endpoint's queue without a key, behind an
// earlier delivery. It is made due now, so it goes out in its turn through
// the workers like any delivery, and the error says so.
func (d *Dispatcher) testQueued(ctx context.Context, del *Delivery, cause error) error {
	if _, err := d.store.Requeue(ctx, RequeueParams{DeliveryID: del.ID, At: d.cfg.Now()}); err != nil {
		return fmt.Errorf("hookline: the test event (delivery %s) could not be sent now (%v) nor queued: %w", del.ID, cause, err)
	}
	ahead := "an earlier delivery"
	if got, err := d.store.GetDelivery(ctx, del.ID); err == nil && got.WaitingFor != "" {
		ahead = "delivery " + got.WaitingFor
	}
	d.wakeUp()
	return fmt.Errorf("%w: endpoint %s is ordered and %s is ahead of the test event in its queue; "+
		"the test (delivery %s) goes out after it", ErrConflict, del.EndpointID, ahead, del.ID)
}
