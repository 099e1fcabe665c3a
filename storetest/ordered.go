package storetest

import (
	"context"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// orderedTests are Run's checks of ordered delivery: queues of
// (endpoint, ordering key), one head each, the others waiting (see the
// Store contract's Claim, ClaimDelivery, Requeue and UpdateEndpoint).
func orderedTests() []struct {
	name string
	fn   func(t *testing.T, s webhook.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s webhook.Store)
	}{
		{"OrderedHeadOfLine", testOrderedHeadOfLine},
		{"OrderedKeysIndependent", testOrderedKeys},
		{"OrderedOneQueueWithoutKeys", testOrderedNoKeys},
		{"OrderedWaitingFor", testOrderedWaitingFor},
		{"OrderedClaimDeliveryWaiting", testOrderedClaimDelivery},
		{"OrderedRequeueFinished", testOrderedRequeueFinished},
		{"OrderedRequeueWaiting", testOrderedRequeueWaiting},
		{"OrderedRetryFailedKeepsOrder", testOrderedRetryFailed},
		{"OrderedTurnedOff", testOrderedTurnedOff},
		{"OrderedDeleteAndPurge", testOrderedDeleteAndPurge},
		{"OrderedBatchOrder", withBatch(testOrderedBatch)},
		{"OrderedReplayOrder", testOrderedReplay},
		{"OrderedUnorderedUnaffected", testOrderedUnorderedUnaffected},
		{"OrderedConcurrentClaimers", testOrderedConcurrent},
	}
}

func orderedEndpoint(t *testing.T, s webhook.Store, tenant string) *webhook.Endpoint {
	t.Helper()
	ep := endpoint(tenant)
	ep.Ordered = true
	require.NoError(t, s.CreateEndpoint(context.Background(), ep))
	return ep
}

// orderedMsg builds a message with ordering key key and one pending
// delivery, due at due, per endpoint; deliveries to Ordered endpoints are
// ordered, as the dispatcher builds them.
func orderedMsg(tenant, key string, due time.Time, eps ...*webhook.Endpoint) webhook.MessageInsert {
	msg := &webhook.Message{ID: id("msg"), Tenant: tenant, Type: "a.b", Payload: []byte(`{"type":"a.b"}`),
		OrderingKey: key, CreatedAt: base}
	mi := webhook.MessageInsert{Message: msg}
	for _, ep := range eps {
		d := &webhook.Delivery{ID: id("dlv"), MessageID: msg.ID, EndpointID: ep.ID, Tenant: tenant, EventType: msg.Type,
			State: webhook.StatePending, NextAttemptAt: due, CreatedAt: base, UpdatedAt: base}
		if ep.Ordered {
			d.Ordered, d.OrderingKey = true, key
		}
		mi.Deliveries = append(mi.Deliveries, d)
	}
	return mi
}

// publishKeyed stores one message with ordering key key per call of n,
// to ep, all due at base, and returns their deliveries in publish order.
func publishKeyed(t *testing.T, s webhook.Store, ep *webhook.Endpoint, key string, n int) []*webhook.Delivery {
	t.Helper()
	var out []*webhook.Delivery
	for range n {
		mi := orderedMsg(ep.Tenant, key, base, ep)
		require.NoError(t, s.InsertMessage(context.Background(), mi.Message, mi.Deliveries))
		out = append(out, mi.Deliveries[0])
	}
	return out
}

func claimedIDs(cs []*webhook.Claimed) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Delivery.ID)
	}
	return out
}

// finish records c's attempt with state st (succeeded or failed) at now.
func finish(t *testing.T, s webhook.Store, c *webhook.Claimed, st webhook.DeliveryState, now time.Time) {
	t.Helper()
	status := 200
	if st != webhook.StateSucceeded {
		status = 500
	}
	require.True(t, record(t, s, webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: now,
		Attempt: attempt(c, c.Delivery.Attempts+1, status, now), State: st}), "record of %s", c.Delivery.ID)
}

// claimOne claims at now and requires exactly the delivery want.
func claimOne(t *testing.T, s webhook.Store, now time.Time, want string, why string) *webhook.Claimed {
	t.Helper()
	cs := claim(t, s, now, 10)
	require.Equal(t, []string{want}, claimedIDs(cs), why)
	return cs[0]
}

// sendInOrder claims ds one at a time, in order (why says why that order),
// checks that each next one waits for the one claimed, and finishes each
// as succeeded; it returns the claims.
func sendInOrder(t *testing.T, s webhook.Store, ds []*webhook.Delivery, now time.Time, why string) []*webhook.Claimed {
	t.Helper()
	var out []*webhook.Claimed
	for i, d := range ds {
		c := claimOne(t, s, now, d.ID, why)
		if i+1 < len(ds) {
			assert.Equal(t, d.ID, getDelivery(t, s, ds[i+1].ID).WaitingFor)
		}
		finish(t, s, c, webhook.StateSucceeded, now)
		out = append(out, c)
	}
	return out
}

func getDelivery(t *testing.T, s webhook.Store, id string) *webhook.Delivery {
	t.Helper()
	d, err := s.GetDelivery(context.Background(), id)
	require.NoError(t, err)
	return d
}

func testOrderedHeadOfLine(t *testing.T, s webhook.Store) {
	ep := orderedEndpoint(t, s, "t")
	ds := publishKeyed(t, s, ep, "cust_1", 3)
	now := base.Add(time.Second)

	c := claimOne(t, s, now, ds[0].ID, "only the head of the queue is claimable")
	assert.True(t, c.Delivery.Ordered)
	assert.Equal(t, "cust_1", c.Delivery.OrderingKey)
	assert.Empty(t, claim(t, s, now, 10), "the second waits while the head is leased")

	// The head's lease lapses: it is claimable again, and still alone.
	now = now.Add(31 * time.Second)
	c = claimOne(t, s, now, ds[0].ID, "a lapsed head is claimed again; the others still wait")

	// A retry keeps it the head: the rest wait, due or not.
	require.True(t, record(t, s, webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: now,
		Attempt: attempt(c, 1, 503, now), State: webhook.StatePending, NextAttemptAt: now.Add(time.Minute)}))
	assert.Empty(t, claim(t, s, now.Add(30*time.Second), 10), "nothing is claimable while the head waits for its retry")
	now = now.Add(time.Minute)
	c = claimOne(t, s, now, ds[0].ID, "the retrying head comes due again, alone")

	// Failed for good: the queue goes on with the next.
	finish(t, s, c, webhook.StateFailed, now)
	assert.Equal(t, webhook.StateFailed, getDelivery(t, s, ds[0].ID).State)
	c = claimOne(t, s, now, ds[1].ID, "after the head failed for good, the next is the head")
	assert.Equal(t, webhook.StatePending, getDelivery(t, s, ds[2].ID).State)
	finish(t, s, c, webhook.StateSucceeded, now)
	c = claimOne(t, s, now, ds[2].ID, "after the head succeeded, the next is the head")
	finish(t, s, c, webhook.StateSucceeded, now)
	assert.Empty(t, claim(t, s, now.Add(time.Hour), 10))
}

func testOrderedKeys(t *testing.T, s webhook.Store) {
	ep := orderedEndpoint(t, s, "t")
	var a, b []*webhook.Delivery
	for range 3 {
		a = append(a, publishKeyed(t, s, ep, "a", 1)...)
		b = append(b, publishKeyed(t, s, ep, "b", 1)...)
	}
	now := base.Add(time.Second)
	cs := claim(t, s, now, 10)
	require.ElementsMatch(t, []string{a[0].ID, b[0].ID}, claimedIDs(cs), "one head per key, claimed together")
	byID := map[string]*webhook.Claimed{}
	for _, c := range cs {
		byID[c.Delivery.ID] = c
	}
	finish(t, s, byID[b[0].ID], webhook.StateSucceeded, now)
	cb := claimOne(t, s, now, b[1].ID, "key b goes on while key a's head is in flight")
	finish(t, s, cb, webhook.StateSucceeded, now)
	cb = claimOne(t, s, now, b[2].ID, "key b goes on while key a's head is in flight")
	finish(t, s, cb, webhook.StateSucceeded, now)
	assert.Empty(t, claim(t, s, now, 10), "key a still waits for its head")
	finish(t, s, byID[a[0].ID], webhook.StateSucceeded, now)
	claimOne(t, s, now, a[1].ID, "key a goes on once its head finished")
}

func testOrderedNoKeys(t *testing.T, s webhook.Store) {
	ep := orderedEndpoint(t, s, "t")
	ds := publishKeyed(t, s, ep, "", 4)
	now := base.Add(time.Second)
	for _, c := range sendInOrder(t, s, ds, now, "an ordered endpoint without keys is one queue") {
		assert.Equal(t, "", c.Delivery.OrderingKey)
	}
}

func testOrderedWaitingFor(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := orderedEndpoint(t, s, "t")
	ds := publishKeyed(t, s, ep, "k", 3)
	msg, err := s.GetMessage(ctx, ds[0].MessageID)
	require.NoError(t, err)
	assert.Equal(t, "k", msg.OrderingKey, "the message keeps its ordering key")

	head := getDelivery(t, s, ds[0].ID)
	assert.True(t, head.Ordered)
	assert.Equal(t, "k", head.OrderingKey)
	assert.Empty(t, head.WaitingFor, "the head waits for nobody")
	for _, d := range ds[1:] {
		got := getDelivery(t, s, d.ID)
		assert.Equal(t, webhook.StatePending, got.State, "a waiting delivery is pending")
		assert.Equal(t, ds[0].ID, got.WaitingFor, "GetDelivery names the head")
		assert.True(t, got.Ordered)
		assert.Equal(t, "k", got.OrderingKey)
	}
	list, _, err := s.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep.ID})
	require.NoError(t, err)
	require.Len(t, list, 3)
	for _, d := range list {
		want := ds[0].ID
		if d.ID == ds[0].ID {
			want = ""
		}
		assert.Equal(t, want, d.WaitingFor, "ListDeliveries fills WaitingFor of %s", d.ID)
	}

	now := base.Add(time.Second)
	finish(t, s, claimOne(t, s, now, ds[0].ID, "head"), webhook.StateSucceeded, now)
	assert.Empty(t, getDelivery(t, s, ds[0].ID).WaitingFor, "a finished delivery waits for nobody")
	assert.Empty(t, getDelivery(t, s, ds[1].ID).WaitingFor, "the new head waits for nobody")
	assert.Equal(t, ds[1].ID, getDelivery(t, s, ds[2].ID).WaitingFor, "the rest wait for the new head")
}

func testOrderedClaimDelivery(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := orderedEndpoint(t, s, "t")
	ds := publishKeyed(t, s, ep, "k", 2)
	p := webhook.ClaimParams{Owner: "test", Now: base.Add(-time.Hour), Lease: 30 * time.Second}

	_, err := s.ClaimDelivery(ctx, ds[1].ID, p)
	require.ErrorIs(t, err, webhook.ErrConflict, "a waiting delivery cannot be claimed by ID")
	assert.Equal(t, ds[0].ID, getDelivery(t, s, ds[1].ID).WaitingFor, "and it stays waiting")

	c, err := s.ClaimDelivery(ctx, ds[0].ID, p)
	require.NoError(t, err, "the head can be claimed by ID before it is due")
	_, err = s.ClaimDelivery(ctx, ds[1].ID, p)
	require.ErrorIs(t, err, webhook.ErrConflict)
	finish(t, s, c, webhook.StateSucceeded, p.Now)
	c, err = s.ClaimDelivery(ctx, ds[1].ID, p)
	require.NoError(t, err, "once the head finished, the next is the head")
	assert.Equal(t, ds[1].ID, c.Delivery.ID)
}

func testOrderedRequeueFinished(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := orderedEndpoint(t, s, "t")
	ds := publishKeyed(t, s, ep, "k", 3)
	now := base.Add(time.Second)
	finish(t, s, claimOne(t, s, now, ds[0].ID, "head"), webhook.StateSucceeded, now)
	c1 := claimOne(t, s, now, ds[1].ID, "second")

	// Redeliver the first while the second is in flight: it waits behind
	// the current head, and goes next (it is older than the third).
	n, err := s.Requeue(ctx, webhook.RequeueParams{DeliveryID: ds[0].ID, At: now})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got := getDelivery(t, s, ds[0].ID)
	assert.Equal(t, webhook.StatePending, got.State)
	assert.Equal(t, ds[1].ID, got.WaitingFor, "a requeued delivery waits behind the queue's head")
	assert.Empty(t, claim(t, s, now, 10), "it does not overtake the head in flight")
	_, err = s.ClaimDelivery(ctx, ds[0].ID, webhook.ClaimParams{Owner: "test", Now: now, Lease: time.Minute})
	require.ErrorIs(t, err, webhook.ErrConflict)

	finish(t, s, c1, webhook.StateSucceeded, now)
	c0 := claimOne(t, s, now, ds[0].ID, "the requeued delivery keeps its old place: it goes before the third")
	assert.Equal(t, ds[0].ID, getDelivery(t, s, ds[2].ID).WaitingFor)
	finish(t, s, c0, webhook.StateSucceeded, now)
	c2 := claimOne(t, s, now, ds[2].ID, "then the third")
	finish(t, s, c2, webhook.StateSucceeded, now)

	// With the queue empty, a requeued delivery is its head at once.
	n, err = s.Requeue(ctx, webhook.RequeueParams{DeliveryID: ds[1].ID, At: now})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	assert.Empty(t, getDelivery(t, s, ds[1].ID).WaitingFor)
	claimOne(t, s, now, ds[1].ID, "a requeued delivery of an empty queue is its head")
}

func testOrderedRequeueWaiting(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := orderedEndpoint(t, s, "t")
	ds := publishKeyed(t, s, ep, "k", 3)
	now := base.Add(time.Second)
	c := claimOne(t, s, now, ds[0].ID, "head")
	n, err := s.Requeue(ctx, webhook.RequeueParams{DeliveryID: ds[2].ID, At: now})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	assert.Equal(t, ds[0].ID, getDelivery(t, s, ds[2].ID).WaitingFor, "a requeued waiting delivery stays waiting")
	assert.Empty(t, claim(t, s, now, 10))
	finish(t, s, c, webhook.StateSucceeded, now)
	c = claimOne(t, s, now, ds[1].ID, "and keeps its place: the second goes first")
	finish(t, s, c, webhook.StateSucceeded, now)
	claimOne(t, s, now, ds[2].ID, "then the third")
}

// testOrderedRetryFailed: a queue whose deliveries all failed (an endpoint
// disabled for a while) is requeued in bulk; they go out in their order.
func testOrderedRetryFailed(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := orderedEndpoint(t, s, "t")
	ds := publishKeyed(t, s, ep, "k", 3)
	now := base.Add(time.Second)
	for _, d := range ds {
		c := claimOne(t, s, now, d.ID, "in order")
		require.True(t, record(t, s, webhook.Record{DeliveryID: d.ID, Lease: c.Lease, Now: now,
			State: webhook.StateFailed, Error: "endpoint disabled"}))
	}
	n, err := s.Requeue(ctx, webhook.RequeueParams{EndpointID: ep.ID, State: webhook.StateFailed, At: now})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	sendInOrder(t, s, ds, now, "requeued in bulk, they go out in publish order")
}

func testOrderedTurnedOff(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := orderedEndpoint(t, s, "t")
	ds := publishKeyed(t, s, ep, "k", 3)
	now := base.Add(time.Second)
	c := claimOne(t, s, now, ds[0].ID, "head")

	// Disabling and enabling change no queue.
	ep.Disabled = true
	require.NoError(t, s.UpdateEndpoint(ctx, ep))
	ep.Disabled = false
	require.NoError(t, s.UpdateEndpoint(ctx, ep))
	assert.Equal(t, ds[0].ID, getDelivery(t, s, ds[1].ID).WaitingFor, "disable and enable leave the queue as it was")
	assert.Empty(t, claim(t, s, now, 10))

	// Turning Ordered off releases the waiting ones at once.
	ep.Ordered = false
	require.NoError(t, s.UpdateEndpoint(ctx, ep))
	for _, d := range ds[1:] {
		got := getDelivery(t, s, d.ID)
		assert.False(t, got.Ordered, "released deliveries are unordered")
		assert.Empty(t, got.OrderingKey, "and keep no key (the message keeps it)")
		assert.Empty(t, got.WaitingFor)
		assert.Equal(t, webhook.StatePending, got.State)
	}
	require.ElementsMatch(t, []string{ds[1].ID, ds[2].ID}, claimedIDs(claim(t, s, now, 10)),
		"released deliveries are due at their NextAttemptAt, beside the head in flight")
	finish(t, s, c, webhook.StateSucceeded, now)

	// New deliveries of the now unordered endpoint do not queue.
	ep.Ordered = false
	mi1, mi2 := orderedMsg("t", "k", base, ep), orderedMsg("t", "k", base, ep)
	require.NoError(t, s.InsertMessage(ctx, mi1.Message, mi1.Deliveries))
	require.NoError(t, s.InsertMessage(ctx, mi2.Message, mi2.Deliveries))
	assert.Len(t, claim(t, s, now, 10), 2)
}

func testOrderedDeleteAndPurge(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := orderedEndpoint(t, s, "t")
	ds := publishKeyed(t, s, ep, "k", 3)
	now := base.Add(time.Second)
	finish(t, s, claimOne(t, s, now, ds[0].ID, "head"), webhook.StateSucceeded, now)

	n, err := s.Purge(ctx, base.Add(100*time.Hour), 100)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "Purge removes the finished delivery only, never a head or a waiting one")
	assert.Equal(t, ds[1].ID, getDelivery(t, s, ds[2].ID).WaitingFor)
	claimOne(t, s, now, ds[1].ID, "the queue goes on after a purge")

	require.NoError(t, s.DeleteEndpoint(ctx, ep.ID))
	for _, d := range ds[1:] {
		_, err := s.GetDelivery(ctx, d.ID)
		assert.ErrorIs(t, err, webhook.ErrNotFound, "the queue goes with its endpoint")
	}
	assert.Empty(t, claim(t, s, now.Add(time.Hour), 10))
}

func testOrderedBatch(t *testing.T, s webhook.Store, b webhook.BatchInserter) {
	ctx := context.Background()
	ord, plain := orderedEndpoint(t, s, "t"), mustEndpoint(t, s, "t")
	var batch []webhook.MessageInsert
	for range 5 {
		batch = append(batch, orderedMsg("t", "k", base, ord, plain))
	}
	_, err := b.InsertMessages(ctx, batch)
	require.NoError(t, err)
	now := base.Add(time.Second)
	cs := claim(t, s, now, 100)
	require.Len(t, cs, 6, "the unordered endpoint's five, and the ordered queue's head")
	var head *webhook.Claimed
	for _, c := range cs {
		if c.Delivery.EndpointID == ord.ID {
			head = c
		}
	}
	require.NotNil(t, head)
	for i, mi := range batch {
		want := mi.Deliveries[0].ID
		if i > 0 {
			head = claimOne(t, s, now, want, "one InsertMessages call: the batch's order is the queue's")
		}
		require.Equal(t, want, head.Delivery.ID)
		finish(t, s, head, webhook.StateSucceeded, now)
	}
}

func testOrderedReplay(t *testing.T, s webhook.Store) {
	rp, ok := s.(webhook.Replayer)
	if !ok {
		t.Skipf("%T implements no webhook.Replayer", s)
	}
	ctx := context.Background()
	ep := orderedEndpoint(t, s, "t")
	var ds []*webhook.Delivery
	for range 3 {
		mi := orderedMsg("t", "k", base, ep)
		require.NoError(t, s.InsertMessage(ctx, mi.Message, nil))
		d := mi.Deliveries[0]
		ds = append(ds, d)
	}
	n, err := rp.InsertDeliveries(ctx, ds)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	now := base.Add(time.Second)
	for _, d := range ds {
		finish(t, s, claimOne(t, s, now, d.ID, "replayed deliveries queue in the order given"), webhook.StateSucceeded, now)
	}
}

func testOrderedUnorderedUnaffected(t *testing.T, s webhook.Store) {
	ord, plain := orderedEndpoint(t, s, "t"), mustEndpoint(t, s, "t")
	var plainIDs []string
	for range 4 {
		mi := orderedMsg("t", "k", base, ord, plain)
		require.NoError(t, s.InsertMessage(context.Background(), mi.Message, mi.Deliveries))
		plainIDs = append(plainIDs, mi.Deliveries[1].ID)
		assert.False(t, getDelivery(t, s, mi.Deliveries[1].ID).Ordered)
		assert.Empty(t, getDelivery(t, s, mi.Deliveries[1].ID).WaitingFor)
	}
	cs := claim(t, s, base.Add(time.Second), 100)
	var got []string
	for _, c := range cs {
		if c.Delivery.EndpointID == plain.ID {
			got = append(got, c.Delivery.ID)
		}
	}
	assert.ElementsMatch(t, plainIDs, got, "an unordered endpoint's deliveries go out together, whatever their message's key")
	assert.Len(t, cs, 5, "and the ordered endpoint's head with them")
}
