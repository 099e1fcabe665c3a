package storetest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchTests are Run's checks of webhook.BatchInserter (skipped for stores
// without it) and of concurrent InsertMessage calls on the same IDs.
func batchTests() []struct {
	name string
	fn   func(t *testing.T, s webhook.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s webhook.Store)
	}{
		{"BatchStoresAll", withBatch(testBatchStoresAll)},
		{"BatchAllOrNothing", withBatch(testBatchAllOrNothing)},
		{"BatchIdempotent", withBatch(testBatchIdempotent)},
		{"BatchOtherTenantsID", withBatch(testBatchOtherTenant)},
		{"BatchRepeatedID", withBatch(testBatchRepeatedID)},
		{"ConcurrentInsertsSameIDs", testConcurrentInserts},
	}
}

func withBatch(fn func(t *testing.T, s webhook.Store, b webhook.BatchInserter)) func(t *testing.T, s webhook.Store) {
	return func(t *testing.T, s webhook.Store) {
		b, ok := s.(webhook.BatchInserter)
		if !ok {
			t.Skipf("%T implements no webhook.BatchInserter", s)
		}
		fn(t, s, b)
	}
}

// item builds a message of tenant with one pending delivery per endpoint.
func item(tenant, msgID string, eps ...*webhook.Endpoint) webhook.MessageInsert {
	msg := &webhook.Message{ID: msgID, Tenant: tenant, Type: "a.b", Payload: []byte(`{"id":"` + msgID + `"}`),
		Metadata: map[string]string{"k": msgID}, CreatedAt: base}
	mi := webhook.MessageInsert{Message: msg}
	for _, ep := range eps {
		mi.Deliveries = append(mi.Deliveries, &webhook.Delivery{ID: id("dlv"), MessageID: msgID, EndpointID: ep.ID,
			Tenant: tenant, EventType: msg.Type, State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base})
	}
	return mi
}

// assertStored checks that mi's message and its deliveries are stored
// (or, with stored false, that none of them is).
func assertStored(t *testing.T, s webhook.Store, mi webhook.MessageInsert, stored bool) {
	t.Helper()
	ctx := context.Background()
	got, err := s.GetMessage(ctx, mi.Message.ID)
	ds, _, lerr := s.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: mi.Message.ID})
	require.NoError(t, lerr)
	if !stored {
		assert.ErrorIs(t, err, webhook.ErrNotFound, "message %s must not be stored", mi.Message.ID)
		for _, d := range mi.Deliveries {
			_, err := s.GetDelivery(ctx, d.ID)
			assert.ErrorIs(t, err, webhook.ErrNotFound, "delivery %s must not be stored", d.ID)
		}
		return
	}
	require.NoError(t, err, "message %s must be stored", mi.Message.ID)
	assert.Equal(t, string(mi.Message.Payload), string(got.Payload))
	assert.Equal(t, mi.Message.Tenant, got.Tenant)
	assert.Equal(t, mi.Message.Metadata, got.Metadata)
	assert.Len(t, ds, len(mi.Deliveries), "deliveries of %s", mi.Message.ID)
}

// testBatchStoresAll: every message of a batch is stored with its
// deliveries, across tenants; a delivery to an endpoint that no longer
// exists is dropped, as for InsertMessage.
func testBatchStoresAll(t *testing.T, s webhook.Store, b webhook.BatchInserter) {
	ctx := context.Background()
	a1, a2, b1 := mustEndpoint(t, s, "alpha"), mustEndpoint(t, s, "alpha"), mustEndpoint(t, s, "bravo")
	gone := mustEndpoint(t, s, "bravo")
	require.NoError(t, s.DeleteEndpoint(ctx, gone.ID))
	batch := []webhook.MessageInsert{item("alpha", id("msg"), a1, a2), item("bravo", id("msg"), b1, gone), item("alpha", id("msg"))}
	stored, err := b.InsertMessages(ctx, batch)
	require.NoError(t, err)
	require.Len(t, stored, len(batch))
	for i := range batch {
		assert.Nil(t, stored[i], "a new message has no earlier copy")
	}
	assertStored(t, s, batch[0], true)
	assertStored(t, s, batch[2], true)
	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: batch[1].Message.ID})
	require.NoError(t, err)
	require.Len(t, ds, 1, "the deleted endpoint's delivery is dropped")
	assert.Equal(t, b1.ID, ds[0].EndpointID)

	cs := claim(t, s, base, 10)
	assert.Len(t, cs, 3, "the batch's deliveries are claimable")
}

// testBatchAllOrNothing: one item that cannot be stored (a delivery ID
// that exists) fails the whole batch and stores nothing of it.
func testBatchAllOrNothing(t *testing.T, s webhook.Store, b webhook.BatchInserter) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, "t")
	_, existing := publish(t, s, base, ep)
	bad := item("t", id("msg"), ep)
	bad.Deliveries[0].ID = existing[0].ID
	batch := []webhook.MessageInsert{item("t", id("msg"), ep), bad, item("t", id("msg"), ep)}
	_, err := b.InsertMessages(ctx, batch)
	require.Error(t, err)
	for _, mi := range batch {
		assertStored(t, s, webhook.MessageInsert{Message: mi.Message, Deliveries: mi.Deliveries[:0]}, false)
	}
	for _, i := range []int{0, 2} {
		_, err := s.GetDelivery(ctx, batch[i].Deliveries[0].ID)
		assert.ErrorIs(t, err, webhook.ErrNotFound)
	}
}

// testBatchIdempotent: an item whose ID the same tenant stored already is
// left as it is and its slot returns the stored message; the other items
// are stored. The same batch again stores nothing new.
func testBatchIdempotent(t *testing.T, s webhook.Store, b webhook.BatchInserter) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, "t")
	first, _ := publish(t, s, base, ep)
	again := item("t", first.ID, ep)
	again.Message.Payload = []byte(`{"changed":true}`)
	fresh := item("t", id("msg"), ep)
	stored, err := b.InsertMessages(ctx, []webhook.MessageInsert{again, fresh})
	require.NoError(t, err)
	require.Len(t, stored, 2)
	require.NotNil(t, stored[0], "the duplicate's slot holds the stored message")
	assert.Equal(t, first.ID, stored[0].ID)
	assert.Equal(t, string(first.Payload), string(stored[0].Payload), "the first message stays")
	assert.Nil(t, stored[1])
	_, err = s.GetDelivery(ctx, again.Deliveries[0].ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound, "nothing of the duplicate is stored")
	assertStored(t, s, fresh, true)

	stored, err = b.InsertMessages(ctx, []webhook.MessageInsert{fresh})
	require.NoError(t, err)
	require.NotNil(t, stored[0])
	assert.Equal(t, string(fresh.Message.Payload), string(stored[0].Payload))
	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: fresh.Message.ID})
	require.NoError(t, err)
	assert.Len(t, ds, 1, "the repeated batch stores no delivery")
}

// testBatchOtherTenant: an item whose ID another tenant's message holds
// fails the whole batch with ErrConflict, names the item, stores nothing,
// and tells nothing of the other message.
func testBatchOtherTenant(t *testing.T, s webhook.Store, b webhook.BatchInserter) {
	ctx := context.Background()
	epA, epB := mustEndpoint(t, s, "tenant-alpha"), mustEndpoint(t, s, "tenant-bravo")
	theirs := item("tenant-alpha", id("order"), epA)
	theirs.Message.Type = "c.confidential"
	theirs.Message.Payload = []byte(`{"secret":"alpha-payload"}`)
	theirs.Message.Metadata = map[string]string{"k": "alpha-meta"}
	_, err := b.InsertMessages(ctx, []webhook.MessageInsert{theirs})
	require.NoError(t, err)

	mine := item("tenant-bravo", id("msg"), epB)
	clash := item("tenant-bravo", theirs.Message.ID, epB)
	_, err = b.InsertMessages(ctx, []webhook.MessageInsert{mine, clash})
	require.ErrorIs(t, err, webhook.ErrConflict)
	assert.NotErrorIs(t, err, webhook.ErrDuplicate)
	var be *webhook.BatchError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 1, be.Index, "the error names the item")
	AssertRevealsNothing(t, err, theirs.Message)
	assertStored(t, s, mine, false)
	_, err = s.GetDelivery(ctx, clash.Deliveries[0].ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound)
	got, err := s.GetMessage(ctx, theirs.Message.ID)
	require.NoError(t, err)
	assert.Equal(t, "tenant-alpha", got.Tenant, "the other tenant's message stays")
}

// testBatchRepeatedID: two items with one ID are bad input: ErrInvalid,
// nothing stored.
func testBatchRepeatedID(t *testing.T, s webhook.Store, b webhook.BatchInserter) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, "t")
	one := item("t", id("msg"), ep)
	other := item("t", id("msg"), ep)
	twice := item("t", one.Message.ID, ep)
	_, err := b.InsertMessages(ctx, []webhook.MessageInsert{one, other, twice})
	require.ErrorIs(t, err, webhook.ErrInvalid)
	var be *webhook.BatchError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 2, be.Index)
	assertStored(t, s, one, false)
	assertStored(t, s, other, false)
}

// testConcurrentInserts: many InsertMessage calls at once, several on
// each ID (from its own tenant and from another), as a store that groups
// concurrent writes sees them. Per ID exactly one call succeeds; the
// others of the same tenant get ErrDuplicate, those of another tenant
// ErrConflict; what is stored is the successful call's message with all
// its deliveries, and nothing of the others.
func testConcurrentInserts(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	epA, epB := mustEndpoint(t, s, "alpha"), mustEndpoint(t, s, "bravo")
	const ids, callers = 40, 4 // per ID: callers of alpha and callers of bravo
	type call struct {
		mi  webhook.MessageInsert
		err error
	}
	calls := make([][]*call, ids)
	var wg sync.WaitGroup
	for i := range ids {
		msgID := id("msg")
		for c := range 2 * callers {
			tenant, ep := "alpha", epA
			if c%2 == 1 {
				tenant, ep = "bravo", epB
			}
			cl := &call{mi: item(tenant, msgID, ep)}
			cl.mi.Message.Payload = []byte(`{"caller":` + strconv.Itoa(c) + `}`)
			calls[i] = append(calls[i], cl)
		}
	}
	for i := range ids {
		for _, cl := range calls[i] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl.err = s.InsertMessage(ctx, cl.mi.Message, cl.mi.Deliveries)
			}()
		}
	}
	wg.Wait()
	for i := range ids {
		var winner *call
		for _, cl := range calls[i] {
			if cl.err == nil {
				require.Nil(t, winner, "two inserts of one ID succeeded")
				winner = cl
			}
		}
		require.NotNil(t, winner, "no insert of an ID succeeded: %v", calls[i][0].err)
		assertStored(t, s, winner.mi, true)
		for _, cl := range calls[i] {
			if cl == winner {
				continue
			}
			if cl.mi.Message.Tenant == winner.mi.Message.Tenant {
				assert.ErrorIs(t, cl.err, webhook.ErrDuplicate)
			} else {
				assert.ErrorIs(t, cl.err, webhook.ErrConflict)
				assert.False(t, errors.Is(cl.err, webhook.ErrDuplicate))
			}
			_, err := s.GetDelivery(ctx, cl.mi.Deliveries[0].ID)
			assert.ErrorIs(t, err, webhook.ErrNotFound, "a refused insert stores no delivery")
		}
	}
}
