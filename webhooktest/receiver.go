// Package webhooktest helps test code that sends or receives hookline
// webhooks: a recording receiver on an httptest server that verifies
// signatures and can answer by a script.
package webhooktest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
)

// Delivery is one request the receiver got.
type Delivery struct {
	// ID is the webhook-id header (the message ID).
	ID        string
	EventType string
	// Attempt is the Hookline-Attempt header, 0 when absent.
	Attempt int
	Header  http.Header
	Body    []byte
	// Verified reports whether the signature verified against one of the
	// receiver's secrets (false when the receiver has none).
	Verified bool
	// VerifyErr is why it did not verify.
	VerifyErr error
	// Status is the status the receiver answered; 0 when the sender gave up
	// during a scripted delay.
	Status     int
	ReceivedAt time.Time
}

// Answer is how the receiver answers one request.
type Answer struct {
	// Status to answer; 0 means 200.
	Status int
	// Body to write.
	Body string
	// Header to add (Retry-After, Location).
	Header http.Header
	// Delay before answering.
	Delay time.Duration
}

// Script decides the answer to the n-th request (1 for the first) with
// delivery d.
type Script func(n int, d *Delivery) Answer

// Option configures a Receiver.
type Option func(*Receiver)

// WithSecret makes the receiver verify signatures with secret: a whsec_
// secret (v1 signatures) or a whpk_ public key (v1a). More than one may be
// given: any one verifying is enough.
func WithSecret(secret string) Option {
	return func(r *Receiver) { r.secrets = append(r.secrets, secret) }
}

// WithClock sets the clock signatures' timestamps are checked against, for
// tests that give the dispatcher a Config.Now of their own. Defaults to
// time.Now.
func WithClock(now func() time.Time) Option { return func(r *Receiver) { r.now = now } }

// WithScript makes the receiver answer by script.
func WithScript(s Script) Option { return func(r *Receiver) { r.script = s } }

// WithRejectUnverified answers 401 to requests whose signature does not
// verify (when a secret is set). By default they are recorded and answered
// by the script.
func WithRejectUnverified() Option { return func(r *Receiver) { r.reject = true } }

// FailFirst answers status to the first n requests of each message ID, then
// 200.
func FailFirst(n, status int) Script {
	var mu sync.Mutex
	seen := map[string]int{}
	return func(_ int, d *Delivery) Answer {
		mu.Lock()
		defer mu.Unlock()
		seen[d.ID]++
		if seen[d.ID] <= n {
			return Answer{Status: status}
		}
		return Answer{}
	}
}

// Statuses answers the statuses in order, then 200.
func Statuses(codes ...int) Script {
	return func(n int, _ *Delivery) Answer {
		if n <= len(codes) {
			return Answer{Status: codes[n-1]}
		}
		return Answer{}
	}
}

// Always answers status to every request.
func Always(status int) Script {
	return func(int, *Delivery) Answer { return Answer{Status: status} }
}

// Answers gives the answers in order, one per request, then 200: for
// delays, headers and bodies beside the status.
func Answers(as ...Answer) Script {
	return func(n int, _ *Delivery) Answer {
		if n <= len(as) {
			return as[n-1]
		}
		return Answer{}
	}
}

// RetryAfter is an answer with status and a Retry-After header of after in
// whole seconds, rounded up.
func RetryAfter(status int, after time.Duration) Answer {
	secs := int64(after / time.Second)
	if after%time.Second > 0 {
		secs++
	}
	return Answer{Status: status, Header: http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}}
}

// TooManyRequests answers 429 with Retry-After (see RetryAfter) to the first
// n requests of each message ID, then 200.
func TooManyRequests(n int, retryAfter time.Duration) Script {
	fail := FailFirst(n, http.StatusTooManyRequests)
	return func(i int, d *Delivery) Answer {
		if fail(i, d).Status == http.StatusTooManyRequests {
			return RetryAfter(http.StatusTooManyRequests, retryAfter)
		}
		return Answer{}
	}
}

// Receiver is a recording webhook receiver on an httptest server (loopback,
// plain http: the dispatcher needs Config.AllowHTTP and
// Config.AllowPrivateNetworks to reach it). NewReceiver closes it when the
// test ends; StartReceiver leaves that to its caller. Its Deliveries, Count,
// Acked, AckedIDs and Await work anywhere; the WaitFor... helpers fail a
// test.
type Receiver struct {
	// URL is the receiver's base URL.
	URL string
	srv *httptest.Server

	secrets []string
	now     func() time.Time
	script  Script
	reject  bool

	mu    sync.Mutex
	n     int
	got   []*Delivery
	byID  map[string]int
	cond  chan struct{} // closed and replaced on every delivery
	close sync.Once
}

// NewReceiver starts a receiver and registers its Close with t.Cleanup.
func NewReceiver(t testing.TB, opts ...Option) *Receiver {
	r := StartReceiver(opts...)
	t.Cleanup(r.Close)
	return r
}

// StartReceiver starts a receiver outside a test (an example, a demo
// program, a local tool); the caller must Close it. Wait for what it got
// with Await.
func StartReceiver(opts ...Option) *Receiver {
	r := &Receiver{byID: map[string]int{}, cond: make(chan struct{})}
	for _, o := range opts {
		o(r)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	return r
}

// Close shuts the server down, waiting for requests in progress. It is safe
// to call more than once.
func (r *Receiver) Close() { r.close.Do(r.srv.Close) }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 16<<20))
	d := &Delivery{
		ID: req.Header.Get(webhook.HeaderID), EventType: req.Header.Get(webhook.HeaderEventType),
		Header: req.Header.Clone(), Body: body, ReceivedAt: time.Now(),
	}
	d.Attempt, _ = strconv.Atoi(req.Header.Get(webhook.HeaderAttempt))
	if len(r.secrets) > 0 {
		v := webhook.Verifier{Secrets: r.secrets, Now: r.now}
		d.VerifyErr = v.Verify(req.Header, body)
		d.Verified = d.VerifyErr == nil
	}
	r.mu.Lock()
	r.n++
	n := r.n
	close(r.cond)
	r.cond = make(chan struct{})
	r.mu.Unlock()

	ans := Answer{}
	if r.reject && len(r.secrets) > 0 && !d.Verified {
		ans = Answer{Status: http.StatusUnauthorized, Body: d.VerifyErr.Error()}
	} else if r.script != nil {
		ans = r.script(n, d)
	}
	if ans.Status == 0 {
		ans.Status = http.StatusOK
	}
	d.Status = ans.Status
	if ans.Delay > 0 {
		select {
		case <-time.After(ans.Delay):
		case <-req.Context().Done():
			d.Status = 0 // the sender gave up: no answer reached it
		}
	}
	r.mu.Lock()
	r.got = append(r.got, d)
	if d.Status >= 200 && d.Status < 300 {
		r.byID[d.ID]++
	}
	close(r.cond)
	r.cond = make(chan struct{})
	r.mu.Unlock()
	for k, vs := range ans.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(ans.Status)
	_, _ = io.WriteString(w, ans.Body)
}

// Deliveries returns every request received so far, in order.
func (r *Receiver) Deliveries() []*Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// Count returns how many requests arrived.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// Acked returns how many 2xx answers the receiver gave for message id.
func (r *Receiver) Acked(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

// AckedIDs returns how many distinct message IDs got a 2xx answer.
func (r *Receiver) AckedIDs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// wait blocks until cond holds or timeout passes, and reports whether it
// held.
func (r *Receiver) wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond()
		ch := r.cond
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// Await blocks until cond reports true, checking it at once and again after
// every request the receiver records, and returns ctx's error if ctx ends
// first. cond may call the receiver's methods:
//
//	err := r.Await(ctx, func() bool { return r.AckedIDs() >= 3 })
func (r *Receiver) Await(ctx context.Context, cond func() bool) error {
	for {
		r.mu.Lock()
		ch := r.cond // read before cond runs: a request recorded after this closes it
		r.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitFor waits until n requests have arrived (any answer) and fails t if
// they do not within timeout.
func (r *Receiver) WaitFor(t testing.TB, n int, timeout time.Duration) []*Delivery {
	t.Helper()
	if !r.wait(timeout, func() bool { return len(r.got) >= n }) {
		t.Fatalf("webhooktest: %d requests after %s, want %d", r.Count(), timeout, n)
	}
	return r.Deliveries()
}

// WaitForArrivals waits until n requests have arrived, answered or not yet
// (a scripted delay may still hold them).
func (r *Receiver) WaitForArrivals(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	if !r.wait(timeout, func() bool { return r.n >= n }) {
		r.mu.Lock()
		got := r.n
		r.mu.Unlock()
		t.Fatalf("webhooktest: %d requests arrived after %s, want %d", got, timeout, n)
	}
}

// WaitForAcked waits until n distinct message IDs got a 2xx answer.
func (r *Receiver) WaitForAcked(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	if !r.wait(timeout, func() bool { return len(r.byID) >= n }) {
		t.Fatalf("webhooktest: %d messages acknowledged after %s, want %d", r.AckedIDs(), timeout, n)
	}
}

// WaitForAttempts waits until n requests of message id have arrived (any
// answer) and returns them; it fails t if they do not within timeout.
func (r *Receiver) WaitForAttempts(t testing.TB, id string, n int, timeout time.Duration) []*Delivery {
	t.Helper()
	count := func() int {
		c := 0
		for _, d := range r.got {
			if d.ID == id {
				c++
			}
		}
		return c
	}
	if !r.wait(timeout, func() bool { return count() >= n }) {
		r.mu.Lock()
		c := count()
		r.mu.Unlock()
		t.Fatalf("webhooktest: %d requests of message %s after %s, want %d", c, id, timeout, n)
	}
	return r.requestsOf(id)
}

func (r *Receiver) requestsOf(id string) []*Delivery {
	var out []*Delivery
	for _, d := range r.Deliveries() {
		if d.ID == id {
			out = append(out, d)
		}
	}
	return out
}

// WaitForMessage waits until message id got a 2xx answer and returns its
// requests.
func (r *Receiver) WaitForMessage(t testing.TB, id string, timeout time.Duration) []*Delivery {
	t.Helper()
	if !r.wait(timeout, func() bool { return r.byID[id] > 0 }) {
		t.Fatalf("webhooktest: message %s not acknowledged within %s", id, timeout)
	}
	return r.requestsOf(id)
}
