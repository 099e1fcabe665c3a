package webhook

import "time"

// Ordered delivery in the memory store. An ordered delivery has its
// ordered flag set (in what was padding of memDelivery) and a memOrdered
// (its key and its place in store order) in MemoryStore.ordInfo; unordered
// deliveries cost not a byte more, and nothing on the claim path.
//
// A queue, one per (endpoint, ordering key) with pending deliveries, has
// exactly one head, in its endpoint's due heap like any pending delivery,
// and a heap of waiting deliveries by sequence that no claim walks. A
// queue exists exactly while it has a head.

// memOrdered is what an ordered delivery adds to a memDelivery.
type memOrdered struct {
	d       *memDelivery
	key     string
	seq     uint64 // store order, from MemoryStore.orderSeq
	widx    int32  // position in its queue's waiting heap, -1 when not in it
	waiting bool
}

func (o *memOrdered) setIdx(i int32) { o.widx = i }

// memOrderQueue is one queue: its head and the deliveries waiting behind it.
type memOrderQueue struct {
	head    *memDelivery
	waiting keyHeap[*memOrdered] // by seq
}

// ordLocked returns d's ordered state, nil for an unordered delivery.
func (s *MemoryStore) ordLocked(d *memDelivery) *memOrdered {
	if !d.ordered {
		return nil
	}
	return s.ordInfo[d]
}

// orderQueueLocked returns the queue of o, nil when it has none (no head).
func (s *MemoryStore) orderQueueLocked(o *memOrdered) *memOrderQueue {
	return s.orderQueues[o.d.endpointID][o.key]
}

// dropOrderedLocked forgets the ordered state of d, removed from the store.
func (s *MemoryStore) dropOrderedLocked(d *memDelivery) {
	if d.ordered {
		delete(s.ordInfo, d)
		d.ordered = false
	}
}

// addOrderedLocked gives md, a new delivery stored as d, its place in store
// order when d is ordered.
func (s *MemoryStore) addOrderedLocked(md *memDelivery, d *Delivery) {
	if !d.Ordered {
		return
	}
	s.orderSeq++
	md.ordered = true
	s.ordInfo[md] = &memOrdered{d: md, key: d.OrderingKey, seq: s.orderSeq, widx: -1}
}

// enqueueLocked makes the pending delivery d claimable: an unordered one
// or the head of a queue goes into the due heaps; an ordered one behind a
// head waits. It reports whether d went into the due heaps.
func (s *MemoryStore) enqueueLocked(d *memDelivery) bool {
	o := s.ordLocked(d)
	if o == nil {
		s.queueLocked(d)
		return true
	}
	byKey := s.orderQueues[d.endpointID]
	if byKey == nil {
		byKey = map[string]*memOrderQueue{}
		s.orderQueues[d.endpointID] = byKey
	}
	q := byKey[o.key]
	if q == nil {
		byKey[o.key] = &memOrderQueue{head: d}
		o.waiting = false
		s.queueLocked(d)
		return true
	}
	if q.head == d || o.waiting {
		return false // in place already
	}
	o.waiting = true
	q.waiting.push(entry[*memOrdered]{int64(o.seq), o})
	return false
}

// finishOrderedLocked runs when d has just finished (succeeded or failed,
// and is out of the due heaps): if it was its queue's head, the waiting
// delivery stored first becomes the head, due at its NextAttemptAt. It
// reports whether that new head is due at now (the record's clock, unix
// nanos) or by the wall clock: then no timer will say so, and the caller
// signals.
func (s *MemoryStore) finishOrderedLocked(d *memDelivery, now int64) bool {
	o := s.ordLocked(d)
	if o == nil {
		return false
	}
	q := s.orderQueueLocked(o)
	if q == nil || q.head != d {
		return false
	}
	if len(q.waiting) == 0 {
		byKey := s.orderQueues[d.endpointID]
		delete(byKey, o.key)
		if len(byKey) == 0 {
			delete(s.orderQueues, d.endpointID)
		}
		return false
	}
	next := q.waiting[0].v
	q.waiting.remove(0)
	next.waiting = false
	q.head = next.d
	s.queueLocked(next.d)
	return next.d.next <= now || next.d.next <= time.Now().UnixNano()
}

// releaseOrderedLocked makes the waiting deliveries of an endpoint
// unordered and due at their NextAttemptAt (Ordered turned off), and
// reports whether one of them is due at now. Heads stay heads until they
// finish; their queues then end, as nothing waits behind them.
func (s *MemoryStore) releaseOrderedLocked(endpointID string, now int64) bool {
	due := false
	for _, q := range s.orderQueues[endpointID] {
		for _, e := range q.waiting {
			d := e.v.d
			s.dropOrderedLocked(d)
			s.queueLocked(d)
			due = due || d.next <= now
		}
		q.waiting = nil
	}
	return due
}

// waitingForLocked is the ID of the head d waits behind, "" when d does not
// wait.
func (s *MemoryStore) waitingForLocked(d *memDelivery) string {
	o := s.ordLocked(d)
	if o == nil || !o.waiting {
		return ""
	}
	if q := s.orderQueueLocked(o); q != nil && q.head != nil {
		return q.head.id
	}
	return ""
}
