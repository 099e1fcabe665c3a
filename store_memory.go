package webhook

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func copyEndpoint(ep *Endpoint) *Endpoint {
	c := *ep
	c.EventTypes = slices.Clone(ep.EventTypes)
	if ep.Headers != nil {
		c.Headers = make(map[string]string, len(ep.Headers))
		for k, v := range ep.Headers {
			c.Headers[k] = v
		}
	}
	if ep.Metadata != nil {
		c.Metadata = make(map[string]string, len(ep.Metadata))
		for k, v := range ep.Metadata {
			c.Metadata[k] = v
		}
	}
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
	s.countLocked(d, -1)
	d.st = memDeleted
	m := d.msg
	m.deliveries = slices.DeleteFunc(m.deliveries, func(x *memDelivery) bool { return x == d })
}

// ListEndpoints implements Store.
func (s *MemoryStore) ListEndpoints(ctx context.Context, q EndpointQuery) ([]*Endpoint, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	limit := pageLimit(q.Limit)
	s.mu.Lock()
	var all []*Endpoint
	src := s.tenants[q.Tenant]
	if q.AllTenants {
		src = s.endpoints
	}
	for _, ep := range src {
		if q.EnabledOnly && ep.Disabled {
			continue
		}
		if q.Cursor != "" && ep.ID <= q.Cursor {
			continue
		}
		all = append(all, ep)
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b *Endpoint) int { return strings.Compare(a.ID, b.ID) })
	next := ""
	if len(all) > limit {
		all = all[:limit]
		next = all[limit-1].ID
	}
	out := make([]*Endpoint, len(all))
	for i, ep := range all {
		out[i] = copyEndpoint(ep)
	}
	return out, next, nil
}

// MatchEndpoints implements EndpointMatcher without copying: the store
// never modifies an endpoint it has handed out (updates replace it).
func (s *MemoryStore) MatchEndpoints(ctx context.Context, tenant, eventType string) ([]*Endpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Endpoint
	for _, ep := range s.tenants[tenant] {
		if !ep.Disabled && ep.Subscribes(eventType) {
			out = append(out, ep)
		}
	}
	return out, nil
}

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
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
			return idTaken(msg.ID)
		}
		return fmt.Errorf("%w: %s", ErrDuplicate, msg.ID)
	}
	for _, d := range deliveries {
		if _, ok := s.deliveries[d.ID]; ok {
			return fmt.Errorf("%w: delivery %s exists", ErrConflict, d.ID)
		}
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
		md := &mds[i]
		*md = memDelivery{
			id: d.ID, msg: m, endpointID: d.EndpointID, st: toMemState(d.State), attempts: int32(d.Attempts),
			next: nanos(d.NextAttemptAt), created: nanos(d.CreatedAt), updated: nanos(d.UpdatedAt), idx: -1,
		}
		s.deliveries[md.id] = md
		s.countLocked(md, 1)
		s.byEndpoint[md.endpointID] = append(s.byEndpoint[md.endpointID], md)
		m.deliveries = append(m.deliveries, md)
		if md.st == memPending {
			s.queueLocked(md)
			due = due || md.next <= now
		}
	}
	return due
}

func copyMessage(m *Message) *Message {
	c := *m
	if m.Metadata != nil {
		c.Metadata = make(map[string]string, len(m.Metadata))
		for k, v := range m.Metadata {
			c.Metadata[k] = v
		}
	}
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

// Claim implements Store.
func (s *MemoryStore) Claim(ctx context.Context, p ClaimParams) ([]*Claimed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := p.Now.UnixNano()
	var skipped []*memQueue
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Claimed
	for len(out) < p.Limit && len(s.queues) > 0 {
		q := s.queues[0].v
		if q.h[0].key > now {
			break
		}
		if len(p.SkipEndpoints) > 0 && slices.Contains(p.SkipEndpoints, q.endpointID) {
			s.queues.remove(0)
			skipped = append(skipped, q)
			continue
		}
		out = append(out, s.leaseLocked(q.h[0].v, now, p.Lease))
	}
	// Arm the notification timer before the skipped endpoints go back: their
	// due deliveries must not fire it again and again (the dispatcher wakes
	// itself when it stops skipping an endpoint).
	s.armTopLocked()
	for _, q := range skipped {
		s.fixQueueLocked(q)
	}
	return out, nil
}

func (s *MemoryStore) leaseLocked(d *memDelivery, now int64, lease time.Duration) *Claimed {
	if d.lease != 0 {
		delete(s.leased, d.lease) // an expired lease, superseded
	}
	s.leaseSeq++
	d.lease = s.leaseSeq
	s.leased[d.lease] = d
	d.leaseExp = now + int64(lease)
	s.fixLocked(d)
	ep := s.endpoints[d.endpointID]
	return &Claimed{
		Delivery:       s.deliveryLocked(d),
		Message:        d.msg.msg,
		Endpoint:       ep,
		Lease:          strconv.FormatUint(d.lease, 36),
		LeaseExpiresAt: fromNanos(d.leaseExp),
	}
}

// ClaimDelivery implements Store.
func (s *MemoryStore) ClaimDelivery(ctx context.Context, id string, p ClaimParams) (*Claimed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := p.Now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[id]
	if !ok {
		return nil, fmt.Errorf("%w: delivery %s", ErrNotFound, id)
	}
	if d.st != memPending || (d.lease != 0 && d.leaseExp > now) {
		return nil, fmt.Errorf("%w: delivery %s is %s or leased", ErrConflict, id, d.st.public())
	}
	return s.leaseLocked(d, now, p.Lease), nil
}

// Record implements Store.
func (s *MemoryStore) Record(ctx context.Context, recs []Record) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	applied := make([]bool, len(recs))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range recs {
		r := &recs[i]
		tok, err := strconv.ParseUint(r.Lease, 36, 64)
		if err != nil {
			continue
		}
		d, ok := s.leased[tok]
		if !ok || d.id != r.DeliveryID || d.st != memPending || d.lease != tok || d.leaseExp <= r.Now.UnixNano() {
			continue
		}
		delete(s.leased, tok)
		applied[i] = true
		s.countLocked(d, -1)
		now := r.Now.UnixNano()
		if a := r.Attempt; a != nil {
			d.log = append(d.log, a) // the caller hands it over (see Record)
			d.attempts = int32(a.Number)
			d.lastStatus = int32(a.StatusCode)
			d.lastErr = a.Error
		}
		d.lease, d.leaseExp = 0, 0
		d.updated = now
		d.st = toMemState(r.State)
		s.countLocked(d, 1)
		if d.st == memPending {
			d.next = nanos(r.NextAttemptAt)
			s.fixLocked(d)
		} else {
			d.next = 0
			if r.Attempt == nil && r.Error != "" {
				d.lastErr = r.Error
			}
			s.unqueueLocked(d)
		}
	}
	s.armTopLocked()
	return applied, nil
}

func (s *MemoryStore) deliveryLocked(d *memDelivery) *Delivery {
	m := d.msg.msg
	return &Delivery{
		ID: d.id, MessageID: m.ID, EndpointID: d.endpointID, Tenant: m.Tenant, EventType: m.Type,
		State: d.st.public(), Attempts: int(d.attempts), NextAttemptAt: fromNanos(d.next),
		LastAttemptAt: fromNanos(d.lastAt()), LastStatusCode: int(d.lastStatus), LastError: d.lastErr,
		CreatedAt: fromNanos(d.created), UpdatedAt: fromNanos(d.updated),
	}
}

// GetDelivery implements Store.
func (s *MemoryStore) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[id]
	if !ok {
		return nil, fmt.Errorf("%w: delivery %s", ErrNotFound, id)
	}
	return s.deliveryLocked(d), nil
}

// candidatesLocked returns the deliveries a query needs to look at: those of
// one message or one endpoint when it names one, else all.
func (s *MemoryStore) candidatesLocked(messageID, endpointID string) []*memDelivery {
	switch {
	case messageID != "":
		if m, ok := s.messages[messageID]; ok {
			return m.deliveries
		}
		return nil
	case endpointID != "":
		return s.byEndpoint[endpointID]
	}
	all := make([]*memDelivery, 0, len(s.deliveries))
	for _, d := range s.deliveries {
		all = append(all, d)
	}
	return all
}

// ListDeliveries implements Store.
func (s *MemoryStore) ListDeliveries(ctx context.Context, q DeliveryQuery) ([]*Delivery, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	limit := pageLimit(q.Limit)
	since, until := nanos(q.Since), nanos(q.Until)
	s.mu.Lock()
	defer s.mu.Unlock()
	var hits []*memDelivery
	for _, d := range s.candidatesLocked(q.MessageID, q.EndpointID) {
		switch {
		case d.st == memDeleted,
			q.EndpointID != "" && d.endpointID != q.EndpointID,
			q.Tenant != "" && d.msg.msg.Tenant != q.Tenant,
			q.State != "" && d.st.public() != q.State,
			since != 0 && d.created < since,
			until != 0 && d.created >= until,
			q.Cursor != "" && d.id >= q.Cursor:
			continue
		}
		hits = append(hits, d)
	}
	slices.SortFunc(hits, func(a, b *memDelivery) int { return strings.Compare(b.id, a.id) })
	next := ""
	if len(hits) > limit {
		hits = hits[:limit]
		next = hits[limit-1].id
	}
	out := make([]*Delivery, len(hits))
	for i, d := range hits {
		out[i] = s.deliveryLocked(d)
	}
	return out, next, nil
}

// ListAttempts implements Store.
func (s *MemoryStore) ListAttempts(ctx context.Context, q AttemptQuery) ([]*Attempt, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if q.DeliveryID == "" && q.EndpointID == "" {
		return nil, "", invalid("attempt query", "give a delivery ID or an endpoint ID")
	}
	limit := pageLimit(q.Limit)
	s.mu.Lock()
	defer s.mu.Unlock()
	var src []*memDelivery
	if q.DeliveryID != "" {
		if d, ok := s.deliveries[q.DeliveryID]; ok {
			src = []*memDelivery{d}
		}
	} else {
		src = s.byEndpoint[q.EndpointID]
	}
	var hits []*Attempt
	for _, d := range src {
		if d.st == memDeleted || (q.EndpointID != "" && d.endpointID != q.EndpointID) {
			continue
		}
		for _, a := range d.log {
			if q.Cursor == "" || a.ID > q.Cursor {
				hits = append(hits, a)
			}
		}
	}
	slices.SortFunc(hits, func(a, b *Attempt) int { return strings.Compare(a.ID, b.ID) })
	next := ""
	if len(hits) > limit {
		hits = hits[:limit]
		next = hits[limit-1].ID
	}
	out := make([]*Attempt, len(hits))
	for i, a := range hits {
		c := *a
		out[i] = &c
	}
	return out, next, nil
}

// Requeue implements Store.
func (s *MemoryStore) Requeue(ctx context.Context, p RequeueParams) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	at := nanos(p.At)
	s.mu.Lock()
	defer s.mu.Unlock()
	var src []*memDelivery
	switch {
	case p.DeliveryID != "":
		d, ok := s.deliveries[p.DeliveryID]
		if !ok {
			return 0, fmt.Errorf("%w: delivery %s", ErrNotFound, p.DeliveryID)
		}
		src = []*memDelivery{d}
	case p.EndpointID != "":
		src = s.byEndpoint[p.EndpointID]
	default:
		return 0, invalid("requeue", "give a delivery ID or an endpoint ID")
	}
	state := p.State
	if state == "" {
		state = StateFailed
	}
	since := nanos(p.Since)
	n := 0
	for _, d := range src {
		if d.st == memDeleted {
			continue
		}
		if p.DeliveryID == "" && (d.st != toMemState(state) || d.created < since) {
			continue
		}
		n++
		d.next = at
		d.updated = at
		if d.st != memPending {
			d.st = memPending
			s.countLocked(d, 1)
			s.queueLocked(d)
		} else if d.lease == 0 {
			s.fixLocked(d)
		}
	}
	if n > 0 && at <= time.Now().UnixNano() {
		s.signalLocked()
	}
	s.armTopLocked()
	return n, nil
}

// Stats implements Store.
func (s *MemoryStore) Stats(ctx context.Context, q StatsQuery) (*Stats, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	since := nanos(q.Since)
	st := &Stats{Counts: map[DeliveryState]int{StatePending: 0, StateSucceeded: 0, StateFailed: 0}}
	var durs []time.Duration
	s.mu.Lock()
	for _, d := range s.candidatesLocked("", q.EndpointID) {
		if d.st == memDeleted || (q.Tenant != "" && d.msg.msg.Tenant != q.Tenant) {
			continue
		}
		if d.created >= since {
			st.Counts[d.st.public()]++
		}
		for _, a := range d.log {
			if nanos(a.StartedAt) < since {
				continue
			}
			st.Attempts++
			if a.Succeeded() {
				st.SucceededAttempts++
			}
			durs = append(durs, a.Duration)
		}
	}
	s.mu.Unlock()
	st.LatencyP50, st.LatencyP95 = percentile(durs, 0.50), percentile(durs, 0.95)
	return st, nil
}

// percentile sorts ds and returns its p-quantile (nearest rank), 0 if empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds))*p+0.5) - 1
	i = max(0, min(i, len(ds)-1))
	return ds[i]
}

// Purge implements Store.
func (s *MemoryStore) Purge(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b := nanos(before)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	touched := map[string]bool{}
	for _, d := range s.deliveries {
		if n >= limit {
			break
		}
		if (d.st == memSucceeded || d.st == memFailed) && d.updated < b {
			s.removeDelivery(d)
			touched[d.endpointID] = true
			if len(d.msg.deliveries) == 0 {
				delete(s.messages, d.msg.msg.ID)
			}
			n++
		}
	}
	for id := range touched {
		s.byEndpoint[id] = slices.DeleteFunc(s.byEndpoint[id], func(d *memDelivery) bool { return d.st == memDeleted })
	}
	return n, nil
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

// memQueue holds one endpoint's pending deliveries in a heap by key; the
// store keeps a heap of these queues by their earliest key, so a claim can
// pass over a whole endpoint (SkipEndpoints) in O(log endpoints).
type memQueue struct {
	endpointID string
	h          dueHeap
	idx        int32 // position in the queue heap, -1 when not in it
}

func (s *MemoryStore) queueLocked(d *memDelivery) {
	q := s.queueOf[d.endpointID]
	if q == nil {
		q = &memQueue{endpointID: d.endpointID, idx: -1}
		s.queueOf[d.endpointID] = q
	}
	q.h.push(entry[*memDelivery]{d.key(), d})
	s.fixQueueLocked(q)
}

// fixLocked restores heap order after d's key changed.
func (s *MemoryStore) fixLocked(d *memDelivery) {
	q := s.queueOf[d.endpointID]
	q.h[d.idx].key = d.key()
	q.h.fix(int(d.idx))
	s.fixQueueLocked(q)
}

func (s *MemoryStore) unqueueLocked(d *memDelivery) {
	if d.idx < 0 {
		return
	}
	q := s.queueOf[d.endpointID]
	q.h.remove(int(d.idx))
	s.fixQueueLocked(q)
}

// fixQueueLocked puts q where its earliest key belongs in the queue heap.
func (s *MemoryStore) fixQueueLocked(q *memQueue) {
	switch {
	case len(q.h) == 0:
		if q.idx >= 0 {
			s.queues.remove(int(q.idx))
		}
	case q.idx < 0:
		s.queues.push(entry[*memQueue]{q.h[0].key, q})
	default:
		s.queues[q.idx].key = q.h[0].key
		s.queues.fix(int(q.idx))
	}
}

// Both heaps keep each entry's key beside its pointer, so ordering them
// reads one contiguous array instead of chasing a pointer per comparison
// (which is what keeps a claim's cost close to flat from 1k to 1M pending),
// and both are 4-ary: a node's four children are 64 contiguous bytes, one
// cache line, and the tree is half as deep as a binary one.

// indexed is an element that knows its position in its heap.
type indexed interface{ setIdx(int32) }

func (d *memDelivery) setIdx(i int32) { d.idx = i }
func (q *memQueue) setIdx(i int32)    { q.idx = i }

// entry is an element of a keyHeap with its key.
type entry[T indexed] struct {
	key int64
	v   T
}

// keyHeap is a 4-ary min-heap by key whose elements track their index.
type keyHeap[T indexed] []entry[T]

// dueHeap holds an endpoint's pending deliveries; queueHeap holds the
// endpoint queues, keyed by their earliest delivery.
type (
	dueHeap   = keyHeap[*memDelivery]
	queueHeap = keyHeap[*memQueue]
)

func (h keyHeap[T]) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].v.setIdx(int32(i))
	h[j].v.setIdx(int32(j))
}

func (h keyHeap[T]) up(j int) {
	for j > 0 {
		i := (j - 1) / 4
		if h[i].key <= h[j].key {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h keyHeap[T]) down(i int) bool {
	i0, n := i, len(h)
	for {
		first := 4*i + 1
		if first >= n {
			break
		}
		j := first
		for c := first + 1; c < first+4 && c < n; c++ {
			if h[c].key < h[j].key {
				j = c
			}
		}
		if h[i].key <= h[j].key {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

func (h keyHeap[T]) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h *keyHeap[T]) push(e entry[T]) {
	e.v.setIdx(int32(len(*h)))
	*h = append(*h, e)
	h.up(len(*h) - 1)
}

func (h *keyHeap[T]) remove(i int) {
	old := *h
	n := len(old) - 1
	v := old[i].v
	if i != n {
		old.swap(i, n)
	}
	old[n] = entry[T]{}
	*h = old[:n]
	if i != n {
		h.fix(i)
	}
	v.setIdx(-1)
}
