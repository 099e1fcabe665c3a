package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/stretchr/testify/require"
)

// TestBenchScaleFinished measures what a publish and a claim+record cost
// beside 10k finished deliveries (with their messages and attempts) and
// beside 1M (10M with HOOKLINE_PGSTORE_BENCH_10M=1), in alternating rounds
// on the stores loaded side by side; VACUUM ANALYZE runs after loading and
// between rounds (autovacuum is off on the development machines).
//
//	HOOKLINE_PGSTORE_BENCH=1 go test -run TestBenchScaleFinished -v -timeout 60m ./pgstore
func TestBenchScaleFinished(t *testing.T) {
	pool := benchOnly(t)
	ctx := context.Background()
	sizes := []int{10_000, 1_000_000}
	if os.Getenv("HOOKLINE_PGSTORE_BENCH_10M") == "1" {
		sizes = append(sizes, 10_000_000)
	}
	type loaded struct {
		n     int
		store *pgstore.Store
		ep    *webhook.Endpoint
	}
	var stores []loaded
	for _, n := range sizes {
		st := newSchemaStore(t, pool, nil)
		sch := quote(st.Schema())
		now := time.Now()
		ep := &webhook.Endpoint{ID: "ep_0", URL: "https://example.com/", Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
		require.NoError(t, st.CreateEndpoint(ctx, ep))
		start := time.Now()
		for first := 1; first <= n; first += 1_000_000 {
			loadDeliveries(t, pool, sch, ep.ID, "succeeded", first, min(1_000_000, n-first+1))
		}
		mustExec(t, pool, `INSERT INTO `+sch+`.attempts (id, delivery_id, message_id, endpoint_id, tenant, number, started_at,
			duration_ns, status_code) SELECT 'att_' || substr(d.id, 5), d.id, d.message_id, d.endpoint_id, '', 1, d.updated_at, 1000000, 200
			FROM `+sch+`.deliveries d`)
		mustExec(t, pool, "VACUUM ANALYZE "+sch+".deliveries, "+sch+".messages, "+sch+".attempts")
		t.Logf("loaded %d finished deliveries with messages and attempts in %s", n, time.Since(start).Round(time.Second))
		stores = append(stores, loaded{n: n, store: st, ep: ep})
	}
	const events, publishers, batch = 2000, 8, 16
	pubCost := map[int][]float64{}
	claimCost := map[int][]float64{}
	for round := range 5 {
		for _, l := range stores {
			// Publish: events messages of one delivery each, from 8 goroutines.
			start := time.Now()
			var wg sync.WaitGroup
			for p := range publishers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := p; i < events; i += publishers {
						id := fmt.Sprintf("r%d_%d", round, i)
						now := time.Now()
						msg := &webhook.Message{ID: "msg_" + id, Type: "bench.event", Payload: []byte(`{"n":` + strconv.Itoa(i) + `}`), CreatedAt: now}
						d := &webhook.Delivery{ID: "dlv_" + id, MessageID: msg.ID, EndpointID: l.ep.ID, EventType: msg.Type,
							State: webhook.StatePending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
						if err := l.store.InsertMessage(ctx, msg, []*webhook.Delivery{d}); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			pub := time.Since(start)
			// Claim and record them, batches of 16.
			start = time.Now()
			done := 0
			for done < events {
				now := time.Now()
				cs, err := l.store.Claim(ctx, webhook.ClaimParams{Owner: "b", Now: now, Limit: batch, Lease: time.Minute})
				require.NoError(t, err)
				require.NotEmpty(t, cs)
				recs := make([]webhook.Record, len(cs))
				for i, c := range cs {
					recs[i] = webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: now, State: webhook.StateSucceeded,
						Attempt: &webhook.Attempt{ID: "att_" + c.Delivery.ID, DeliveryID: c.Delivery.ID, MessageID: c.Message.ID,
							EndpointID: c.Endpoint.ID, Number: 1, StartedAt: now, Duration: time.Millisecond, StatusCode: 200}}
				}
				_, err = l.store.Record(ctx, recs)
				require.NoError(t, err)
				done += len(cs)
			}
			cr := time.Since(start)
			pubCost[l.n] = append(pubCost[l.n], float64(pub.Microseconds())/events)
			claimCost[l.n] = append(claimCost[l.n], float64(cr.Microseconds())/events)
			mustExec(t, pool, "VACUUM ANALYZE "+quote(l.store.Schema())+".deliveries")
		}
	}
	for _, l := range stores {
		t.Logf("%d finished: publish %v us per message (wall, 8 publishers), claim+record %v us per delivery; medians %.1f and %.1f us, vs %d: %.2fx and %.2fx",
			l.n, pubCost[l.n], claimCost[l.n], med(pubCost[l.n]), med(claimCost[l.n]), sizes[0],
			med(pubCost[l.n])/med(pubCost[sizes[0]]), med(claimCost[l.n])/med(claimCost[sizes[0]]))
	}
}

func med(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
