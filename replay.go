package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Replayer is an optional Store capability ReplayMissing needs (both
// stores of this module implement it; storetest checks it).
type Replayer interface {
	// MissingMessages returns up to q.Limit messages of q.Tenant (exactly
	// that tenant: never another's) created at or after q.Since that have
	// no delivery to q.EndpointID, in (CreatedAt, ID) order, starting after
	// q.Cursor, and the cursor of the next page ("" when there is none).
	// It must stay cheap with millions of messages: indexed by tenant and
	// time, with the delivery check on an index of (endpoint, message).
	MissingMessages(ctx context.Context, q MissingQuery) (msgs []*Message, next string, err error)
	// InsertDeliveries stores new deliveries of stored messages (filled in
	// as for InsertMessage), in one atomic step, skipping any whose
	// endpoint has a delivery of that message already or no longer
	// exists, and returns how many it stored. Pending ones are due at
	// their NextAttemptAt.
	InsertDeliveries(ctx context.Context, ds []*Delivery) (int, error)
}

// MissingQuery parameterises Replayer.MissingMessages.
type MissingQuery struct {
	Tenant     string
	EndpointID string
	Since      time.Time
	Cursor     string
	// Limit 0 means 100; stores may cap it at 1000.
	Limit int
}

// replayBatch is how many messages ReplayMissing reads per store call.
const replayBatch = 1000

// ReplayMissing creates, for one endpoint, a delivery of every message of its
// tenant created at or after since (Message.CreatedAt) that it subscribes to
// now (types, channels, filter) and has no delivery of yet, and returns how many it queued. Running it twice queues
// nothing the second time.
//
// It works in batches of 1000 messages, each queued as it is read: an error
// part way returns the count queued so far with the error, and running it
// again picks up the rest. A disabled endpoint is refused (enable it first):
// its deliveries would only fail. The store must implement Replayer;
// otherwise the error matches errors.ErrUnsupported.
func (d *Dispatcher) ReplayMissing(ctx context.Context, endpointID string, since time.Time) (int, error) {
	rp, ok := d.store.(Replayer)
	if !ok {
		return 0, fmt.Errorf("hookline: %T cannot replay: it implements no webhook.Replayer: %w", d.store, errors.ErrUnsupported)
	}
	ep, err := d.store.GetEndpoint(ctx, endpointID)
	if err != nil {
		return 0, err
	}
	if ep.Disabled {
		return 0, fmt.Errorf("%w: endpoint %s is disabled; enable it before replaying", ErrConflict, ep.ID)
	}
	q := MissingQuery{Tenant: ep.Tenant, EndpointID: ep.ID, Since: since, Limit: replayBatch}
	total := 0
	for {
		msgs, next, err := rp.MissingMessages(ctx, q)
		if err != nil {
			return total, fmt.Errorf("hookline: replay: reading messages: %w", err)
		}
		now := d.cfg.Now().UTC()
		var ds []*Delivery
		for _, m := range msgs {
			if !d.wantsStored(ctx, ep, m) {
				continue
			}
			del := &Delivery{
				ID: d.ids.newID("dlv_"), MessageID: m.ID, EndpointID: ep.ID, Tenant: ep.Tenant, EventType: m.Type,
				State: StatePending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
			}
			setOrdered(del, ep, m)
			ds = append(ds, del)
		}
		if len(ds) > 0 {
			n, err := rp.InsertDeliveries(ctx, ds)
			total += n
			if err != nil {
				return total, fmt.Errorf("hookline: replay: storing deliveries: %w", err)
			}
			if n > 0 {
				d.wakeUp()
			}
		}
		if next == "" {
			return total, nil
		}
		q.Cursor = next
	}
}

// wantsStored reports whether ep subscribes now to a stored message: its
// tenant, type, channels and filter. Test events are never replayed.
func (d *Dispatcher) wantsStored(ctx context.Context, ep *Endpoint, m *Message) bool {
	if m.Tenant != ep.Tenant || m.Type == TestEventType || !ep.Subscribes(m.Type) || !ep.Receives(m.Channels) {
		return false
	}
	if ep.Filter == "" {
		return true
	}
	data, err := m.EventData()
	if err != nil {
		d.log.WarnContext(ctx, "hookline: replay cannot filter a message without its event data; skipped",
			"endpoint_id", ep.ID, "message_id", m.ID, "error", err)
		return false
	}
	fe := &filterEval{d: d, msg: m, data: data}
	return fe.match(ctx, ep)
}
