package webhook

import (
	"sync"
	"time"
)

// admission decides which claimed deliveries get a worker now. It owns the
// worker tokens (one per worker: the claimer takes tokens before claiming,
// so it never claims more than the free workers can start), the count of
// attempts in flight per endpoint, and the deliveries held back because
// their endpoint was at its in-flight cap (they keep their lease and wait
// without a worker).
//
// A delivery's path: the claimer takes tokens (acquire), starts the held
// deliveries whose endpoints have room again (takeReady), claims, and hands
// each claim to admit; admitted ones go to a worker, and the tokens of the
// rest come back at once (unused). A worker that finishes an attempt calls
// release, which may give it a held delivery of the same endpoint to run
// next; when it has none, the worker's token comes back (done). At
// shutdown, drainHeld hands what is still held to be put back.
//
// Lock order: admission.mu, then health.mu (admission asks health for an
// endpoint's cap while holding its own lock; health never calls into
// admission). Dispatcher.mu guards only the lifecycle and is never held
// together with either.
type admission struct {
	health *health
	now    func() time.Time
	wake   func() // tells the claimer an endpoint is claimable again

	tokens chan struct{}

	mu       sync.Mutex
	inflight map[string]int        // endpoint id -> attempts running
	held     map[string][]*Claimed // endpoint id -> claimed, waiting for a slot
}

func newAdmission(workers int, h *health, now func() time.Time, wake func()) *admission {
	a := &admission{
		health: h, now: now, wake: wake,
		tokens:   make(chan struct{}, workers),
		inflight: map[string]int{},
		held:     map[string][]*Claimed{},
	}
	for range workers {
		a.tokens <- struct{}{}
	}
	return a
}

// acquire waits for one free worker, then takes as many more as are free,
// up to max. It returns 0 when stop closes first.
func (a *admission) acquire(stop <-chan struct{}, max int) int {
	select {
	case <-a.tokens:
	case <-stop:
		return 0
	}
	n := 1
	for n < max {
		select {
		case <-a.tokens:
			n++
		default:
			return n
		}
	}
	return n
}

// unused returns n tokens the claimer took but did not hand to a worker.
func (a *admission) unused(n int) {
	for range n {
		a.tokens <- struct{}{}
	}
}

// done returns a worker's token once it has nothing more to run.
func (a *admission) done() { a.tokens <- struct{}{} }

// saturated lists the endpoints at their in-flight limit (see
// health.limit) or paused by their breaker: the claimer skips them.
func (a *admission) saturated() []string {
	now := a.now()
	out := a.health.paused(now)
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, n := range a.inflight {
		if n >= a.health.limit(id, now) {
			out = append(out, id)
		}
	}
	return out
}

// admit counts c against its endpoint's in-flight limit; past it, c is
// held back (it keeps its lease) and admit reports false. A delivery
// redelivered by an operator passes the cap.
func (a *admission) admit(c *Claimed) bool {
	id := c.Delivery.EndpointID
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight[id] >= a.health.limit(id, a.now()) && !a.health.bypassed(c.Delivery.ID) {
		a.held[id] = append(a.held[id], c)
		return false
	}
	a.inflight[id]++
	return true
}

// release ends an attempt on endpoint id and returns a held delivery of the
// same endpoint to run next on the same worker, if there is one and the
// endpoint's limit (which answers raise, and back-pressure, timeouts or
// the breaker lower) allows it. When the limit has grown past what is
// running and deliveries are still held, it wakes the claimer, which
// starts them on free workers (takeReady).
func (a *admission) release(id string) *Claimed {
	a.mu.Lock()
	defer a.mu.Unlock()
	limit := a.health.limit(id, a.now())
	if h := a.held[id]; len(h) > 0 && a.inflight[id] <= limit {
		c := h[0]
		h[0] = nil
		if len(h) == 1 {
			delete(a.held, id)
		} else {
			a.held[id] = h[1:]
			if a.inflight[id] < limit {
				a.wake()
			}
		}
		return c
	}
	a.inflight[id]--
	if a.inflight[id] <= 0 {
		delete(a.inflight, id)
	}
	if a.inflight[id] == limit-1 {
		a.wake() // the endpoint is claimable again
	}
	return nil
}

// takeReady takes up to n held deliveries whose endpoints have room now
// (their limit grew since they were held), counted in flight: the claimer
// starts them before claiming more.
func (a *admission) takeReady(n int) []*Claimed {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*Claimed
	now := a.now()
	for id, h := range a.held {
		room := min(a.health.limit(id, now)-a.inflight[id], n-len(out))
		if room <= 0 {
			continue
		}
		room = min(room, len(h))
		out = append(out, h[:room]...)
		clear(h[:room])
		if room == len(h) {
			delete(a.held, id)
		} else {
			a.held[id] = h[room:]
		}
		a.inflight[id] += room
		if len(out) == n {
			break
		}
	}
	return out
}

// drainHeld takes every held delivery, for the caller to put back.
func (a *admission) drainHeld() []*Claimed {
	a.mu.Lock()
	defer a.mu.Unlock()
	var rest []*Claimed
	for id, h := range a.held {
		rest = append(rest, h...)
		delete(a.held, id)
	}
	return rest
}
