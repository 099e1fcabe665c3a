package webhook

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// HealthPolicy tunes how the dispatcher treats struggling endpoints: circuit
// breaking, back-pressure and auto-disable. Zero fields take the defaults
// given on each.
//
// Beside these, an endpoint's attempts in flight are bounded by what its
// answers earned it (see Config.MaxInFlightPerEndpoint): an endpoint that
// never answers holds at most InitialInFlight (2) workers until its first
// timeout, then 1,
// so endpoints that hang cannot take the workers other endpoints need.
//
// Breaker and back-pressure state live in each Dispatcher's memory: a
// restart starts every endpoint closed and at full concurrency, and several
// instances each keep their own (each lets its own probe through). The
// failure run used by auto-disable is kept on the endpoint
// (Endpoint.FailingSince), so it survives restarts and is shared by
// instances.
type HealthPolicy struct {
	// BreakerThreshold is how many attempts to an endpoint must fail in a
	// row, without an answer (connection refused, timeout) or with a 5xx,
	// before its circuit breaker opens. While it is open the endpoint's due
	// deliveries wait, without using up attempts; after the cool-down one
	// probe goes out at a time: a success closes the breaker, a failure
	// reopens it with twice the cool-down. Any answer other than a 5xx
	// (2xx, 3xx, 4xx) shows the endpoint is up and closes it. Defaults
	// to BreakerThresholdDefault (5).
	BreakerThreshold int
	// BreakerCooldown is how long the breaker stays open the first time.
	// Defaults to BreakerCooldownDefault (30 seconds).
	BreakerCooldown time.Duration
	// BreakerMaxCooldown caps the doubling cool-down. Defaults to
	// BreakerMaxCooldownDefault (10 minutes).
	BreakerMaxCooldown time.Duration
	// DisableBreaker turns circuit breaking off. Defaults to false.
	DisableBreaker bool
	// BackPressureWindow is how long an endpoint that answered 429, 502 or
	// 504 runs at half its in-flight cap (halving again on such an answer
	// to a request sent after the last cut, down to 1); after each quiet
	// window the cap doubles until it is back to
	// Config.MaxInFlightPerEndpoint. Defaults to BackPressureWindowDefault
	// (30 seconds).
	BackPressureWindow time.Duration
	// AutoDisableAfter disables an endpoint whose attempts have all failed
	// for this long (counted from Endpoint.FailingSince), with a reason and
	// the EndpointDisabled hook. Defaults to AutoDisableAfterDefault (5
	// days).
	AutoDisableAfter time.Duration
	// KeepFailingEndpoints turns auto-disable off. Defaults to false.
	KeepFailingEndpoints bool
	// InitialInFlight is how many attempts an endpoint may have in flight
	// before it has answered any; each answer raises it by one up to
	// Config.MaxInFlightPerEndpoint, and an attempt without an answer (a
	// timeout, a refused or reset connection) sets it back to 1 until the
	// endpoint answers again. Set it to MaxInFlightPerEndpoint to start
	// every endpoint at the full cap. Defaults to InitialInFlightDefault
	// (2).
	InitialInFlight int
	// FailingAfter is how many attempts to an endpoint must fail in a row
	// (any failure, 4xx included) for the EndpointFailing hook to fire,
	// unless its breaker opened first (which fires it too). Defaults to
	// BreakerThreshold.
	FailingAfter int
}

func (p HealthPolicy) withDefaults() (HealthPolicy, error) {
	if err := firstError(
		notNegative("Health.BreakerThreshold", p.BreakerThreshold),
		notNegative("Health.BreakerCooldown", p.BreakerCooldown),
		notNegative("Health.BreakerMaxCooldown", p.BreakerMaxCooldown),
		notNegative("Health.BackPressureWindow", p.BackPressureWindow),
		notNegative("Health.AutoDisableAfter", p.AutoDisableAfter),
		notNegative("Health.InitialInFlight", p.InitialInFlight),
		notNegative("Health.FailingAfter", p.FailingAfter),
	); err != nil {
		return p, err
	}
	orDefault(&p.InitialInFlight, InitialInFlightDefault)
	orDefault(&p.BreakerThreshold, BreakerThresholdDefault)
	orDefault(&p.FailingAfter, p.BreakerThreshold)
	orDefault(&p.BreakerCooldown, BreakerCooldownDefault)
	orDefault(&p.BreakerMaxCooldown, BreakerMaxCooldownDefault)
	p.BreakerMaxCooldown = max(p.BreakerMaxCooldown, p.BreakerCooldown)
	orDefault(&p.BackPressureWindow, BackPressureWindowDefault)
	orDefault(&p.AutoDisableAfter, AutoDisableAfterDefault)
	return p, nil
}

// health is a dispatcher's in-memory view of its endpoints' health, and the
// gate every claimed delivery passes before its attempt.
type health struct {
	p      HealthPolicy
	maxCap int // Config.MaxInFlightPerEndpoint

	mu     sync.Mutex
	eps    map[string]*epHealth
	open   map[string]*epHealth // endpoints whose breaker is not closed
	urgent []string             // delivery IDs redelivered by an operator, to claim directly
	bypass map[string]bool      // claimed urgent deliveries: no breaker, cap or rate applies
}

// epHealth is one endpoint's state.
type epHealth struct {
	// Circuit breaker.
	fails     int           // breaker failures in a row
	openUntil time.Time     // zero: closed; past: half-open
	cooldown  time.Duration // the current cool-down
	probing   bool          // a probe is in flight

	// Earned concurrency: an endpoint may have as many attempts in flight
	// as its answers earned it, InitialInFlight at first, one more per
	// answer up to the cap; an attempt without an answer sets it back to 1.
	earned int // 0: nothing earned or lost yet (InitialInFlight)

	// Back-pressure: capNow is the lowered in-flight cap (0: not lowered)
	// until capUntil.
	capNow   int
	capUntil time.Time
	lastCut  time.Time

	// Rate limit.
	lim      *rate.Limiter
	limRate  float64
	reserved map[string]time.Time // delivery ID -> the rate slot it was deferred to

	// Auto-disable.
	failingSince time.Time // the failure run's start as this instance knows it
	persisted    bool      // the store holds a FailingSince (as far as we know)
	seenUpdate   time.Time // newest endpoint UpdatedAt taken into account
	disabled     bool      // disabled by this instance

	// Operational hooks: streak counts failed attempts in a row;
	// failing is set once EndpointFailing fired, until EndpointRecovered.
	streak  int
	failing bool
}

func newHealth(p HealthPolicy, maxCap int) *health {
	return &health{p: p, maxCap: maxCap, eps: map[string]*epHealth{}, open: map[string]*epHealth{}, bypass: map[string]bool{}}
}

func (h *health) stateLocked(id string) *epHealth {
	st := h.eps[id]
	if st == nil {
		st = &epHealth{}
		h.eps[id] = st
	}
	return st
}

// reset forgets an endpoint's state (it was enabled again or deleted).
func (h *health) reset(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.eps, id)
	delete(h.open, id)
}

// capFor is the in-flight cap of endpoint id now: 1 while its breaker is
// not closed (one probe at a time), lowered under back-pressure, else
// Config.MaxInFlightPerEndpoint.
func (h *health) capFor(id string, now time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.eps[id]
	if st == nil {
		return h.maxCap
	}
	return h.capLocked(st, now)
}

func (h *health) capLocked(st *epHealth, now time.Time) int {
	if !st.openUntil.IsZero() {
		return 1
	}
	return h.throttleCapLocked(st, now)
}

// limit is how many attempts endpoint id may have in flight now: capFor,
// bounded by what its answers earned it (see epHealth.earned). Admission
// goes by it.
func (h *health) limit(id string, now time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.eps[id]
	if st == nil {
		return min(h.p.InitialInFlight, h.maxCap)
	}
	e := st.earned
	if e == 0 {
		e = h.p.InitialInFlight
	}
	return min(e, h.capLocked(st, now))
}

// throttleCapLocked returns the lowered cap, doubling it back for every
// window that passed without new back-pressure.
func (h *health) throttleCapLocked(st *epHealth, now time.Time) int {
	for st.capNow != 0 && !now.Before(st.capUntil) {
		st.capNow *= 2
		st.capUntil = st.capUntil.Add(h.p.BackPressureWindow)
		if st.capNow >= h.maxCap {
			st.capNow = 0
		}
	}
	if st.capNow == 0 {
		return h.maxCap
	}
	return st.capNow
}

// paused lists the endpoints whose deliveries must not be claimed now: the
// breaker is open, or half-open with its probe in flight.
func (h *health) paused(now time.Time) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for id, st := range h.open {
		if now.Before(st.openUntil) || st.probing {
			out = append(out, id)
		}
	}
	return out
}

// markUrgent queues a redelivered delivery to be claimed at once, past the
// breaker and the limits.
func (h *health) markUrgent(deliveryID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.urgent = append(h.urgent, deliveryID)
}

func (h *health) takeUrgent(n int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	n = min(n, len(h.urgent))
	out := h.urgent[:n:n]
	h.urgent = h.urgent[n:]
	if len(h.urgent) == 0 {
		h.urgent = nil
	}
	return out
}

func (h *health) setBypass(deliveryID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bypass[deliveryID] = true
}

func (h *health) bypassed(deliveryID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bypass[deliveryID]
}

// gate decides whether a claimed delivery is attempted now. When it is not,
// it returns when the delivery should come due again: the end of the
// breaker's cool-down, or the rate limit's next free slot for it.
func (h *health) gate(c *Claimed, now time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bypass[c.Delivery.ID] {
		delete(h.bypass, c.Delivery.ID)
		return time.Time{}, true
	}
	ep := c.Endpoint
	if ep == nil || ep.Disabled {
		return time.Time{}, true // the attempt fails it without a request
	}
	st := h.stateLocked(ep.ID)
	probe := false
	if !st.openUntil.IsZero() {
		if now.Before(st.openUntil) || st.probing {
			at := st.openUntil
			if !at.After(now) {
				at = now.Add(st.cooldown)
			}
			// Spread the deferred deliveries over a tenth of the cool-down so
			// they do not all come due in the same instant.
			return at.Add(rand.N(st.cooldown/10 + 1)), false
		}
		probe = true
	}
	if at, ok := h.rateLocked(st, c, now); !ok {
		return at, false
	}
	if probe {
		st.probing = true
	}
	return time.Time{}, true
}

// rateLocked applies the endpoint's RateLimit. A delivery over the limit
// reserves the next free slot and is deferred to it; when it comes back at
// that slot it goes out without taking another token. The limiter is this
// instance's: several instances each allow the full rate.
func (h *health) rateLocked(st *epHealth, c *Claimed, now time.Time) (time.Time, bool) {
	r := c.Endpoint.RateLimit
	if r <= 0 {
		st.lim, st.limRate, st.reserved = nil, 0, nil
		return time.Time{}, true
	}
	burst := max(1, int(r))
	if st.lim == nil {
		st.lim = rate.NewLimiter(rate.Limit(r), burst)
	} else if st.limRate != r {
		st.lim.SetLimitAt(now, rate.Limit(r))
		st.lim.SetBurstAt(now, burst)
	}
	st.limRate = r
	if slot, ok := st.reserved[c.Delivery.ID]; ok {
		if now.Before(slot) {
			return slot, false
		}
		delete(st.reserved, c.Delivery.ID)
		return time.Time{}, true
	}
	res := st.lim.ReserveN(now, 1)
	if !res.OK() {
		return time.Time{}, true
	}
	delay := res.DelayFrom(now)
	if delay <= 0 {
		return time.Time{}, true
	}
	if st.reserved == nil {
		st.reserved = map[string]time.Time{}
	}
	if len(st.reserved) >= 4096 { // slots nobody came back for (claimed elsewhere, deleted)
		for id, t := range st.reserved {
			if now.Sub(t) > time.Minute {
				delete(st.reserved, id)
			}
		}
	}
	slot := now.Add(delay)
	st.reserved[c.Delivery.ID] = slot
	return slot, false
}

// healthNote is what observe decided that needs the store.
type healthNote struct {
	setFailing   bool // persist FailingSince = failingSince (zero: clear it)
	failingSince time.Time
	disable      string // disable the endpoint with this reason
	failing      bool   // fire EndpointFailing (breaker opened or streak reached)
	recovered    bool   // fire EndpointRecovered (first success after failing)
}

// breakerFailure reports whether an attempt counts against the breaker: no
// answer at all, or a 5xx.
func breakerFailure(a *Attempt) bool { return a.StatusCode == 0 || a.StatusCode >= 500 }

// backPressure reports whether an answer asks the sender to slow down.
func backPressure(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusBadGateway || status == http.StatusGatewayTimeout
}

// observe updates an endpoint's state with an attempt's outcome. a is nil
// when no request was made (the delivery was put back, or failed without an
// attempt).
func (h *health) observe(ep *Endpoint, a *Attempt, now time.Time) healthNote {
	if ep == nil {
		return healthNote{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.stateLocked(ep.ID)
	wasProbe := st.probing
	st.probing = false
	if a == nil {
		return healthNote{}
	}
	// An answer of any kind earns one attempt more in flight; none (a
	// timeout, a refused or reset connection) takes the endpoint back to
	// one at a time, so endpoints that hang cannot hold the workers.
	if a.StatusCode != 0 {
		st.earned = min(max(st.earned, h.p.InitialInFlight)+1, h.maxCap)
	} else {
		st.earned = 1
	}
	// Adopt the stored failure run when the endpoint changed since we last
	// looked (another instance wrote it, or it was enabled again).
	if ep.UpdatedAt.After(st.seenUpdate) {
		st.adoptLocked(ep)
	}
	var note healthNote
	if a.Succeeded() {
		st.streak = 0
		if st.failing {
			st.failing, note.recovered = false, true
		}
		st.fails, st.openUntil, st.cooldown = 0, time.Time{}, 0
		delete(h.open, ep.ID)
		st.failingSince = time.Time{}
		if st.persisted {
			st.persisted = false
			note.setFailing = true
		}
		return note
	}

	if !h.p.DisableBreaker {
		switch {
		case !breakerFailure(a):
			st.fails, st.openUntil, st.cooldown = 0, time.Time{}, 0
			delete(h.open, ep.ID)
		case !st.openUntil.IsZero():
			if wasProbe || !now.Before(st.openUntil) {
				st.cooldown = min(2*st.cooldown, h.p.BreakerMaxCooldown)
				st.openUntil = now.Add(st.cooldown)
			}
		default:
			st.fails++
			if st.fails >= h.p.BreakerThreshold {
				st.cooldown = h.p.BreakerCooldown
				st.openUntil = now.Add(st.cooldown)
				h.open[ep.ID] = st
				note.failing = !st.failing
				st.failing = true
			}
		}
	}
	st.streak++
	if st.streak >= h.p.FailingAfter && !st.failing {
		st.failing, note.failing = true, true
	}
	start := a.StartedAt
	if start.IsZero() {
		start = now
	}
	// Back-pressure halves the cap once per round trip, as TCP does: an
	// answer to a request sent before the last cut says nothing new.
	if backPressure(a.StatusCode) && !start.Before(st.lastCut) {
		cur := h.throttleCapLocked(st, now)
		st.capNow, st.capUntil, st.lastCut = max(1, cur/2), now.Add(h.p.BackPressureWindow), now
	}

	switch {
	case st.failingSince.IsZero():
		st.failingSince = start
	case !st.persisted && now.Sub(st.failingSince) >= failingPersistAfter:
		// Stored only once a run has lasted a while, so a flaky endpoint
		// that fails now and then does not cost a write per flip.
		st.persisted = true
		note.setFailing, note.failingSince = true, st.failingSince
	}
	switch {
	case !h.p.KeepFailingEndpoints && !st.disabled && now.Sub(st.failingSince) >= h.p.AutoDisableAfter:
		st.disabled = true
		note.disable = fmt.Sprintf("every attempt failed since %s (more than %s); the last: %s",
			st.failingSince.UTC().Format(time.RFC3339), h.p.AutoDisableAfter, a.Error)
	}
	return note
}

// noteStored records the UpdatedAt of our own write of an endpoint, so a
// snapshot older than it does not undo it.
func (h *health) noteStored(id string, ep *Endpoint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.stateLocked(id)
	if ep.UpdatedAt.After(st.seenUpdate) {
		st.adoptLocked(ep)
	}
}

// adoptLocked takes the stored failure run of a snapshot newer than what
// this instance knew: another instance's earlier start, or a run cleared by
// a success elsewhere or by enabling the endpoint.
func (st *epHealth) adoptLocked(ep *Endpoint) {
	st.seenUpdate = ep.UpdatedAt
	switch {
	case !ep.FailingSince.IsZero():
		st.failingSince, st.persisted = ep.FailingSince, true
	case st.persisted:
		st.failingSince, st.persisted = time.Time{}, false
	}
	if !ep.Disabled {
		st.disabled = false
	}
}

// failingPersistAfter is how long a failure run lasts before it is stored
// in Endpoint.FailingSince.
const failingPersistAfter = time.Minute

// observe feeds an attempt's outcome to the endpoint's health and writes
// what must be stored: the start or end of a failure run (rare: once per
// run), or the endpoint's disabling.
func (d *Dispatcher) observe(ctx context.Context, c *Claimed, a *Attempt) {
	note := d.health.observe(c.Endpoint, a, d.cfg.Now())
	if note.failing && d.cfg.Hooks.EndpointFailing != nil {
		d.safeHook("EndpointFailing", func() { d.cfg.Hooks.EndpointFailing(ctx, c.Endpoint, a) })
	}
	if note.recovered && d.cfg.Hooks.EndpointRecovered != nil {
		d.safeHook("EndpointRecovered", func() { d.cfg.Hooks.EndpointRecovered(ctx, c.Endpoint) })
	}
	if note.setFailing {
		d.storeFailingSince(ctx, c.Endpoint.ID, note.failingSince)
	}
	if note.disable != "" {
		d.disableEndpoint(ctx, c.Endpoint.ID, note.disable)
	}
}

// storeFailingSince writes Endpoint.FailingSince: t once a failure run has
// lasted failingPersistAfter (unless a run is stored already: another
// instance's earlier start is kept), zero at the first success after a
// stored run.
func (d *Dispatcher) storeFailingSince(ctx context.Context, id string, t time.Time) {
	ep, err := d.store.GetEndpoint(ctx, id)
	if err != nil {
		return
	}
	if ep.FailingSince.Equal(t) || (!t.IsZero() && !ep.FailingSince.IsZero()) {
		d.health.noteStored(id, ep)
		return
	}
	ep.FailingSince, ep.UpdatedAt = t.UTC(), d.cfg.Now().UTC()
	if err := d.store.UpdateEndpoint(ctx, ep); err != nil {
		d.log.Error("hookline: storing the endpoint's failure run failed", "endpoint_id", id, "error", err)
		return
	}
	d.health.noteStored(id, ep)
}
