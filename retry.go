package webhook

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// RetryPolicy decides whether and when a failed attempt is tried again. Zero
// fields take their defaults.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts in all, the first included.
	// Defaults to MaxAttemptsDefault (10: the nine delays of
	// DefaultRetrySchedule).
	MaxAttempts int
	// NewBackOff returns a fresh BackOff whose successive NextBackOff values
	// are the delays after attempt 1, 2, ... The delay after attempt n is
	// found by replaying a fresh BackOff n times, so it does not depend on
	// process memory and survives restarts. backoff.Stop ends the retries.
	// Defaults to DefaultRetrySchedule with ±RetryJitterDefault (±10%)
	// jitter: about 75 hours from
	// the first attempt to the last, as the Standard Webhooks spec suggests.
	NewBackOff func() backoff.BackOff
	// MaxRetryAfter caps how long a receiver's Retry-After header can push
	// the next attempt out. Defaults to MaxRetryAfterDefault (1 hour).
	MaxRetryAfter time.Duration
	// Retryable says whether a failed attempt is worth another. status is
	// 0 when no response came; err is then the HTTP client's error as it
	// returned it, so errors.Is finds the cause (context.DeadlineExceeded
	// for an attempt that ran out of Config.AttemptTimeout,
	// ErrAddressNotAllowed, syscall.ECONNREFUSED, ...). For an answer
	// other than 2xx err is a *StatusError carrying the status and the
	// response headers (errors.As): a policy can read Retry-After or a
	// receiver's own header. Retry-After itself is honoured after
	// Retryable says yes, capped by MaxRetryAfter. Defaults to
	// DefaultRetryable: every failure but 410 Gone is retried.
	Retryable func(status int, err error) bool
}

// StatusError is the error RetryPolicy.Retryable gets for an attempt that
// was answered with a status other than 2xx (a redirect included: hookline
// never follows one).
type StatusError struct {
	// Code is the HTTP status.
	Code int
	// Header holds the response headers as received (bounded by
	// Config.MaxResponseHeaderBytes with the default client). Read it
	// only; it is not kept after Retryable returns.
	Header http.Header
}

// Error returns "HTTP <code>".
func (e *StatusError) Error() string { return "HTTP " + strconv.Itoa(e.Code) }

// DefaultRetryable retries every failure except 410 Gone, which means the
// receiver wants no more deliveries.
func DefaultRetryable(status int, _ error) bool { return status != http.StatusGone }

// DefaultRetrySchedule returns the delays between attempts the Standard
// Webhooks spec gives as its example: the first attempt at once, then 5 s,
// 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later (about 75 hours).
func DefaultRetrySchedule() []time.Duration {
	return []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
		5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
	}
}

// ScheduleBackOff is a backoff.BackOff that walks a fixed list of delays,
// each randomised by ±Jitter (0.1 means ±10%), and returns backoff.Stop past
// the end of the list. Make a new one per computation: it is stateful.
type ScheduleBackOff struct {
	Delays []time.Duration
	Jitter float64
	i      int
}

// NewScheduleBackOff returns a ScheduleBackOff over delays.
func NewScheduleBackOff(delays []time.Duration, jitter float64) *ScheduleBackOff {
	return &ScheduleBackOff{Delays: delays, Jitter: jitter}
}

// NextBackOff returns the next delay, or backoff.Stop past the last one.
func (b *ScheduleBackOff) NextBackOff() time.Duration {
	if b.i >= len(b.Delays) {
		return backoff.Stop
	}
	d := b.Delays[b.i]
	b.i++
	if b.Jitter > 0 && d > 0 {
		f := 1 + b.Jitter*(2*rand.Float64()-1)
		d = time.Duration(float64(d) * f)
	}
	return d
}

// Reset starts the schedule again.
func (b *ScheduleBackOff) Reset() { b.i = 0 }

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = MaxAttemptsDefault
	}
	if p.NewBackOff == nil {
		p.NewBackOff = func() backoff.BackOff { return NewScheduleBackOff(DefaultRetrySchedule(), RetryJitterDefault) }
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = MaxRetryAfterDefault
	}
	if p.Retryable == nil {
		p.Retryable = DefaultRetryable
	}
	return p
}

// Delay returns the wait after attempt n (1 for the first) failed, replaying
// a fresh BackOff n times, and false when no attempt should follow: n has
// reached MaxAttempts or the BackOff stopped. Call it on a policy whose
// defaults are filled (the Dispatcher does).
func (p RetryPolicy) Delay(n int) (time.Duration, bool) {
	p = p.withDefaults()
	if n >= p.MaxAttempts {
		return 0, false
	}
	b := p.NewBackOff()
	b.Reset()
	var d time.Duration
	for i := 0; i < n; i++ {
		d = b.NextBackOff()
		if d == backoff.Stop {
			return 0, false
		}
	}
	if d < 0 {
		d = 0
	}
	return d, true
}

// ParseRetryAfter reads a Retry-After header value: delay-seconds or an
// HTTP date (RFC 9110 section 10.2.3), relative to now. It reports false for
// an empty, malformed or negative value. A date in the past is a zero delay;
// delay-seconds too large for a time.Duration (99999999999999999999
// included) are the longest Duration, which RetryPolicy.MaxRetryAfter then
// caps.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		const maxSecs = int64((1<<63 - 1) / int64(time.Second))
		secs, err := strconv.ParseInt(v, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			secs, err = maxSecs, nil // digits past int64: longer than any cap, not malformed
		}
		if err != nil || secs < 0 {
			return 0, false
		}
		if secs > maxSecs {
			secs = maxSecs
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}
