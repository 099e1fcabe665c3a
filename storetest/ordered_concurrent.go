package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testOrderedConcurrent: several claimers claim and record (retry, succeed
// or fail for good, at random) over many keys. Never are two deliveries of
// one queue leased at once, and every key's deliveries finish in publish
// order.
func testOrderedConcurrent(t *testing.T, s webhook.Store) {
	const keys, perKey, claimers = 20, 10, 4
	ep := orderedEndpoint(t, s, "t")
	order := map[string][]string{} // key -> delivery IDs in publish order
	keyOf := map[string]string{}
	for range perKey {
		for k := range keys {
			key := fmt.Sprintf("key-%02d", k)
			d := publishKeyed(t, s, ep, key, 1)[0]
			order[key] = append(order[key], d.ID)
			keyOf[d.ID] = key
		}
	}

	var mu sync.Mutex
	leased := map[string]string{} // key -> delivery leased now
	finished := map[string][]string{}
	var violations []string
	done := 0
	// A fixed clock: leases (a minute) never lapse, retries are due at once.
	now := base.Add(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	for g := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 17))
			for ctx.Err() == nil {
				cs, err := s.Claim(ctx, webhook.ClaimParams{Owner: fmt.Sprint("claimer-", g), Now: now, Limit: 4, Lease: time.Minute})
				if err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						violations = append(violations, "claim: "+err.Error())
						mu.Unlock()
					}
					return
				}
				mu.Lock()
				if done == keys*perKey {
					mu.Unlock()
					return
				}
				for _, c := range cs {
					k := keyOf[c.Delivery.ID]
					if other, ok := leased[k]; ok {
						violations = append(violations, fmt.Sprintf("%s claimed while %s of the same queue is leased", c.Delivery.ID, other))
					}
					leased[k] = c.Delivery.ID
				}
				mu.Unlock()
				if len(cs) == 0 {
					time.Sleep(time.Millisecond) // nothing claimable now: another claimer holds the heads
					continue
				}
				recs := make([]webhook.Record, len(cs))
				mu.Lock()
				for i, c := range cs {
					k := keyOf[c.Delivery.ID]
					delete(leased, k) // before the Record: once it applies, the next may be claimed
					r := webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: now}
					switch x := rng.IntN(10); {
					case x < 3:
						r.State, r.NextAttemptAt = webhook.StatePending, now
						r.Attempt = attempt(c, c.Delivery.Attempts+1, 503, now)
					case x < 8:
						r.State = webhook.StateSucceeded
						r.Attempt = attempt(c, c.Delivery.Attempts+1, 200, now)
					default:
						r.State = webhook.StateFailed
						r.Attempt = attempt(c, c.Delivery.Attempts+1, 400, now)
					}
					if r.State != webhook.StatePending {
						finished[k] = append(finished[k], c.Delivery.ID)
						done++
					}
					recs[i] = r
				}
				mu.Unlock()
				applied, err := s.Record(ctx, recs)
				if err == nil {
					for i, ok := range applied {
						if !ok {
							err = fmt.Errorf("record of %s under a live lease was not applied", recs[i].DeliveryID)
						}
					}
				}
				if err != nil {
					mu.Lock()
					violations = append(violations, "record: "+err.Error())
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, context.Cause(ctx), "the claimers did not finish every delivery in time (%d of %d)", done, keys*perKey)
	require.Empty(t, violations)
	for key, want := range order {
		assert.Equal(t, want, finished[key], "key %s finished in publish order", key)
	}
}
