package webhooktest

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
)

// Outcome is what a ChaosReceiver did with one request.
type Outcome string

// The outcomes a ChaosReceiver picks from.
const (
	// OK answers 200 with a short body.
	OK Outcome = "ok"
	// ServerError answers 500.
	ServerError Outcome = "5xx"
	// TooMany answers 429 with Retry-After: 1.
	TooMany Outcome = "429"
	// Hang holds the request until the client gives up (or HangFor passes).
	Hang Outcome = "hang"
	// Reset reads the request, then closes the connection without an answer.
	Reset Outcome = "reset"
	// SlowBody answers 200, then trickles the body out over SlowFor.
	SlowBody Outcome = "slow"
	// Redirect answers 302 to another path.
	Redirect Outcome = "redirect"
)

// Ambiguous reports whether the sender cannot know if the receiver
// processed the request: it was read in full but no answer came back. Such
// an outcome may legitimately be followed by a duplicate.
func (o Outcome) Ambiguous() bool { return o == Hang || o == Reset }

// Accepted reports whether the receiver took the request as processed:
// answered 2xx (a slow body still starts with 200) or left the outcome
// ambiguous.
func (o Outcome) Accepted() bool { return o == OK || o == SlowBody || o.Ambiguous() }

// ChaosMix weighs the outcomes; weights need not add up to anything.
type ChaosMix map[Outcome]int

// DefaultChaosMix is mostly success with every kind of failure.
func DefaultChaosMix() ChaosMix {
	return ChaosMix{OK: 70, ServerError: 10, TooMany: 5, Hang: 3, Reset: 5, SlowBody: 2, Redirect: 5}
}

// ChaosOptions configure a ChaosReceiver.
type ChaosOptions struct {
	// Seed makes the sequence of outcomes repeatable. Defaults to 1.
	Seed uint64
	// Mix weighs the outcomes. Defaults to DefaultChaosMix.
	Mix ChaosMix
	// HangFor bounds a hang, so the test ends even if the client waits.
	// Defaults to 30 seconds.
	HangFor time.Duration
	// SlowFor is how long a slow body takes. Defaults to 50 ms.
	SlowFor time.Duration
}

// ChaosRequest is one request a ChaosReceiver got and what it did.
type ChaosRequest struct {
	ID      string
	Attempt int
	Outcome Outcome
}

// ChaosReceiver answers by a seeded random mix of successes and failures
// of every kind, and records what it did with each request.
type ChaosReceiver struct {
	URL string
	srv *httptest.Server

	opts    ChaosOptions
	mu      sync.Mutex
	rng     *rand.Rand
	total   int
	weights []weighted
	got     []ChaosRequest
	byID    map[string][]ChaosRequest
}

type weighted struct {
	o Outcome
	w int
}

// NewChaosReceiver starts a chaos receiver, closed when the test ends.
func NewChaosReceiver(t testing.TB, opts ChaosOptions) *ChaosReceiver {
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Mix == nil {
		opts.Mix = DefaultChaosMix()
	}
	if opts.HangFor <= 0 {
		opts.HangFor = 30 * time.Second
	}
	if opts.SlowFor <= 0 {
		opts.SlowFor = 50 * time.Millisecond
	}
	c := &ChaosReceiver{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)), byID: map[string][]ChaosRequest{}}
	// A fixed order of outcomes keeps a seed's sequence repeatable.
	for _, o := range []Outcome{OK, ServerError, TooMany, Hang, Reset, SlowBody, Redirect} {
		if w := opts.Mix[o]; w > 0 {
			c.weights = append(c.weights, weighted{o, w})
			c.total += w
		}
	}
	if c.total == 0 {
		c.weights, c.total = []weighted{{OK, 1}}, 1
	}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	c.URL = c.srv.URL
	t.Cleanup(func() {
		c.srv.CloseClientConnections()
		c.srv.Close()
	})
	return c
}

func (c *ChaosReceiver) pick() Outcome {
	n := c.rng.IntN(c.total)
	for _, w := range c.weights {
		if n < w.w {
			return w.o
		}
		n -= w.w
	}
	return OK
}

func (c *ChaosReceiver) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	id := r.Header.Get(webhook.HeaderID)
	attempt, _ := strconv.Atoi(r.Header.Get(webhook.HeaderAttempt))
	c.mu.Lock()
	o := c.pick()
	req := ChaosRequest{ID: id, Attempt: attempt, Outcome: o}
	c.got = append(c.got, req)
	c.byID[id] = append(c.byID[id], req)
	c.mu.Unlock()

	switch o {
	case OK:
		_, _ = io.WriteString(w, "ok")
	case ServerError:
		http.Error(w, "chaos: server error", http.StatusInternalServerError)
	case TooMany:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "chaos: slow down", http.StatusTooManyRequests)
	case Hang:
		select {
		case <-r.Context().Done():
		case <-time.After(c.opts.HangFor):
		}
	case Reset:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		http.Error(w, "chaos: could not reset", http.StatusInternalServerError)
	case SlowBody:
		w.Header().Set("Content-Length", "10")
		w.WriteHeader(http.StatusOK)
		for i := 0; i < 10; i++ {
			_, _ = w.Write([]byte("."))
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(c.opts.SlowFor / 10):
			}
		}
	case Redirect:
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}
}

// Requests returns every request so far with its outcome.
func (c *ChaosReceiver) Requests() []ChaosRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// RequestsFor returns the requests of message id, in order.
func (c *ChaosReceiver) RequestsFor(id string) []ChaosRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.byID[id])
}

// Outcomes returns the outcomes of every request of message id, in order.
func (c *ChaosReceiver) Outcomes(id string) []Outcome {
	var out []Outcome
	for _, r := range c.RequestsFor(id) {
		out = append(out, r.Outcome)
	}
	return out
}

// OKCount returns how many distinct message IDs got a 200 OK.
func (c *ChaosReceiver) OKCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, rs := range c.byID {
		for _, r := range rs {
			if r.Outcome == OK {
				n++
				break
			}
		}
	}
	return n
}
