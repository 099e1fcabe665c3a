package webhook

import (
	"context"
	"time"
)

// Store keeps endpoints, messages, deliveries and attempts, and hands due
// deliveries to workers under leases. The Dispatcher is its only caller in
// normal use; storetest.Run checks an implementation against this contract.
//
// General rules for every method:
//   - ctx comes first and bounds the call; a cancelled ctx returns its error.
//   - Objects passed in are not retained: the store copies what it keeps
//     (Record's attempts aside: see Record). Objects returned are the
//     caller's to modify, except Message.Payload, which may be shared and
//     must be treated as read-only.
//   - A missing object is ErrNotFound (wrapped or not: callers use errors.Is).
//   - Times are stored with at least microsecond precision.
//   - Lists are ordered as each method says and paged by an opaque cursor:
//     pass the returned next cursor back for the next page; "" means no
//     further page. Limit 0 means 100; stores may cap it at 1000
//     (PageLimit applies this rule and Page cuts a page and its cursor).
type Store interface {
	// CreateEndpoint stores a new endpoint, ID and all (the dispatcher
	// validates it and fills ID, Secret and times). An existing ID is
	// ErrConflict.
	CreateEndpoint(ctx context.Context, ep *Endpoint) error
	// GetEndpoint returns the endpoint with that ID.
	GetEndpoint(ctx context.Context, id string) (*Endpoint, error)
	// UpdateEndpoint replaces every field of the stored endpoint with ep's
	// (matched by ID) except CreatedAt. Turning Ordered off releases the
	// endpoint's waiting deliveries in the same step: they become
	// unordered (Ordered false) and due at their NextAttemptAt.
	UpdateEndpoint(ctx context.Context, ep *Endpoint) error
	// DeleteEndpoint removes the endpoint with its deliveries and their
	// attempts. Messages stay.
	DeleteEndpoint(ctx context.Context, id string) error
	// ListEndpoints returns endpoints in ID order matching q.
	ListEndpoints(ctx context.Context, q EndpointQuery) (eps []*Endpoint, next string, err error)

	// InsertMessage stores msg and its deliveries in one atomic step: all or
	// nothing. Each delivery arrives with ID, MessageID, EndpointID,
	// Tenant, EventType, State pending, NextAttemptAt and times filled in.
	// The payload is stored once, whatever the number of deliveries. A
	// message has at most one delivery per endpoint: two deliveries of msg
	// to one endpoint are ErrConflict, and nothing is stored.
	//
	// Message IDs are global (they are the webhook-id receivers dedupe
	// on). If a message with msg.ID exists it stores nothing and returns
	// ErrDuplicate when that message has msg's tenant, and an error
	// matching ErrConflict (not ErrDuplicate) when it is another tenant's;
	// that error must tell nothing of the other message (no tenant, type,
	// payload or metadata): return MessageIDTaken(msg.ID).
	//
	// A delivery whose endpoint does not exist (deleted after the publish
	// looked it up) is dropped, not an error: the message and the other
	// deliveries are stored. The check must hold against a DeleteEndpoint
	// running at the same time: once both returned, no delivery of the
	// deleted endpoint remains.
	//
	// An error means nothing was stored, with one exception: when the store
	// cannot know whether its write took effect (the connection failed
	// after the commit was sent), it returns an error matching
	// ErrOutcomeUnknown. A ctx that has ended before the call returns its
	// error and stores nothing; ctx ending during the call must not leave
	// a write done but reported as failed. A store that writes over a
	// network should check ctx before sending the write and then finish it
	// under a timeout of its own (context.WithoutCancel), so a caller's
	// deadline cannot cut a commit in half.
	InsertMessage(ctx context.Context, msg *Message, deliveries []*Delivery) error
	// GetMessage returns the message with that ID.
	GetMessage(ctx context.Context, id string) (*Message, error)

	// Claim leases up to p.Limit pending deliveries whose NextAttemptAt is at
	// or before p.Now and that hold no unexpired lease, earliest due first,
	// and returns them with their message and endpoint. Each gets a fresh
	// lease token, expiring at p.Now+p.Lease; until then no other Claim
	// returns it. A lease that expired without a Record makes the delivery
	// claimable again (at least once delivery). Claim costs O(k log n) or
	// better for k claimed out of n pending: no scan of finished deliveries.
	// Deliveries whose endpoint is in p.SkipEndpoints are left alone. The
	// Claimed of one call may share their Message and Endpoint (one copy
	// for each message and endpoint in the batch).
	//
	// Ordered deliveries (Delivery.Ordered) form queues, one per
	// (EndpointID, OrderingKey). Of a queue's pending deliveries one is its
	// head and the others wait: Claim never returns a waiting delivery,
	// and it costs nothing to skip them (they are not in what Claim
	// walks). A delivery stored into a queue with no pending delivery is
	// its head at once. When the head finishes (a Record applied with
	// state succeeded or failed), the waiting delivery stored first
	// becomes the head, due at its NextAttemptAt, in the same atomic step
	// as the Record, so no crash leaves a queue waiting with no head.
	// Store order is publish order: call order, and within one
	// InsertMessages call the order of the batch.
	Claim(ctx context.Context, p ClaimParams) ([]*Claimed, error)
	// ClaimDelivery leases one pending delivery by ID whatever its due time,
	// as Claim would (p.Limit and p.SkipEndpoints are ignored). A delivery
	// that is not pending, holds an unexpired lease or waits behind its
	// queue's head is ErrConflict.
	ClaimDelivery(ctx context.Context, id string, p ClaimParams) (*Claimed, error)
	// Record applies each record in one call: the attempt (if any) is added
	// to the delivery's log and the delivery takes the record's state, next
	// attempt time and last result, and loses its lease. A record counts
	// only while its lease is held: the token is the delivery's current one
	// and has not expired at r.Now. applied[i] reports whether recs[i]
	// counted; nothing of a record that did not count is written. err is for
	// failures of the store itself.
	Record(ctx context.Context, recs []Record) (applied []bool, err error)

	// GetDelivery returns the delivery with that ID.
	GetDelivery(ctx context.Context, id string) (*Delivery, error)
	// ListDeliveries returns deliveries matching q, newest first (descending
	// ID).
	ListDeliveries(ctx context.Context, q DeliveryQuery) (ds []*Delivery, next string, err error)
	// ListAttempts returns attempts matching q, oldest first.
	ListAttempts(ctx context.Context, q AttemptQuery) (as []*Attempt, next string, err error)
	// Requeue makes the deliveries matching p pending and due at p.At,
	// keeping their attempt count and log, and returns how many it changed.
	// A delivery under lease keeps its lease: the worker holding it records
	// as usual. A requeued ordered delivery takes its old place in its
	// queue: it waits, unless the queue has no head (then it is the head);
	// a waiting delivery stays waiting.
	Requeue(ctx context.Context, p RequeueParams) (int, error)

	// Stats counts an endpoint's (or a tenant's) deliveries created since
	// q.Since by state, and summarises its attempts started since q.Since.
	// It must stay cheap with millions of deliveries: bounded by the window
	// and indexed.
	Stats(ctx context.Context, q StatsQuery) (*Stats, error)
	// Purge deletes up to limit finished (succeeded or failed) deliveries
	// last updated before `before`, their attempts, and the messages left
	// with no delivery, and returns how many deliveries it deleted.
	Purge(ctx context.Context, before time.Time, limit int) (int, error)
}

// Claimed is a delivery handed to a worker under a lease.
type Claimed struct {
	Delivery *Delivery
	Message  *Message
	Endpoint *Endpoint
	// Lease is the token to pass back in Record.
	Lease string
	// LeaseExpiresAt is when the lease lapses.
	LeaseExpiresAt time.Time
}

// ClaimParams parameterise Claim and ClaimDelivery.
type ClaimParams struct {
	// Owner names the claiming dispatcher instance (for diagnostics).
	Owner string
	// Now is the claim's clock reading: due means NextAttemptAt <= Now.
	Now time.Time
	// Limit is how many deliveries to claim at most.
	Limit int
	// Lease is how long the claim holds.
	Lease time.Duration
	// SkipEndpoints lists endpoints whose deliveries must not be claimed now
	// (they are at their concurrency cap or paused).
	SkipEndpoints []string
}

// Record is the outcome of one claimed delivery.
type Record struct {
	DeliveryID string
	Lease      string
	// Now is the clock reading the lease is checked against.
	Now time.Time
	// Attempt is the attempt made, nil when the delivery was put back
	// without one (held back by a limit, shutdown). The store may keep this
	// very object: the caller must not modify it after Record.
	Attempt *Attempt
	// State is the delivery's new state.
	State DeliveryState
	// Error says why a delivery was finished without an attempt (its
	// endpoint was disabled or deleted); it becomes the delivery's
	// LastError. Ignored when Attempt is set.
	Error string
	// NextAttemptAt is when a pending delivery comes due again.
	NextAttemptAt time.Time
}

// EndpointQuery filters ListEndpoints.
type EndpointQuery struct {
	// Tenant limits the list to one tenant ("" is a tenant of its own,
	// for single-tenant hosts).
	Tenant string
	// AllTenants lists the endpoints of every tenant; Tenant is ignored.
	AllTenants bool
	// EnabledOnly leaves out disabled endpoints.
	EnabledOnly bool
	Cursor      string
	Limit       int
}

// DeliveryQuery filters ListDeliveries; zero fields do not filter.
type DeliveryQuery struct {
	Tenant     string
	EndpointID string
	MessageID  string
	State      DeliveryState
	// Since and Until bound CreatedAt: Since <= CreatedAt < Until.
	Since  time.Time
	Until  time.Time
	Cursor string
	Limit  int
}

// AttemptQuery filters ListAttempts; DeliveryID or EndpointID is required.
type AttemptQuery struct {
	DeliveryID string
	EndpointID string
	Cursor     string
	Limit      int
}

// RequeueParams selects the deliveries Requeue changes: one delivery by ID,
// or an endpoint's deliveries in State created at or after Since.
type RequeueParams struct {
	DeliveryID string
	EndpointID string
	// State selects by state (with EndpointID); empty means failed.
	State DeliveryState
	Since time.Time
	// At is the new due time.
	At time.Time
}

// StatsQuery selects what Stats summarises: an endpoint, or a tenant's
// endpoints, or everything; deliveries created and attempts started since
// Since (zero: all time).
type StatsQuery struct {
	EndpointID string
	Tenant     string
	Since      time.Time
}

// Stats summarises deliveries and attempts.
type Stats struct {
	// Counts holds the number of deliveries created in the window, by state.
	Counts map[DeliveryState]int `json:"counts"`
	// Attempts and SucceededAttempts count attempts since the window start.
	Attempts          int `json:"attempts"`
	SucceededAttempts int `json:"succeeded_attempts"`
	// LatencyP50 and LatencyP95 are attempt durations over the window.
	LatencyP50 time.Duration `json:"-"`
	LatencyP95 time.Duration `json:"-"`
}

// SuccessRate is SucceededAttempts/Attempts, or 1 with no attempts.
func (s *Stats) SuccessRate() float64 {
	if s.Attempts == 0 {
		return 1
	}
	return float64(s.SucceededAttempts) / float64(s.Attempts)
}

// Pacer is an optional Store capability for stores whose every call costs
// a round trip, a statement and a commit (a database): the dispatcher then
// claims and records fewer, larger batches. Without it (MemoryStore) the
// dispatcher claims as soon as a worker is free and records at once.
type Pacer interface {
	// Pacing returns how the dispatcher should batch its calls to the
	// store; New reads it once.
	Pacing() Pacing
}

// Pacing is what a Pacer asks of the dispatcher. Zero fields ask for
// nothing.
type Pacing struct {
	// ClaimInterval is the shortest time between the starts of two Claim
	// calls: work that comes due in between (a publish, a retry) is claimed
	// together at the interval's end. It bounds the claims per second, and
	// adds at most the interval to a delivery's wait.
	ClaimInterval time.Duration
	// RecordWindow is how long the dispatcher may hold an attempt's outcome
	// to write it in one Record call with the outcomes that follow it
	// (counted from the first of a batch). The delivery keeps its lease
	// meanwhile. Outcomes that make a delivery due at once, or end an
	// ordered delivery, are written without waiting.
	RecordWindow time.Duration
}

// Notifier is an optional Store capability: a channel that receives when
// deliveries may have become due without this process's Publish (another
// instance published, a retry's time came). The dispatcher polls
// Config.PollInterval when the store has none.
type Notifier interface {
	// Notify returns a channel of the caller's own, sent to (without
	// blocking) when work may be due. The subscription ends with ctx.
	Notify(ctx context.Context) <-chan struct{}
}

// TxInserter is an optional Store capability used by PublishTx: insert a
// message and its deliveries inside the caller's transaction tx, of the
// store's transaction type TTx (pgstore implements TxInserter[pgx.Tx]).
// PublishTx[TTx] uses the store only if it implements TxInserter[TTx].
//
// InsertMessageTx follows InsertMessage's contract (duplicates, other
// tenants' IDs, deleted endpoints), except that nothing is stored until the
// caller commits tx: an error means the message is not part of tx, and
// ErrOutcomeUnknown does not apply (the caller's commit decides).
type TxInserter[TTx any] interface {
	InsertMessageTx(ctx context.Context, tx TTx, msg *Message, deliveries []*Delivery) error
}

// EndpointMatcher is an optional Store capability Publish uses when present:
// it returns q.Tenant's enabled endpoints that subscribe to q.EventType (as
// Endpoint.Subscribes decides) and take q.Channels (as Endpoint.Receives
// decides), in any order. Unlike other Store methods it may return
// endpoints shared with the store: callers must not modify them. Without
// it, Publish pages through ListEndpoints. Filters are not the store's
// business: the dispatcher evaluates them.
type EndpointMatcher interface {
	MatchEndpoints(ctx context.Context, q MatchQuery) ([]*Endpoint, error)
}

// BacklogCounter is an optional Store capability: a cheap summary of the
// pending deliveries, for gauges read every few seconds (the
// otelwebhook module's). It must cost O(1) or O(log n) in the number of
// deliveries (counters kept up to date, or an index-only read), never a
// scan of the deliveries; Stats is the detailed, costlier query.
type BacklogCounter interface {
	// Backlog summarises the pending deliveries of every tenant.
	Backlog(ctx context.Context) (Backlog, error)
}

// Backlog summarises the pending deliveries.
type Backlog struct {
	// Pending counts the deliveries in state pending, retrying ones
	// included.
	Pending int
	// Retrying counts the pending deliveries with at least one attempt.
	Retrying int
	// OldestDue is the earliest time at which a pending delivery not held
	// by a live lease came due (zero when none is due or none is pending):
	// now minus OldestDue is how long the most overdue delivery has been
	// waiting for a worker.
	OldestDue time.Time
}

// The page sizes of the Store contract's list methods.
const (
	// PageLimitDefault is the page size a Limit of 0 (or less) asks for.
	PageLimitDefault = 100
	// PageLimitMax is the largest page a store needs to return.
	PageLimitMax = 1000
)

// PageLimit applies the Store contract's limit rule to a query's Limit: 0
// or less means PageLimitDefault, more than PageLimitMax means PageLimitMax.
// Both stores use it; a Store of your own can too.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return PageLimitDefault
	case n > PageLimitMax:
		return PageLimitMax
	}
	return n
}

// Page cuts one page from items, which are in list order and hold up to
// limit+1 entries (fetch one more than the page to learn whether another
// follows): it returns the first limit items and the next cursor, the
// cursor of the page's last item, or "" when no item follows. Both stores
// use it; a Store of your own can too.
func Page[T any](items []T, limit int, cursor func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, cursor(items[limit-1])
}
