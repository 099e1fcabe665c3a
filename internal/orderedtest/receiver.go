// Package orderedtest holds what the ordered-delivery acceptance tests of
// both stores share: the event they publish and a receiver that checks, per
// ordering key, the order of first successful receipts.
package orderedtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Event is the event the tests publish: the N-th event of Key, N counting
// from 0 per key.
type Event struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

// EventType implements webhook.Event.
func (Event) EventType() string { return "customer.updated" }

// Receiver fails a share of requests at random (seeded) and keeps, per
// ordering key, the order of first successful receipts. It also notes any
// moment two requests of one key are in flight at once.
type Receiver struct {
	*httptest.Server
	mu         sync.Mutex
	rng        *rand.Rand
	failRate   float64
	first      map[string][]int // key -> event numbers, in order of first success
	seen       map[string]bool  // message IDs answered 2xx
	inflight   map[string]int
	requests   int
	violations []string
}

// NewReceiver starts a Receiver failing failRate of requests, closed at
// t's cleanup.
func NewReceiver(t testing.TB, failRate float64, seed uint64) *Receiver {
	r := &Receiver{rng: rand.New(rand.NewPCG(seed, 1)), failRate: failRate,
		first: map[string][]int{}, seen: map[string]bool{}, inflight: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Data Event `json:"data"`
	}
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, key := req.Header.Get("webhook-id"), body.Data.Key
	r.mu.Lock()
	r.requests++
	r.inflight[key]++
	if r.inflight[key] > 1 {
		r.violations = append(r.violations, fmt.Sprintf("two requests of key %s in flight at once (%s)", key, id))
	}
	fail := r.rng.Float64() < r.failRate
	r.mu.Unlock()
	time.Sleep(200 * time.Microsecond) // a receiver doing some work, so requests overlap

	r.mu.Lock()
	r.inflight[key]--
	if !fail && !r.seen[id] {
		r.seen[id] = true
		r.first[key] = append(r.first[key], body.Data.N)
	}
	r.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
	}
}

// Received returns how many distinct messages were answered 2xx.
func (r *Receiver) Received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// Requests returns how many requests have started.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Check asserts that no two requests of one key were in flight at once and
// that every key's first successful receipts are its events in publish
// order, all of them (sent[key] events numbered from 0).
func (r *Receiver) Check(t testing.TB, sent map[string]int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Empty(t, r.violations)
	for key, n := range sent {
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		assert.Equal(t, want, r.first[key], "key %s: first successful receipts in publish order, none lost", key)
	}
	t.Logf("%d requests for %d events", r.requests, len(r.seen))
}
