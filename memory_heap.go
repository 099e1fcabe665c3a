package webhook

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
