package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ListEndpoints implements Store.
func (s *MemoryStore) ListEndpoints(ctx context.Context, q EndpointQuery) ([]*Endpoint, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	limit := PageLimit(q.Limit)
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
	all, next := Page(all, limit, func(ep *Endpoint) string { return ep.ID })
	out := make([]*Endpoint, len(all))
	for i, ep := range all {
		out[i] = copyEndpoint(ep)
	}
	return out, next, nil
}

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
	limit := PageLimit(q.Limit)
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
	hits, next := Page(hits, limit, func(d *memDelivery) string { return d.id })
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
	limit := PageLimit(q.Limit)
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
	hits, next := Page(hits, limit, func(a *Attempt) string { return a.ID })
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
		switch {
		case d.st != memPending:
			d.st = memPending
			s.countLocked(d, 1)
			s.enqueueLocked(d) // an ordered one takes its old place in its queue
		case d.idx >= 0 && d.lease == 0:
			s.fixLocked(d) // a waiting one (not in the due heaps) stays waiting
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
