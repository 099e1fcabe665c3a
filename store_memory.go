package webhook

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// MemoryStore is the default Store: everything in process memory, lost when
// the process ends. Pending deliveries sit in a min-heap keyed by the time
// they can next be claimed (their due time, or their lease's expiry while
// leased), so a claim costs O(k log n); one timer wakes the dispatcher when
// the earliest comes due. A message body is kept once however many
// endpoints it goes to. Safe for concurrent use, and for several dispatchers
// sharing it.
type MemoryStore struct {
	mu         sync.Mutex
	endpoints  map[string]*Endpoint            // id -> endpoint (replaced, never mutated)
	tenants    map[string]map[string]*Endpoint // tenant -> id -> endpoint
	messages   map[string]*memMessage
	deliveries map[string]*memDelivery
	byEndpoint map[string][]*memDelivery // creation order
	queueOf    map[string]*memQueue      // endpoint id -> its pending deliveries
	queues     queueHeap                 // endpoints with pending deliveries, earliest first
	leaseSeq   uint64
	// leased maps the lease tokens handed out (and not yet recorded or
	// superseded) to their deliveries. It holds only what is in flight, so
	// Record finds a delivery in a small map instead of the big one.
	leased    map[uint64]*memDelivery
	pendingN  int // deliveries in state pending
	retryingN int // of which with attempts
	// orderQueues holds the queues of ordered deliveries by endpoint and
	// ordering key, ordInfo what each ordered delivery adds
	// (memory_ordered.go); orderSeq numbers ordered deliveries in store
	// order.
	orderQueues map[string]map[string]*memOrderQueue
	ordInfo     map[*memDelivery]*memOrdered
	orderSeq    uint64

	timer   *time.Timer
	timerAt int64 // unix nanos the timer is armed for; 0 when idle
	subs    map[chan struct{}]struct{}
	closed  bool
}

type memMessage struct {
	msg        *Message
	deliveries []*memDelivery
}

// memState is a DeliveryState in one byte.
type memState uint8

const (
	memPending memState = iota
	memSucceeded
	memFailed
	memDeleted
)

func toMemState(s DeliveryState) memState {
	switch s {
	case StateSucceeded:
		return memSucceeded
	case StateFailed:
		return memFailed
	}
	return memPending
}

func (m memState) public() DeliveryState {
	switch m {
	case memSucceeded:
		return StateSucceeded
	case memFailed:
		return StateFailed
	case memDeleted:
		return "deleted"
	}
	return StatePending
}

// memDelivery is kept small: it is what a pending delivery costs.
type memDelivery struct {
	id         string
	msg        *memMessage
	endpointID string
	log        []*Attempt
	lastErr    string
	next       int64 // unix nanos; 0 when finished
	leaseExp   int64
	lease      uint64
	created    int64
	updated    int64
	attempts   int32
	lastStatus int32
	idx        int32 // position in its endpoint's heap, -1 when not in it
	st         memState
	ordered    bool // its memOrdered is in MemoryStore.ordInfo
}

// key is when the delivery can next be claimed: its lease's expiry while
// leased, else its due time.
func (d *memDelivery) key() int64 {
	if d.lease != 0 {
		return d.leaseExp
	}
	return d.next
}

func (d *memDelivery) lastAt() int64 {
	if len(d.log) == 0 {
		return 0
	}
	return nanos(d.log[len(d.log)-1].StartedAt)
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		endpoints:  map[string]*Endpoint{},
		tenants:    map[string]map[string]*Endpoint{},
		messages:   map[string]*memMessage{},
		deliveries: map[string]*memDelivery{},
		byEndpoint: map[string][]*memDelivery{},
		queueOf:    map[string]*memQueue{},
		leased:     map[uint64]*memDelivery{},
		subs:       map[chan struct{}]struct{}{},

		orderQueues: map[string]map[string]*memOrderQueue{},
		ordInfo:     map[*memDelivery]*memOrdered{},
	}
}

var _ Store = (*MemoryStore)(nil)
var _ Notifier = (*MemoryStore)(nil)
var _ EndpointMatcher = (*MemoryStore)(nil)
var _ BacklogCounter = (*MemoryStore)(nil)

// countLocked adds n (1 or -1) to the backlog counters d is part of.
func (s *MemoryStore) countLocked(d *memDelivery, n int) {
	if d.st != memPending {
		return
	}
	s.pendingN += n
	if d.attempts > 0 {
		s.retryingN += n
	}
}

// Backlog implements BacklogCounter in O(1).
func (s *MemoryStore) Backlog(ctx context.Context) (Backlog, error) {
	if err := ctx.Err(); err != nil {
		return Backlog{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := Backlog{Pending: s.pendingN, Retrying: s.retryingN}
	// The queue heap's top is the earliest claimable time of all pending
	// deliveries: their due time, or their lease's expiry while leased.
	if len(s.queues) > 0 {
		if at := s.queues[0].key; at <= time.Now().UnixNano() {
			b.OldestDue = fromNanos(at)
		}
	}
	return b, nil
}

// nanos is t in Unix nanoseconds, 0 for the zero time. A time int64
// nanoseconds cannot hold (before 1678, after 2262: a long retry delay, a
// low rate limit's slot) saturates instead of wrapping around, so a
// delivery due in the far future is not due now.
func nanos(t time.Time) int64 {
	switch s := t.Unix(); {
	case t.IsZero():
		return 0
	case s >= math.MaxInt64/int64(time.Second):
		return math.MaxInt64
	case s <= math.MinInt64/int64(time.Second):
		return math.MinInt64 + 1
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// copyEndpoint is ep with slices and maps of its own.
func copyEndpoint(ep *Endpoint) *Endpoint {
	c := *ep
	c.EventTypes = slices.Clone(ep.EventTypes)
	c.Channels = slices.Clone(ep.Channels)
	c.Headers = maps.Clone(ep.Headers)
	c.Metadata = maps.Clone(ep.Metadata)
	return &c
}

// CreateEndpoint implements Store.
func (s *MemoryStore) CreateEndpoint(ctx context.Context, ep *Endpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.endpoints[ep.ID]; ok {
		return fmt.Errorf("%w: endpoint %s exists", ErrConflict, ep.ID)
	}
	s.putEndpoint(copyEndpoint(ep))
	return nil
}

func (s *MemoryStore) putEndpoint(ep *Endpoint) {
	s.endpoints[ep.ID] = ep
	t := s.tenants[ep.Tenant]
	if t == nil {
		t = map[string]*Endpoint{}
		s.tenants[ep.Tenant] = t
	}
	t[ep.ID] = ep
}

// GetEndpoint implements Store.
func (s *MemoryStore) GetEndpoint(ctx context.Context, id string) (*Endpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ep, ok := s.endpoints[id]
	if !ok {
		return nil, fmt.Errorf("%w: endpoint %s", ErrNotFound, id)
	}
	return copyEndpoint(ep), nil
}

// UpdateEndpoint implements Store.
func (s *MemoryStore) UpdateEndpoint(ctx context.Context, ep *Endpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.endpoints[ep.ID]
	if !ok {
		return fmt.Errorf("%w: endpoint %s", ErrNotFound, ep.ID)
	}
	c := copyEndpoint(ep)
	c.CreatedAt = old.CreatedAt
	if old.Tenant != c.Tenant {
		delete(s.tenants[old.Tenant], old.ID)
	}
	s.putEndpoint(c)
	if !c.Ordered && s.releaseOrderedLocked(c.ID, time.Now().UnixNano()) {
		s.signalLocked()
	}
	s.armTopLocked()
	return nil
}

// DeleteEndpoint implements Store.
func (s *MemoryStore) DeleteEndpoint(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ep, ok := s.endpoints[id]
	if !ok {
		return fmt.Errorf("%w: endpoint %s", ErrNotFound, id)
	}
	delete(s.endpoints, id)
	delete(s.tenants[ep.Tenant], id)
	if len(s.tenants[ep.Tenant]) == 0 {
		delete(s.tenants, ep.Tenant)
	}
	for _, d := range s.byEndpoint[id] {
		s.removeDelivery(d)
	}
	delete(s.byEndpoint, id)
	delete(s.queueOf, id)
	delete(s.orderQueues, id)
	return nil
}

// removeDelivery drops d from every index but byEndpoint, and its message
// when it was the message's last delivery.
func (s *MemoryStore) removeDelivery(d *memDelivery) {
	if d.st == memDeleted {
		return
	}
	s.unqueueLocked(d)
	if d.lease != 0 {
		delete(s.leased, d.lease)
	}
	delete(s.deliveries, d.id)
	s.dropOrderedLocked(d)
	s.countLocked(d, -1)
	d.st = memDeleted
	m := d.msg
	m.deliveries = slices.DeleteFunc(m.deliveries, func(x *memDelivery) bool { return x == d })
}

// MatchEndpoints implements EndpointMatcher without copying: the store
// never modifies an endpoint it has handed out (updates replace it).
func (s *MemoryStore) MatchEndpoints(ctx context.Context, q MatchQuery) ([]*Endpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Endpoint
	for _, ep := range s.tenants[q.Tenant] {
		if !ep.Disabled && ep.Subscribes(q.EventType) && ep.Receives(q.Channels) {
			out = append(out, ep)
		}
	}
	return out, nil
}

// InsertMessage implements Store.
func (s *MemoryStore) InsertMessage(ctx context.Context, msg *Message, deliveries []*Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m := &memMessage{msg: copyMessage(msg), deliveries: make([]*memDelivery, 0, len(deliveries))}
	mds := make([]memDelivery, len(deliveries)) // one allocation for the batch
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.messages[msg.ID]; ok {
		if old.msg.Tenant != msg.Tenant {
			return MessageIDTaken(msg.ID)
		}
		return fmt.Errorf("%w: %s", ErrDuplicate, msg.ID)
	}
	for _, d := range deliveries {
		if _, ok := s.deliveries[d.ID]; ok {
			return fmt.Errorf("%w: delivery %s exists", ErrConflict, d.ID)
		}
	}
	if ep, ok := repeatedEndpoint(deliveries); ok {
		return fmt.Errorf("%w: two deliveries of message %s to endpoint %s", ErrConflict, msg.ID, ep)
	}
	if s.insertLocked(msg, m, mds, deliveries) {
		s.signalLocked()
	}
	s.armTopLocked()
	return nil
}

// insertLocked stores m (msg, checked to be new) with its deliveries in
// mds, and reports whether one of them is due now.
func (s *MemoryStore) insertLocked(msg *Message, m *memMessage, mds []memDelivery, deliveries []*Delivery) bool {
	s.messages[msg.ID] = m
	now, due := time.Now().UnixNano(), false
	for i, d := range deliveries {
		if _, ok := s.endpoints[d.EndpointID]; !ok {
			continue // deleted since the publish looked it up: no delivery
		}
		due = s.addDeliveryLocked(m, d, &mds[i], now) || due
	}
	return due
}

// addDeliveryLocked stores d of message m in md and queues it if pending;
// it reports whether it is due at now (unix nanos).
func (s *MemoryStore) addDeliveryLocked(m *memMessage, d *Delivery, md *memDelivery, now int64) bool {
	*md = memDelivery{
		id: d.ID, msg: m, endpointID: d.EndpointID, st: toMemState(d.State), attempts: int32(d.Attempts),
		next: nanos(d.NextAttemptAt), created: nanos(d.CreatedAt), updated: nanos(d.UpdatedAt), idx: -1,
	}
	s.addOrderedLocked(md, d)
	s.deliveries[md.id] = md
	s.countLocked(md, 1)
	s.byEndpoint[md.endpointID] = append(s.byEndpoint[md.endpointID], md)
	m.deliveries = append(m.deliveries, md)
	if md.st == memPending && s.enqueueLocked(md) {
		return md.next <= now
	}
	return false
}

// copyMessage is m with Metadata and Channels of its own; the payload is
// shared.
func copyMessage(m *Message) *Message {
	c := *m
	c.Channels = slices.Clone(m.Channels)
	c.Metadata = maps.Clone(m.Metadata)
	return &c
}

// GetMessage implements Store.
func (s *MemoryStore) GetMessage(ctx context.Context, id string) (*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return nil, fmt.Errorf("%w: message %s", ErrNotFound, id)
	}
	return copyMessage(m.msg), nil
}

// Notify implements Notifier: the channel receives when the earliest pending
// delivery (or an expired lease) comes due. The subscription ends with ctx.
func (s *MemoryStore) Notify(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	})
	return ch
}

// armLocked makes the one timer fire at the unix nanos at, unless it is
// already armed for an earlier time. A time already past arms nothing:
// the work is due now, and whoever made it due signals (signalLocked) or
// is about to claim.
func (s *MemoryStore) armLocked(at int64) {
	if s.closed || len(s.subs) == 0 {
		return
	}
	d := time.Duration(at - time.Now().UnixNano())
	if d <= 0 || (s.timerAt != 0 && s.timerAt <= at) {
		return
	}
	s.timerAt = at
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.fire)
	} else {
		s.timer.Reset(d)
	}
}

// signalLocked tells every subscriber that work may be due now.
func (s *MemoryStore) signalLocked() {
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (s *MemoryStore) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timerAt = 0
	s.signalLocked()
	s.armTopLocked()
}

// armTopLocked arms the timer for the earliest pending delivery, if any.
func (s *MemoryStore) armTopLocked() {
	if len(s.queues) > 0 {
		s.armLocked(s.queues[0].key)
	}
}

// Close stops the store's timer. The store stays usable for reads.
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	return nil
}

// repeatedEndpoint returns an endpoint ID that two of ds share, if any: a
// message has at most one delivery per endpoint (Postgres holds it with a
// unique index).
func repeatedEndpoint(ds []*Delivery) (string, bool) {
	if len(ds) <= 32 { // no allocation for the usual fan-out
		for i, d := range ds {
			for _, o := range ds[:i] {
				if o.EndpointID == d.EndpointID {
					return d.EndpointID, true
				}
			}
		}
		return "", false
	}
	seen := make(map[string]struct{}, len(ds))
	for _, d := range ds {
		if _, ok := seen[d.EndpointID]; ok {
			return d.EndpointID, true
		}
		seen[d.EndpointID] = struct{}{}
	}
	return "", false
}
