package webhook

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"
)

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
	// Copies, as the Store contract asks of every returned object (the
	// message's payload is shared, which the contract allows), made in one
	// allocation with the Claimed that points to them.
	c := new(claimedCopies)
	c.delivery = s.deliveryOf(d)
	c.msg = messageCopy(d.msg.msg)
	c.endpoint = endpointCopy(s.endpoints[d.endpointID])
	c.Claimed = Claimed{
		Delivery:       &c.delivery,
		Message:        &c.msg,
		Endpoint:       &c.endpoint,
		Lease:          strconv.FormatUint(d.lease, 36),
		LeaseExpiresAt: fromNanos(d.leaseExp),
	}
	return &c.Claimed
}

// claimedCopies is a Claimed with the objects it points to.
type claimedCopies struct {
	Claimed
	delivery Delivery
	msg      Message
	endpoint Endpoint
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
	out := s.deliveryOf(d)
	return &out
}

func (s *MemoryStore) deliveryOf(d *memDelivery) Delivery {
	m := d.msg.msg
	return Delivery{
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
