package webhook

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// BatchEvent is one event of a PublishBatch call with its options.
type BatchEvent struct {
	Event Event
	// Opts are the event's PublishOpts (ID, Tenant, Metadata, ...); nil
	// takes the defaults, as for Publish.
	Opts *PublishOpts
}

// MessageInsert is one message of a BatchInserter call with its
// deliveries, built as for Store.InsertMessage.
type MessageInsert struct {
	Message    *Message
	Deliveries []*Delivery
}

// BatchInserter is an optional Store capability PublishBatch needs: store
// many messages with their deliveries in one atomic step.
//
// The messages of one call have distinct IDs. Each follows InsertMessage's
// rules, and the call is all or nothing:
//   - A message whose ID a message of the same tenant holds already is
//     left as it is (nothing of the item is stored) and stored[i] is that
//     stored message; stored[i] is nil for the messages stored by this call.
//   - If any ID is held by another tenant's message, nothing at all is
//     stored and the error matches ErrConflict (a *BatchError naming the
//     item); it must tell nothing of the other message.
//   - Deliveries whose endpoint no longer exists are dropped, not an error.
//   - An error means nothing was stored, except ErrOutcomeUnknown (the
//     answer was lost after the write was sent: the whole batch may be
//     stored or not). ctx is treated as for InsertMessage.
type BatchInserter interface {
	InsertMessages(ctx context.Context, batch []MessageInsert) (stored []*Message, err error)
}

// TxBatchInserter is BatchInserter inside the caller's transaction tx (the
// store's transaction type TTx), used by PublishBatchTx. Nothing is stored
// until the caller commits; an error means no message of the batch is part
// of tx.
type TxBatchInserter[TTx any] interface {
	InsertMessagesTx(ctx context.Context, tx TTx, batch []MessageInsert) (stored []*Message, err error)
}

// BatchError says which event of a batch made PublishBatch (or a
// BatchInserter) fail. It wraps the event's error: errors.Is(err,
// ErrInvalid) and the like see through it.
type BatchError struct {
	// Index is the event's position in the batch, from 0.
	Index int
	// ID is the event's message ID, when it had one.
	ID  string
	Err error
}

func (e *BatchError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("hookline: batch event %d (message %s): %v", e.Index, e.ID, e.Err)
	}
	return fmt.Sprintf("hookline: batch event %d: %v", e.Index, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// MaxBatchEvents is the most events one PublishBatch call takes.
const MaxBatchEvents = 10_000

// PublishBatch publishes many events in one atomic step: every message
// with its deliveries is stored, or none is. It returns the messages in
// the order of evs.
//
// Each event is validated and routed as Publish does it (its own
// PublishOpts: ID, tenant, metadata). Per event it is idempotent like
// Publish: an event whose ID the same tenant published already stores
// nothing new and its slot holds the message stored first. Bad input in
// any event (ErrInvalid, ErrPayloadTooLarge), two events with the same ID,
// or an ID held by another tenant's message (ErrConflict) fails the whole
// call with a *BatchError naming the event, and nothing is stored. As for
// Publish, an error means nothing was stored, except ErrOutcomeUnknown:
// then publish the same batch again (with IDs set, so that the retry is
// idempotent).
//
// The store must implement BatchInserter (MemoryStore and pgstore do);
// otherwise PublishBatch returns an error matching errors.ErrUnsupported.
// An empty batch stores nothing and returns no messages. At most
// MaxBatchEvents events per call.
func (d *Dispatcher) PublishBatch(ctx context.Context, evs []BatchEvent) ([]*Message, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	bi, ok := d.store.(BatchInserter)
	if !ok {
		return nil, fmt.Errorf("%w: %T implements no webhook.BatchInserter; publish the events one by one", errors.ErrUnsupported, d.store)
	}
	return d.publishBatch(ctx, evs, bi.InsertMessages)
}

// PublishBatchTx is PublishBatch inside the caller's transaction tx: the
// messages and their deliveries commit or roll back with the caller's own
// writes. The store must implement TxBatchInserter[TTx] (pgstore
// implements TxBatchInserter[pgx.Tx]); otherwise it returns
// ErrTxUnsupported. Duplicates of the same tenant's messages return the
// stored message in their slot, as PublishBatch does; any error means no
// message of the batch is part of tx.
func PublishBatchTx[TTx any](ctx context.Context, d *Dispatcher, tx TTx, evs []BatchEvent) ([]*Message, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	ti, ok := d.store.(TxBatchInserter[TTx])
	if !ok {
		return nil, fmt.Errorf("%w: %T implements no TxBatchInserter[%v]; pass the transaction as the type the store takes (pgstore: pgx.Tx)",
			ErrTxUnsupported, d.store, reflect.TypeFor[TTx]())
	}
	return d.publishBatch(ctx, evs, func(ctx context.Context, b []MessageInsert) ([]*Message, error) {
		return ti.InsertMessagesTx(ctx, tx, b)
	})
}

func (d *Dispatcher) publishBatch(ctx context.Context, evs []BatchEvent,
	write func(context.Context, []MessageInsert) ([]*Message, error)) ([]*Message, error) {
	if len(evs) > MaxBatchEvents {
		return nil, invalid("batch", "%d events; at most %d per call", len(evs), MaxBatchEvents)
	}
	if len(evs) == 0 {
		return nil, ctx.Err()
	}
	pctxs := make([]*publishCtx, len(evs))
	batch := make([]MessageInsert, len(evs))
	subs := map[[3]string][]*Endpoint{} // one lookup per tenant, type and channels
	seen := make(map[string]int, len(evs))
	var err error
	for i, be := range evs {
		pctxs[i] = &publishCtx{ctx: ctx, match: func(ctx context.Context, q MatchQuery) ([]*Endpoint, error) {
			k := [3]string{q.Tenant, q.EventType, strings.Join(q.Channels, "\x00")} // no channel holds a NUL
			if eps, ok := subs[k]; ok {
				return eps, nil
			}
			eps, err := d.subscribers(ctx, q)
			if err == nil {
				subs[k] = eps
			}
			return eps, err
		}}
		var msg *Message
		var ds []*Delivery
		msg, ds, err = d.prepare(pctxs[i], be.Event, be.Opts)
		if err == nil {
			if j, dup := seen[msg.ID]; dup {
				err = invalid("message ID", "%q is also the ID of event %d of the batch; give each event its own ID", msg.ID, j)
			}
			seen[msg.ID] = i
		}
		if err != nil {
			id := ""
			if be.Opts != nil {
				id = be.Opts.ID
			}
			err = &BatchError{Index: i, ID: id, Err: err}
			break
		}
		batch[i] = MessageInsert{Message: msg, Deliveries: ds}
	}
	var stored []*Message
	if err == nil {
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("hookline: nothing stored: %w", cerr)
		} else {
			stored, err = write(ctx, batch)
		}
	}
	for i, p := range pctxs {
		if p == nil {
			break
		}
		n := len(batch[i].Deliveries)
		if stored != nil && stored[i] != nil {
			n = 0
		}
		d.afterPublish(p, n, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]*Message, len(batch))
	due := false
	for i, mi := range batch {
		if stored != nil && stored[i] != nil {
			out[i] = stored[i]
			continue
		}
		out[i] = mi.Message
		due = due || len(mi.Deliveries) > 0
	}
	if due {
		d.wakeUp()
	}
	return out, nil
}

// matchFor returns the subscribers of a publish: through the publish's own
// lookup when it has one (PublishBatch memoises per tenant and type).
func (d *Dispatcher) matchFor(p *publishCtx, q MatchQuery) ([]*Endpoint, error) {
	if p.match != nil {
		return p.match(p.ctx, q)
	}
	return d.subscribers(p.ctx, q)
}
