package webhook

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

var _ Replayer = (*MemoryStore)(nil)

// MissingMessages implements Replayer. It sorts the tenant's messages since
// q.Since on every page: fine for what a process holds in memory.
func (s *MemoryStore) MissingMessages(ctx context.Context, q MissingQuery) ([]*Message, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	limit := PageLimit(q.Limit)
	var afterT int64
	var afterID string
	if q.Cursor != "" {
		t, id, ok := strings.Cut(q.Cursor, "/")
		n, err := strconv.ParseInt(t, 10, 64)
		if !ok || err != nil {
			return nil, "", invalid("cursor", "%q was not returned by MissingMessages", q.Cursor)
		}
		afterT, afterID = n, id
	}
	since := nanos(q.Since)
	s.mu.Lock()
	var cand []*memMessage
	for _, m := range s.messages {
		if m.msg.Tenant != q.Tenant {
			continue
		}
		c := nanos(m.msg.CreatedAt)
		if c < since || q.Cursor != "" && (c < afterT || c == afterT && m.msg.ID <= afterID) {
			continue
		}
		if slices.ContainsFunc(m.deliveries, func(d *memDelivery) bool { return d.endpointID == q.EndpointID }) {
			continue
		}
		cand = append(cand, m)
	}
	slices.SortFunc(cand, func(a, b *memMessage) int {
		if c := a.msg.CreatedAt.Compare(b.msg.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.msg.ID, b.msg.ID)
	})
	cand, next := Page(cand, limit, func(m *memMessage) string {
		return strconv.FormatInt(nanos(m.msg.CreatedAt), 10) + "/" + m.msg.ID
	})
	out := make([]*Message, len(cand))
	for i, m := range cand {
		out[i] = copyMessage(m.msg)
	}
	s.mu.Unlock()
	return out, next, nil
}

// InsertDeliveries implements Replayer.
func (s *MemoryStore) InsertDeliveries(ctx context.Context, ds []*Delivery) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		if _, ok := s.messages[d.MessageID]; !ok {
			return 0, fmt.Errorf("%w: message %s", ErrNotFound, d.MessageID)
		}
		if _, ok := s.deliveries[d.ID]; ok {
			return 0, fmt.Errorf("%w: delivery %s exists", ErrConflict, d.ID)
		}
	}
	now, due, n := time.Now().UnixNano(), false, 0
	for _, d := range ds {
		m := s.messages[d.MessageID]
		ep, ok := s.endpoints[d.EndpointID]
		if !ok {
			continue
		}
		if slices.ContainsFunc(m.deliveries, func(x *memDelivery) bool { return x.endpointID == d.EndpointID }) {
			continue
		}
		due = s.addDeliveryLocked(m, ep, d, &memDelivery{}, now) || due
		n++
	}
	if due {
		s.signalLocked()
	}
	s.armTopLocked()
	return n, nil
}
