package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"time"
)

// prepare validates a publish and builds the message and its deliveries.
func (d *Dispatcher) prepare(pctx *publishCtx, ev Event, opts *PublishOpts) (*Message, []*Delivery, error) {
	if ev == nil {
		return nil, nil, invalid("event", "nil; pass a value with an EventType method")
	}
	if v := reflect.ValueOf(ev); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, nil, invalid("event", "nil %T; pass a value with an EventType method", ev)
	}
	var o PublishOpts
	if opts != nil {
		o = *opts
	}
	typ := ev.EventType()
	if err := ValidateEventType(typ); err != nil {
		return nil, nil, err
	}
	if o.ID != "" && !validID(o.ID) {
		return nil, nil, invalid("message ID", "%q: use 1 to %d characters of A-Z, a-z, 0-9, _ and - (no full stop: the ID is signed)", o.ID, maxIDLen)
	}
	if err := validateTenant(o.Tenant); err != nil {
		return nil, nil, err
	}
	if err := validateMetadata(o.Metadata); err != nil {
		return nil, nil, err
	}
	if err := validateChannels("channels", o.Channels); err != nil {
		return nil, nil, err
	}
	if err := validateOrderingKey(o.OrderingKey); err != nil {
		return nil, nil, err
	}
	data, err := d.marshal(ev)
	if err != nil {
		return nil, nil, err
	}
	if err := d.checkCatalog(ev, typ, data); err != nil {
		return nil, nil, err
	}
	now := d.cfg.Now().UTC()
	msg := &Message{ID: o.ID, Tenant: o.Tenant, Type: typ, Metadata: o.Metadata, Channels: slices.Clone(o.Channels),
		OrderingKey: o.OrderingKey, CreatedAt: now}
	if msg.ID == "" {
		msg.ID = d.ids.newID("msg_")
	}
	if err := d.beforePublish(pctx, msg); err != nil {
		return nil, nil, err
	}
	payload, err := d.cfg.Envelope(msg, data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the envelope failed: %v", ErrInvalid, err)
	}
	msg.Payload = payload
	if d.keepData {
		msg.Data = data
	}

	eps, err := d.matchFor(pctx, MatchQuery{Tenant: o.Tenant, EventType: typ, Channels: msg.Channels})
	if err != nil {
		return nil, nil, err
	}
	eps = d.route(pctx.ctx, msg, data, eps)
	ds := make([]*Delivery, len(eps))
	all := make([]Delivery, len(eps))
	for i, ep := range eps {
		all[i] = Delivery{
			ID: d.ids.newID("dlv_"), MessageID: msg.ID, EndpointID: ep.ID, Tenant: msg.Tenant, EventType: typ,
			State: StatePending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		}
		setOrdered(&all[i], ep, msg)
		ds[i] = &all[i]
	}
	return msg, ds, nil
}

// setOrdered puts a new delivery of msg to ep in its queue when ep is
// Ordered: every path that builds deliveries (publish, batch, replay, test
// events) calls it.
func setOrdered(del *Delivery, ep *Endpoint, msg *Message) {
	if ep.Ordered {
		del.Ordered, del.OrderingKey = true, msg.OrderingKey
	}
}

// marshal turns an event into its JSON, checking size and validity.
func (d *Dispatcher) marshal(ev Event) (json.RawMessage, error) {
	var data []byte
	switch e := ev.(type) {
	case RawEvent:
		data = e.Data
	case *RawEvent:
		if e == nil {
			return nil, invalid("event", "nil *RawEvent")
		}
		data = e.Data
	default:
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, &ValidationError{Field: "event", Reason: "cannot be marshalled to JSON: " + err.Error()}
		}
		data = b
	}
	if len(data) > d.cfg.MaxPayloadSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d (Config.MaxPayloadSize)", ErrPayloadTooLarge, len(data), d.cfg.MaxPayloadSize)
	}
	if len(data) == 0 || !json.Valid(data) {
		return nil, invalid("event data", "not valid JSON")
	}
	if _, ok := ev.(RawEvent); ok {
		data = bytes.Clone(data) // the caller may reuse its buffer
	}
	return data, nil
}

// subscribers returns the tenant's enabled endpoints that want q's type and
// channels.
func (d *Dispatcher) subscribers(ctx context.Context, q MatchQuery) ([]*Endpoint, error) {
	tenant, typ := q.Tenant, q.EventType
	if m, ok := d.store.(EndpointMatcher); ok {
		eps, err := m.MatchEndpoints(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("hookline: finding subscribed endpoints: %w", err)
		}
		return eps, nil
	}
	var out []*Endpoint
	lq := EndpointQuery{Tenant: tenant, EnabledOnly: true, Limit: 1000}
	for {
		eps, next, err := d.store.ListEndpoints(ctx, lq)
		if err != nil {
			return nil, fmt.Errorf("hookline: listing endpoints: %w", err)
		}
		for _, ep := range eps {
			if !ep.Disabled && ep.Tenant == tenant && ep.Subscribes(typ) && ep.Receives(q.Channels) {
				out = append(out, ep)
			}
		}
		if next == "" {
			return out, nil
		}
		lq.Cursor = next
	}
}

// Publish stores ev as a Message for opts.Tenant, with one Delivery per
// enabled endpoint of that tenant subscribed to its type, in one atomic
// step, and wakes a worker. A message with no subscriber is stored too (so
// it can be looked up), with no delivery. An endpoint deleted while the
// publish runs gets no delivery; the publish succeeds all the same.
//
// Message IDs are global, not per tenant: the ID is the webhook-id a
// receiver dedupes on, and one receiver may serve several tenants.
// Publishing an ID the same tenant stored already stores nothing and
// returns the message stored first, with a nil error: publish is
// idempotent on PublishOpts.ID. An ID taken by another tenant's message
// stores nothing and returns an error matching ErrConflict that tells
// nothing of that message; make IDs unique across tenants (prefix them
// with the tenant, for example).
//
// An error means nothing was stored, with one exception: an error matching
// ErrOutcomeUnknown (the store's answer was lost after its write was sent)
// may leave the message stored or not; publish again with the same ID.
// Bad input returns an error matching ErrInvalid (or ErrPayloadTooLarge);
// after Shutdown it returns ErrClosed; a ctx that ends before the store
// write returns ctx's error, and one that ends during it does not cut the
// write short (for pgstore: see its Options.InsertTimeout). Publish works
// before Start: deliveries wait for the workers.
func (d *Dispatcher) Publish(ctx context.Context, ev Event, opts *PublishOpts) (*Message, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	pctx := &publishCtx{ctx: ctx}
	msg, ds, err := d.prepare(pctx, ev, opts)
	var first *Message
	if err == nil {
		first, err = d.insert(pctx.ctx, msg, ds, d.store.InsertMessage)
	}
	d.afterPublish(pctx, len(ds), err)
	if first != nil && errors.Is(err, ErrDuplicate) {
		return first, nil
	}
	if err != nil {
		return nil, err
	}
	if len(ds) > 0 {
		d.wakeUp()
	}
	return msg, nil
}

// insert runs a publish's store write, unless ctx has ended already. On
// ErrDuplicate it returns the message stored first with that error, or, if
// that message is another tenant's, a conflict instead (the Store contract
// says ErrDuplicate is for the same tenant's ID only; the check here keeps
// a store written before that rule from handing out another tenant's
// message).
func (d *Dispatcher) insert(ctx context.Context, msg *Message, ds []*Delivery,
	write func(context.Context, *Message, []*Delivery) error) (*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hookline: nothing stored: %w", err)
	}
	err := write(ctx, msg, ds)
	if !errors.Is(err, ErrDuplicate) {
		return nil, err
	}
	first, gerr := d.store.GetMessage(ctx, msg.ID)
	switch {
	case gerr == nil && first.Tenant != msg.Tenant:
		return nil, MessageIDTaken(msg.ID)
	case errors.Is(gerr, ErrNotFound): // PublishTx: stored earlier in the same transaction
		return nil, err
	case gerr != nil:
		return nil, fmt.Errorf("%w; looking up the message stored first failed: %v", err, gerr)
	}
	return first, err
}

// MessageIDTaken is the error for a publish whose message ID another
// tenant's message holds: it matches ErrConflict, says what to do, and
// names nothing of the other message (no tenant, type or payload). Stores
// return it from InsertMessage in that case, as the Store contract asks.
func MessageIDTaken(id string) error {
	return fmt.Errorf("%w: message ID %q is taken by another tenant's message; message IDs are global "+
		"(they are the webhook-id receivers dedupe on): make them unique across tenants, for example by prefixing the tenant",
		ErrConflict, id)
}

// PublishTx is Publish inside the caller's transaction tx: the message and
// its deliveries commit or roll back with the caller's own writes, and are
// delivered only once committed. The store must implement TxInserter[TTx]
// for tx's type (pgstore implements TxInserter[pgx.Tx]); otherwise it
// returns ErrTxUnsupported naming both types.
//
// A duplicate ID of the same tenant returns ErrDuplicate, since the
// transaction is then the caller's to roll back or go on with; an ID taken
// by another tenant's message returns ErrConflict, as Publish does. What
// is stored is decided by the caller's commit, not by PublishTx: an error
// from PublishTx means the message is not part of the transaction (with
// pgstore the transaction is then aborted, so roll it back), and a ctx that
// ends during the write makes the transaction fail rather than commit half
// of it. ErrOutcomeUnknown does not arise here; if the caller's own commit
// fails with an unknown outcome (its connection died after COMMIT was
// sent), publishing again with the same ID is the safe answer, as for
// Publish.
func PublishTx[TTx any](ctx context.Context, d *Dispatcher, tx TTx, ev Event, opts *PublishOpts) (*Message, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	ti, ok := d.store.(TxInserter[TTx])
	if !ok {
		return nil, fmt.Errorf("%w: %T implements no TxInserter[%v]; pass the transaction as the type the store takes (pgstore: pgx.Tx)",
			ErrTxUnsupported, d.store, reflect.TypeFor[TTx]())
	}
	pctx := &publishCtx{ctx: ctx}
	msg, ds, err := d.prepare(pctx, ev, opts)
	if err == nil {
		_, err = d.insert(pctx.ctx, msg, ds, func(ctx context.Context, msg *Message, ds []*Delivery) error {
			return ti.InsertMessageTx(ctx, tx, msg, ds)
		})
	}
	d.afterPublish(pctx, len(ds), err)
	if err != nil {
		return nil, err
	}
	return msg, nil
}

// GetMessage returns a stored message.
func (d *Dispatcher) GetMessage(ctx context.Context, id string) (*Message, error) {
	if err := lookupID("message", id); err != nil {
		return nil, err
	}
	return d.store.GetMessage(ctx, id)
}

// GetDelivery returns a delivery.
func (d *Dispatcher) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	if err := lookupID("delivery", id); err != nil {
		return nil, err
	}
	return d.store.GetDelivery(ctx, id)
}

// ListDeliveries lists deliveries matching q, newest first, a page at a
// time: pass the returned cursor as q.Cursor for the next page.
func (d *Dispatcher) ListDeliveries(ctx context.Context, q DeliveryQuery) ([]*Delivery, string, error) {
	if q.State != "" && !q.State.Valid() {
		return nil, "", invalid("state", "%q; use pending, succeeded or failed", q.State)
	}
	if err := checkNames("tenant", q.Tenant, "endpoint ID", q.EndpointID, "message ID", q.MessageID, "cursor", q.Cursor); err != nil {
		return nil, "", err
	}
	if err := validateTime("since", q.Since); err != nil {
		return nil, "", err
	}
	if err := validateTime("until", q.Until); err != nil {
		return nil, "", err
	}
	return d.store.ListDeliveries(ctx, q)
}

// ListAttempts lists the attempts of a delivery (q.DeliveryID) or of an
// endpoint (q.EndpointID), oldest first.
func (d *Dispatcher) ListAttempts(ctx context.Context, q AttemptQuery) ([]*Attempt, string, error) {
	if q.DeliveryID == "" && q.EndpointID == "" {
		return nil, "", invalid("attempt query", "give a delivery ID or an endpoint ID")
	}
	if err := checkNames("delivery ID", q.DeliveryID, "endpoint ID", q.EndpointID, "cursor", q.Cursor); err != nil {
		return nil, "", err
	}
	return d.store.ListAttempts(ctx, q)
}

// Stats summarises deliveries and attempts; see Store.Stats.
func (d *Dispatcher) Stats(ctx context.Context, q StatsQuery) (*Stats, error) {
	if err := checkNames("endpoint ID", q.EndpointID, "tenant", q.Tenant); err != nil {
		return nil, err
	}
	if err := validateTime("since", q.Since); err != nil {
		return nil, err
	}
	return d.store.Stats(ctx, q)
}

// Redeliver makes a delivery (in any state, failed for good included) due
// now. It gets one more attempt; if that fails and the delivery has used up
// its attempts, it is failed again. The attempt goes out at once, past the
// endpoint's circuit breaker, in-flight cap and rate limit, when this
// dispatcher is running (another instance's workers treat it as any due
// delivery). To redeliver to a disabled endpoint, enable it first.
//
// An ordered delivery (Delivery.Ordered) goes back to its own place in its
// queue instead: it goes out at once only if no delivery of its endpoint
// and key is pending; otherwise it waits until the one in flight has
// finished (and goes before the later ones still waiting). A delivery
// that is waiting already stays where it is.
func (d *Dispatcher) Redeliver(ctx context.Context, deliveryID string) error {
	if err := lookupID("delivery", deliveryID); err != nil {
		return err
	}
	if _, err := d.store.Requeue(ctx, RequeueParams{DeliveryID: deliveryID, At: d.cfg.Now()}); err != nil {
		return err
	}
	d.health.markUrgent(deliveryID)
	d.wakeUp()
	return nil
}

// RetryFailed makes every delivery of the endpoint that failed for good and
// was created at or after since due now (bulk recovery after an outage), and
// returns how many. On an Ordered endpoint they go back to their places in
// their queues and go out in publish order, one at a time per key.
func (d *Dispatcher) RetryFailed(ctx context.Context, endpointID string, since time.Time) (int, error) {
	if err := lookupID("endpoint", endpointID); err != nil {
		return 0, err
	}
	if err := validateTime("since", since); err != nil {
		return 0, err
	}
	if _, err := d.store.GetEndpoint(ctx, endpointID); err != nil {
		return 0, err
	}
	n, err := d.store.Requeue(ctx, RequeueParams{EndpointID: endpointID, State: StateFailed, Since: since, At: d.cfg.Now()})
	if n > 0 {
		d.wakeUp()
	}
	return n, err
}

// Purge deletes finished deliveries last changed before `before`, with
// their attempts and messages left without deliveries, in batches of at
// most limit, and returns how many deliveries it deleted.
func (d *Dispatcher) Purge(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	if err := validateTime("before", before); err != nil {
		return 0, err
	}
	return d.store.Purge(ctx, before, limit)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
