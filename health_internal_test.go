package webhook

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testHealth(t *testing.T, p HealthPolicy) *health {
	t.Helper()
	p, err := p.withDefaults()
	require.NoError(t, err)
	return newHealth(p, 16)
}

func claimedFor(ep *Endpoint, id string) *Claimed {
	return &Claimed{Delivery: &Delivery{ID: id, EndpointID: ep.ID}, Endpoint: ep}
}

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	t.Parallel()
	h := testHealth(t, HealthPolicy{BreakerThreshold: 3, BreakerCooldown: time.Minute, BreakerMaxCooldown: 3 * time.Minute, KeepFailingEndpoints: true})
	ep := &Endpoint{ID: "ep_1"}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	refused := &Attempt{Error: "connection refused", StartedAt: now}

	for i := 0; i < 2; i++ {
		h.observe(ep, refused, now)
	}
	assert.Empty(t, h.paused(now), "below the threshold")
	assert.Equal(t, 16, h.capFor(ep.ID, now))
	_, ok := h.gate(claimedFor(ep, "d1"), now)
	assert.True(t, ok)

	h.observe(ep, refused, now) // third in a row: opens
	assert.Equal(t, []string{"ep_1"}, h.paused(now))
	assert.Equal(t, 1, h.capFor(ep.ID, now), "one at a time while not closed")
	at, ok := h.gate(claimedFor(ep, "d2"), now)
	require.False(t, ok)
	assert.False(t, at.Before(now.Add(time.Minute)), "deferred to the end of the cool-down")
	assert.True(t, at.Before(now.Add(time.Minute+7*time.Second)), "with at most a tenth of jitter: %s", at.Sub(now))

	// Cool-down over: one probe, the others wait.
	now = now.Add(time.Minute)
	assert.Empty(t, h.paused(now), "half-open: claimable for the probe")
	_, ok = h.gate(claimedFor(ep, "d3"), now)
	require.True(t, ok, "the probe goes out")
	assert.Equal(t, []string{"ep_1"}, h.paused(now), "paused while the probe is in flight")
	_, ok = h.gate(claimedFor(ep, "d4"), now)
	assert.False(t, ok, "a second delivery waits for the probe")

	// A failed probe doubles the cool-down, capped.
	h.observe(ep, &Attempt{StatusCode: 503, StartedAt: now}, now)
	assert.Equal(t, 2*time.Minute, h.eps[ep.ID].cooldown)
	now = now.Add(2 * time.Minute)
	_, ok = h.gate(claimedFor(ep, "d5"), now)
	require.True(t, ok)
	h.observe(ep, &Attempt{StatusCode: 0, Error: "timeout", StartedAt: now}, now)
	assert.Equal(t, 3*time.Minute, h.eps[ep.ID].cooldown, "capped at BreakerMaxCooldown")

	// A successful probe closes it.
	now = now.Add(3 * time.Minute)
	_, ok = h.gate(claimedFor(ep, "d6"), now)
	require.True(t, ok)
	h.observe(ep, &Attempt{StatusCode: 200, StartedAt: now}, now)
	assert.Empty(t, h.paused(now))
	assert.Equal(t, 16, h.capFor(ep.ID, now))
	_, ok = h.gate(claimedFor(ep, "d7"), now)
	assert.True(t, ok)
}

func TestBreakerIgnoresAnswersOtherThan5xx(t *testing.T) {
	t.Parallel()
	h := testHealth(t, HealthPolicy{BreakerThreshold: 2, KeepFailingEndpoints: true})
	ep := &Endpoint{ID: "ep_1"}
	now := time.Now()
	for _, code := range []int{500, 404, 500, 400, 500, 302} {
		h.observe(ep, &Attempt{StatusCode: code}, now)
	}
	assert.Empty(t, h.paused(now), "a 4xx or 3xx answer shows the endpoint is up and resets the count")
	h.observe(ep, &Attempt{StatusCode: 502}, now)
	h.observe(ep, &Attempt{StatusCode: 504}, now)
	assert.NotEmpty(t, h.paused(now))

	off := testHealth(t, HealthPolicy{DisableBreaker: true, KeepFailingEndpoints: true})
	for range 20 {
		off.observe(ep, &Attempt{Error: "refused"}, now)
	}
	assert.Empty(t, off.paused(now), "DisableBreaker")
}

func TestBreakerBypassForRedeliver(t *testing.T) {
	t.Parallel()
	h := testHealth(t, HealthPolicy{BreakerThreshold: 1})
	ep := &Endpoint{ID: "ep_1", RateLimit: 0.001}
	now := time.Now()
	h.observe(ep, &Attempt{Error: "refused"}, now)
	h.setBypass("d1")
	assert.True(t, h.bypassed("d1"))
	_, ok := h.gate(claimedFor(ep, "d1"), now)
	assert.True(t, ok, "a redelivery goes out, breaker open or not")
	assert.False(t, h.bypassed("d1"), "once")
	_, ok = h.gate(claimedFor(ep, "d1"), now)
	assert.False(t, ok)
}

func TestBackPressureLowersCapAndRecovers(t *testing.T) {
	t.Parallel()
	h := testHealth(t, HealthPolicy{BackPressureWindow: 30 * time.Second, DisableBreaker: true, KeepFailingEndpoints: true})
	ep := &Endpoint{ID: "ep_1"}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h.observe(ep, &Attempt{StatusCode: 429}, now)
	assert.Equal(t, 8, h.capFor(ep.ID, now))
	h.observe(ep, &Attempt{StatusCode: 502}, now)
	assert.Equal(t, 4, h.capFor(ep.ID, now))
	h.observe(ep, &Attempt{StatusCode: 504}, now)
	assert.Equal(t, 2, h.capFor(ep.ID, now))
	h.observe(ep, &Attempt{StatusCode: 500}, now)
	assert.Equal(t, 2, h.capFor(ep.ID, now), "a plain 500 is not back-pressure")
	h.observe(ep, &Attempt{StatusCode: 429, StartedAt: now.Add(-time.Second)}, now.Add(time.Second))
	assert.Equal(t, 2, h.capFor(ep.ID, now), "an answer to a request sent before the last cut does not cut again")
	for range 5 {
		h.observe(ep, &Attempt{StatusCode: 429}, now)
	}
	assert.Equal(t, 1, h.capFor(ep.ID, now), "never below 1")
	assert.Equal(t, 1, h.capFor(ep.ID, now.Add(29*time.Second)))
	assert.Equal(t, 2, h.capFor(ep.ID, now.Add(30*time.Second)), "doubles after a quiet window")
	assert.Equal(t, 4, h.capFor(ep.ID, now.Add(60*time.Second)))
	assert.Equal(t, 16, h.capFor(ep.ID, now.Add(10*time.Minute)), "back to the full cap")
	assert.Equal(t, 16, h.capFor("ep_other", now), "other endpoints untouched")
}

func TestRateLimitSlots(t *testing.T) {
	t.Parallel()
	h := testHealth(t, HealthPolicy{})
	ep := &Endpoint{ID: "ep_1", RateLimit: 2} // burst 2
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var slots []time.Duration
	for i := range 6 {
		at, ok := h.gate(claimedFor(ep, string(rune('a'+i))), now)
		if ok {
			slots = append(slots, 0)
		} else {
			slots = append(slots, at.Sub(now))
		}
	}
	assert.Equal(t, []time.Duration{0, 0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second}, slots)
	// Coming back at its slot, a delivery goes out without taking a token.
	at, ok := h.gate(claimedFor(ep, "c"), now.Add(100*time.Millisecond))
	assert.False(t, ok, "too early")
	assert.Equal(t, now.Add(500*time.Millisecond), at)
	_, ok = h.gate(claimedFor(ep, "c"), now.Add(500*time.Millisecond))
	assert.True(t, ok)
	// A new delivery queues behind the reserved slots.
	at, ok = h.gate(claimedFor(ep, "z"), now.Add(500*time.Millisecond))
	assert.False(t, ok)
	assert.Equal(t, now.Add(2500*time.Millisecond), at)
}

func TestHealthPolicyDefaults(t *testing.T) {
	t.Parallel()
	p, err := HealthPolicy{}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, 5, p.BreakerThreshold)
	assert.Equal(t, 5*24*time.Hour, p.AutoDisableAfter)
	_, err = HealthPolicy{BreakerCooldown: -1}.withDefaults()
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestFailingSinceWrittenOncePerLongRun(t *testing.T) {
	t.Parallel()
	h := testHealth(t, HealthPolicy{DisableBreaker: true, AutoDisableAfter: time.Hour})
	ep := &Endpoint{ID: "ep_1"}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	writes := 0
	note := func(n healthNote) healthNote {
		if n.setFailing {
			writes++
		}
		return n
	}
	// A flaky endpoint: failures and successes within seconds never write.
	for i := range 100 {
		at := now.Add(time.Duration(i) * time.Second)
		code := 200
		if i%3 != 0 {
			code = 500
		}
		note(h.observe(ep, &Attempt{StatusCode: code, StartedAt: at}, at))
	}
	assert.Zero(t, writes)
	// A run that lasts: one write with its start, one clear at the success.
	start := now.Add(time.Hour)
	note(h.observe(ep, &Attempt{StatusCode: 500, StartedAt: start}, start))
	n := note(h.observe(ep, &Attempt{StatusCode: 500, StartedAt: start.Add(2 * time.Minute)}, start.Add(2*time.Minute)))
	assert.True(t, n.failingSince.Equal(start))
	note(h.observe(ep, &Attempt{StatusCode: 500, StartedAt: start.Add(3 * time.Minute)}, start.Add(3*time.Minute)))
	assert.Equal(t, 1, writes)
	n = note(h.observe(ep, &Attempt{StatusCode: 500, StartedAt: start.Add(61 * time.Minute)}, start.Add(61*time.Minute)))
	assert.Contains(t, n.disable, "every attempt failed since 2030-01-01T01:00:00Z")
	n = note(h.observe(ep, &Attempt{StatusCode: 204}, start.Add(62*time.Minute)))
	assert.True(t, n.setFailing && n.failingSince.IsZero(), "cleared by a success")
	assert.Equal(t, 2, writes)
}

// TestLimitIsEarnedByAnswers: an endpoint starts at InitialInFlight, gains
// one per answer up to the cap, and drops to 1 on an attempt without an
// answer until it answers again; the breaker and back-pressure still bound
// it.
func TestLimitIsEarnedByAnswers(t *testing.T) {
	t.Parallel()
	h := testHealth(t, HealthPolicy{KeepFailingEndpoints: true})
	ep := &Endpoint{ID: "ep_1"}
	now := time.Now()
	assert.Equal(t, 2, h.limit(ep.ID, now), "before any answer")
	for i := 0; i < 3; i++ {
		h.observe(ep, &Attempt{StatusCode: 500, StartedAt: now}, now)
	}
	assert.Equal(t, 5, h.limit(ep.ID, now), "any answer earns one more")
	for i := 0; i < 20; i++ {
		h.observe(ep, &Attempt{StatusCode: 200, StartedAt: now}, now)
	}
	assert.Equal(t, 16, h.limit(ep.ID, now), "up to the cap")
	h.observe(ep, &Attempt{Error: "timeout: no complete answer within 15s", StartedAt: now}, now)
	assert.Equal(t, 1, h.limit(ep.ID, now), "a timeout: one at a time")
	assert.Equal(t, 16, h.capFor(ep.ID, now), "capFor (breaker, back-pressure) untouched")
	h.observe(ep, &Attempt{StatusCode: 200, StartedAt: now}, now)
	assert.Equal(t, 3, h.limit(ep.ID, now), "answering again earns it back from InitialInFlight")
	h.observe(ep, &Attempt{StatusCode: 429, StartedAt: now}, now)
	assert.Equal(t, 4, h.limit(ep.ID, now))
	assert.Equal(t, 8, h.capFor(ep.ID, now))

	full := testHealth(t, HealthPolicy{InitialInFlight: 16})
	assert.Equal(t, 16, full.limit("ep_new", now), "InitialInFlight at the cap: no slow start")
}
