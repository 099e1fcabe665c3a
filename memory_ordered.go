package webhook

// Ordered delivery in the memory store. An ordered delivery carries a
// memOrdered (its key and its place in store order); unordered ones carry
// nil, so the option costs them one pointer and nothing on the claim path.
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

// orderQueueLocked returns d's queue, nil when it has none (no head).
func (s *MemoryStore) orderQueueLocked(d *memDelivery) *memOrderQueue {
	return s.orderQueues[d.endpointID][d.ord.key]
}

// addOrderedLocked gives md, a new delivery stored as d, its place in store
// order when d is ordered.
func (s *MemoryStore) addOrderedLocked(md *memDelivery, d *Delivery) {
	if !d.Ordered {
		return
	}
	s.orderSeq++
	md.ord = &memOrdered{d: md, key: d.OrderingKey, seq: s.orderSeq, widx: -1}
}

// enqueueLocked makes the pending delivery d claimable: an unordered one
// or the head of a queue goes into the due heaps; an ordered one behind a
// head waits. It reports whether d went into the due heaps.
func (s *MemoryStore) enqueueLocked(d *memDelivery) bool {
	if d.ord == nil {
		s.queueLocked(d)
		return true
	}
	byKey := s.orderQueues[d.endpointID]
	if byKey == nil {
		byKey = map[string]*memOrderQueue{}
		s.orderQueues[d.endpointID] = byKey
	}
	q := byKey[d.ord.key]
	if q == nil {
		byKey[d.ord.key] = &memOrderQueue{head: d}
		d.ord.waiting = false
		s.queueLocked(d)
		return true
	}
	if q.head == d || d.ord.waiting {
		return false // in place already
	}
	d.ord.waiting = true
	q.waiting.push(entry[*memOrdered]{int64(d.ord.seq), d.ord})
	return false
}

// finishOrderedLocked runs when d has just finished (succeeded or failed,
// and is out of the due heaps): if it was its queue's head, the waiting
// delivery stored first becomes the head, due at its NextAttemptAt. It
// reports whether that new head is due at now (unix nanos).
func (s *MemoryStore) finishOrderedLocked(d *memDelivery, now int64) bool {
	if d.ord == nil {
		return false
	}
	q := s.orderQueueLocked(d)
	if q == nil || q.head != d {
		return false
	}
	if len(q.waiting) == 0 {
		byKey := s.orderQueues[d.endpointID]
		delete(byKey, d.ord.key)
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
	return next.d.next <= now
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
			d.ord = nil
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
	if d.ord == nil || !d.ord.waiting {
		return ""
	}
	if q := s.orderQueueLocked(d); q != nil && q.head != nil {
		return q.head.id
	}
	return ""
}
