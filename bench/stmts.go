package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
)

// countingStore is the Postgres store with its claim and record calls
// counted and the claims timed, to show how many deliveries one statement
// carries and how long a claim takes. Embedding
// *pgstore.Store keeps every optional capability the dispatcher looks for.
type countingStore struct {
	*pgstore.Store
	claims, claimed, records, recorded, claimNS atomic.Int64
}

func (s *countingStore) Claim(ctx context.Context, p webhook.ClaimParams) ([]*webhook.Claimed, error) {
	t0 := time.Now()
	out, err := s.Store.Claim(ctx, p)
	s.claimNS.Add(int64(time.Since(t0)))
	s.claims.Add(1)
	s.claimed.Add(int64(len(out)))
	return out, err
}

func (s *countingStore) Record(ctx context.Context, recs []webhook.Record) ([]bool, error) {
	s.records.Add(1)
	s.recorded.Add(int64(len(recs)))
	return s.Store.Record(ctx, recs)
}

// reset zeroes the counts (at the start of the timed phase).
func (s *countingStore) reset() {
	s.claims.Store(0)
	s.claimed.Store(0)
	s.records.Store(0)
	s.recorded.Store(0)
	s.claimNS.Store(0)
}

// String gives the mean claim round trip, the statements and the
// deliveries per statement.
func (s *countingStore) String() string {
	per := func(n, k int64) float64 {
		if k == 0 {
			return 0
		}
		return float64(n) / float64(k)
	}
	return fmt.Sprintf("claim avg %.2f ms; claims %d (%.1f each), records %d (%.1f each)",
		per(s.claimNS.Load(), s.claims.Load())/1e6, s.claims.Load(), per(s.claimed.Load(), s.claims.Load()), s.records.Load(), per(s.recorded.Load(), s.records.Load()))
}

// pacingVariant parses a -pg-variants entry "pace-<claim interval>-<record
// window>" (Go durations, 0 for none), e.g. pace-2ms-20ms or pace-0-0 (the
// dispatcher claiming and recording at once, as before pacing).
func pacingVariant(v string) (func(*pgstore.Options, *webhook.Config), bool) {
	f := strings.Split(v, "-")
	if len(f) != 3 || f[0] != "pace" {
		return nil, false
	}
	d := func(s string) (time.Duration, bool) {
		if s == "0" {
			return -1, true
		}
		t, err := time.ParseDuration(s)
		return t, err == nil && t > 0
	}
	ci, ok1 := d(f[1])
	rw, ok2 := d(f[2])
	if !ok1 || !ok2 {
		return nil, false
	}
	return func(o *pgstore.Options, _ *webhook.Config) { o.ClaimInterval, o.RecordWindow = ci, rw }, true
}
