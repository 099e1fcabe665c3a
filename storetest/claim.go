package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testClaimDueOnly(t *testing.T, s webhook.Store) {
	ep := mustEndpoint(t, s, "t")
	_, due := publish(t, s, base, ep)
	_, later := publish(t, s, base.Add(10*time.Second), ep)

	cs := claim(t, s, base, 10)
	require.Len(t, cs, 1)
	c := cs[0]
	assert.Equal(t, due[0].ID, c.Delivery.ID)
	assert.NotEmpty(t, c.Lease)
	assert.True(t, c.LeaseExpiresAt.Equal(base.Add(30*time.Second)), "lease expires at Now+Lease")
	require.NotNil(t, c.Message)
	require.NotNil(t, c.Endpoint)
	assert.Equal(t, `{"type":"a.b","data":{"n":1}}`, string(c.Message.Payload))
	assert.Equal(t, ep.Secret, c.Endpoint.Secret)
	assert.Equal(t, ep.URL, c.Endpoint.URL)
	assert.Equal(t, webhook.StatePending, c.Delivery.State)
	assert.Equal(t, "t", c.Delivery.Tenant)

	assert.Empty(t, claim(t, s, base, 10), "leased and not-yet-due deliveries are not claimed")
	cs = claim(t, s, base.Add(10*time.Second), 10)
	require.Len(t, cs, 1, "the first is still leased")
	assert.Equal(t, later[0].ID, cs[0].Delivery.ID)
}

func testClaimOrder(t *testing.T, s webhook.Store) {
	ep := mustEndpoint(t, s, "t")
	var want []string
	for i := 5; i > 0; i-- {
		_, ds := publish(t, s, base.Add(time.Duration(i)*time.Second), ep)
		want = append([]string{ds[0].ID}, want...)
	}
	now := base.Add(time.Hour)
	var got []string
	for _, c := range claim(t, s, now, 2) {
		got = append(got, c.Delivery.ID)
	}
	for _, c := range claim(t, s, now, 10) {
		got = append(got, c.Delivery.ID)
	}
	assert.Equal(t, want, got, "earliest due first, at most Limit per claim")
}

func testClaimSkip(t *testing.T, s webhook.Store) {
	slow, fast := mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t")
	for i := 0; i < 20; i++ {
		publish(t, s, base, slow)
	}
	_, ds := publish(t, s, base.Add(time.Second), fast)
	cs, err := s.Claim(context.Background(), webhook.ClaimParams{
		Owner: "test", Now: base.Add(time.Minute), Limit: 5, Lease: time.Minute, SkipEndpoints: []string{slow.ID},
	})
	require.NoError(t, err)
	require.Len(t, cs, 1, "deliveries of skipped endpoints are passed over")
	assert.Equal(t, ds[0].ID, cs[0].Delivery.ID)
	assert.Len(t, claim(t, s, base.Add(time.Minute), 100), 20, "skipped deliveries stay claimable")
}

func testLeaseExpiry(t *testing.T, s webhook.Store) {
	ep := mustEndpoint(t, s, "t")
	_, ds := publish(t, s, base, ep)
	c := claim(t, s, base, 1)[0]
	assert.Empty(t, claim(t, s, base.Add(29*time.Second), 1), "held until it expires")
	// Recording after the lease expired does not count, even if nobody
	// claimed it since.
	late := base.Add(30 * time.Second)
	assert.False(t, record(t, s, webhook.Record{DeliveryID: ds[0].ID, Lease: c.Lease, Now: late,
		Attempt: attempt(c, 1, 200, late), State: webhook.StateSucceeded}))
	cs := claim(t, s, late, 1)
	require.Len(t, cs, 1)
	assert.Equal(t, ds[0].ID, cs[0].Delivery.ID)
}

func testClaimDelivery(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, "t")
	_, ds := publish(t, s, base.Add(24*time.Hour), ep)
	p := webhook.ClaimParams{Owner: "test", Now: base, Lease: time.Minute}
	c, err := s.ClaimDelivery(ctx, ds[0].ID, p)
	require.NoError(t, err, "claimed whatever its due time")
	assert.Equal(t, ds[0].ID, c.Delivery.ID)
	_, err = s.ClaimDelivery(ctx, ds[0].ID, p)
	assert.ErrorIs(t, err, webhook.ErrConflict, "leased already")
	_, err = s.ClaimDelivery(ctx, "nope", p)
	assert.ErrorIs(t, err, webhook.ErrNotFound)
	require.True(t, record(t, s, webhook.Record{DeliveryID: ds[0].ID, Lease: c.Lease, Now: base,
		Attempt: attempt(c, 1, 200, base), State: webhook.StateSucceeded}))
	_, err = s.ClaimDelivery(ctx, ds[0].ID, p)
	assert.ErrorIs(t, err, webhook.ErrConflict, "finished")
}

// testConcurrentClaims: 16 goroutines claim and record 1,000 deliveries;
// none is claimed twice and none is lost.
func testConcurrentClaims(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	const total = 1000
	eps := []*webhook.Endpoint{mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t")}
	for i := 0; i < total/len(eps); i++ {
		publish(t, s, base, eps...)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cs, err := s.Claim(ctx, webhook.ClaimParams{Owner: "w", Now: base, Limit: 7, Lease: time.Hour})
				if err != nil {
					errs <- err
					return
				}
				if len(cs) == 0 {
					return
				}
				recs := make([]webhook.Record, len(cs))
				for i, c := range cs {
					mu.Lock()
					seen[c.Delivery.ID]++
					mu.Unlock()
					recs[i] = webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: base,
						Attempt: attempt(c, 1, 200, base), State: webhook.StateSucceeded}
				}
				applied, err := s.Record(ctx, recs)
				if err != nil {
					errs <- err
					return
				}
				for i, ok := range applied {
					if !ok {
						errs <- errors.New("record not applied for " + recs[i].DeliveryID)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, seen, total, "every delivery claimed")
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryQuery{Tenant: "t", State: webhook.StatePending})
	require.NoError(t, err)
	assert.Empty(t, ds, "none left pending")
}

// testClaimReturnsCopies checks the contract's rule that returned objects
// are the caller's to modify (Message.Payload aside) for Claim and
// ClaimDelivery: a worker that changes its claimed endpoint or message
// changes nothing in the store.
func testClaimReturnsCopies(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep, ep2 := endpoint("t"), endpoint("t")
	ep.Metadata = map[string]string{"owner": "billing"}
	ep2.Metadata = map[string]string{"owner": "support"}
	require.NoError(t, s.CreateEndpoint(ctx, ep))
	require.NoError(t, s.CreateEndpoint(ctx, ep2))
	msg, ds := publish(t, s, base, ep, ep2)
	want := map[string]*webhook.Endpoint{}
	for _, e := range []*webhook.Endpoint{ep, ep2} {
		got, err := s.GetEndpoint(ctx, e.ID)
		require.NoError(t, err)
		want[e.ID] = got
	}
	wantMsg, err := s.GetMessage(ctx, msg.ID)
	require.NoError(t, err)

	mutate := func(c *webhook.Claimed) {
		c.Endpoint.URL = "https://attacker.example/"
		c.Endpoint.Disabled = true
		c.Endpoint.EventTypes[0] = "changed"
		c.Endpoint.Headers["X-Custom"] = "changed"
		c.Endpoint.Metadata["owner"] = "changed"
		c.Message.Type = "changed"
		c.Message.Tenant = "other"
		c.Message.Metadata["traceparent"] = "changed"
	}
	check := func(what string) {
		t.Helper()
		for id, w := range want {
			got, err := s.GetEndpoint(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, w, got, "%s: the store's endpoint changed with the claimed copy", what)
		}
		gotMsg, err := s.GetMessage(ctx, msg.ID)
		require.NoError(t, err)
		assert.Equal(t, wantMsg, gotMsg, "%s: the store's message changed with the claimed copy", what)
	}

	cs := claim(t, s, base, 1)
	require.Len(t, cs, 1)
	mutate(cs[0])
	check("Claim")

	other := ds[0].ID
	if cs[0].Delivery.ID == other {
		other = ds[1].ID
	}
	c, err := s.ClaimDelivery(ctx, other, webhook.ClaimParams{Owner: "test", Now: base, Lease: time.Minute})
	require.NoError(t, err)
	require.Contains(t, want, c.Endpoint.ID)
	assert.Equal(t, want[c.Endpoint.ID].URL, c.Endpoint.URL, "ClaimDelivery after a mutated Claim")
	assert.Equal(t, "a.b", c.Message.Type, "ClaimDelivery after a mutated Claim")
	mutate(c)
	check("ClaimDelivery")
}
