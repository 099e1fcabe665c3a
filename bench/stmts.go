package main

import (
	"context"
	"fmt"
	"sync/atomic"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
)

// countingStore is the Postgres store with its claim and record calls
// counted, to show how many deliveries one statement carries. Embedding
// *pgstore.Store keeps every optional capability the dispatcher looks for.
type countingStore struct {
	*pgstore.Store
	claims, claimed, records, recorded atomic.Int64
}

func (s *countingStore) Claim(ctx context.Context, p webhook.ClaimParams) ([]*webhook.Claimed, error) {
	out, err := s.Store.Claim(ctx, p)
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
}

// String gives the statements and deliveries per statement.
func (s *countingStore) String() string {
	per := func(n, k int64) float64 {
		if k == 0 {
			return 0
		}
		return float64(n) / float64(k)
	}
	return fmt.Sprintf("claims %d (%.1f each), records %d (%.1f each)",
		s.claims.Load(), per(s.claimed.Load(), s.claims.Load()), s.records.Load(), per(s.recorded.Load(), s.records.Load()))
}
