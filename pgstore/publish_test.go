package pgstore_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/hookline/webhook/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublishUnderDeadlines: 300 publishes with deadlines of 0-3 ms; an
// error from Publish means nothing was stored (ErrOutcomeUnknown aside).
func TestPublishUnderDeadlines(t *testing.T) {
	t.Parallel()
	o := storetest.PublishUnderDeadlines(t, newSchemaStore(t, testPool(t), nil), 300)
	t.Logf("pgstore: %s", o)
}

// TestPublishTxUnderDeadlines: PublishTx under deadlines of 0-10 ms, then
// the caller's commit. Whatever PublishTx returned an error for is not
// stored after the commit; what it and the commit accepted is.
func TestPublishTxUnderDeadlines(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	st := newSchemaStore(t, pool, nil)
	d := newDispatcher(t, st, false, nil)
	ctx := context.Background()
	require.NoError(t, d.CreateEndpoint(ctx, &webhook.Endpoint{URL: "https://example.com/hook"}))
	var o storetest.Outcomes
	for i := 0; i < 100; i++ {
		id := "txdeadline-" + strconv.Itoa(i)
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		pctx, cancel := context.WithTimeout(ctx, time.Duration(i)*100*time.Microsecond) // 0 to 10 ms
		_, err = webhook.PublishTx(pctx, d, tx, orderPlaced{OrderID: i}, &webhook.PublishOpts{ID: id})
		cancel()
		if cerr := tx.Commit(ctx); err == nil {
			err = cerr
		}
		o.Add(t, st, id, 1, err)
	}
	t.Logf("PublishTx then commit: %s", o)
	assert.Zero(t, o.ErrorButStored, "%s", o)
	assert.Zero(t, o.NilButMissing, "%s", o)
	assert.Zero(t, o.Unknown, "PublishTx leaves the outcome to the caller's commit")
}

// TestPublishOutcomeUnknown: a statement cut off by the store's own
// InsertTimeout after it was sent cannot tell whether it committed: the
// error matches ErrOutcomeUnknown, and publishing again with the same ID
// leaves exactly one message with one delivery.
func TestPublishOutcomeUnknown(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	st := newSchemaStore(t, pool, &pgstore.Options{InsertTimeout: 100 * time.Millisecond})
	d := newDispatcher(t, st, false, nil)
	ctx := context.Background()
	ep := &webhook.Endpoint{URL: "https://example.com/hook"}
	require.NoError(t, d.CreateEndpoint(ctx, ep))

	// Another transaction holds the endpoint's row: the publish's statement
	// waits for it past InsertTimeout.
	blocker, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = blocker.Exec(ctx, "SELECT 1 FROM "+quote(st.Schema())+".endpoints WHERE id = $1 FOR UPDATE", ep.ID)
	require.NoError(t, err)
	_, err = d.Publish(ctx, orderPlaced{OrderID: 1}, &webhook.PublishOpts{ID: "order-unknown"})
	require.ErrorIs(t, err, webhook.ErrOutcomeUnknown)
	assert.Contains(t, err.Error(), "publish again with the same ID")
	require.NoError(t, blocker.Rollback(ctx))

	// The safe answer: publish again with the same ID, until it succeeds.
	require.Eventually(t, func() bool {
		_, err = d.Publish(ctx, orderPlaced{OrderID: 1}, &webhook.PublishOpts{ID: "order-unknown"})
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "publishing again: %v", err)
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: "order-unknown"})
	require.NoError(t, err)
	assert.Len(t, ds, 1, "one message, one delivery")
}

// TestPublishTxOtherTenantsID: in a transaction as outside, an ID taken by
// another tenant's message is ErrConflict that tells nothing of it; the
// same tenant's ID is ErrDuplicate.
func TestPublishTxOtherTenantsID(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	st := newSchemaStore(t, pool, nil)
	d := newDispatcher(t, st, false, nil)
	ctx := context.Background()
	require.NoError(t, d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "tenant-alpha", URL: "https://example.com/a"}))
	epB := &webhook.Endpoint{Tenant: "tenant-bravo", URL: "https://example.com/b"}
	require.NoError(t, d.CreateEndpoint(ctx, epB))
	a, err := d.Publish(ctx, orderPlaced{OrderID: 4242}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-alpha"})
	require.NoError(t, err)

	got, err := d.Publish(ctx, orderPlaced{OrderID: 7}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-bravo"})
	require.ErrorIs(t, err, webhook.ErrConflict)
	assert.Nil(t, got)
	storetest.AssertRevealsNothing(t, err, a)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	got, err = webhook.PublishTx(ctx, d, tx, orderPlaced{OrderID: 7}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-bravo"})
	require.ErrorIs(t, err, webhook.ErrConflict)
	assert.NotErrorIs(t, err, webhook.ErrDuplicate)
	assert.Nil(t, got)
	storetest.AssertRevealsNothing(t, err, a)
	assert.False(t, strings.Contains(err.Error(), "4242"), "no payload in the error")
	require.NoError(t, tx.Commit(ctx))
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: epB.ID})
	require.NoError(t, err)
	assert.Empty(t, ds, "B's publish stored nothing")

	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = webhook.PublishTx(ctx, d, tx, orderPlaced{OrderID: 1}, &webhook.PublishOpts{ID: "order-1", Tenant: "tenant-alpha"})
	assert.ErrorIs(t, err, webhook.ErrDuplicate, "the same tenant's ID")
	require.NoError(t, tx.Rollback(ctx))

	// A duplicate within one transaction, not yet committed.
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = webhook.PublishTx(ctx, d, tx, orderPlaced{OrderID: 2}, &webhook.PublishOpts{ID: "order-2", Tenant: "tenant-alpha"})
	require.NoError(t, err)
	_, err = webhook.PublishTx(ctx, d, tx, orderPlaced{OrderID: 2}, &webhook.PublishOpts{ID: "order-2", Tenant: "tenant-alpha"})
	assert.ErrorIs(t, err, webhook.ErrDuplicate)
}

// TestPublishRacingDeleteEndpoint: see storetest.PublishRacingDeleteEndpoint.
func TestPublishRacingDeleteEndpoint(t *testing.T) {
	t.Parallel()
	storetest.PublishRacingDeleteEndpoint(t, newSchemaStore(t, testPool(t), nil))
}

// TestInsertMessageWaitsForDeleteEndpoint: an InsertMessage that starts
// while a DeleteEndpoint of one of its endpoints is in progress (not yet
// committed) waits for it, then stores the message without that delivery,
// rather than failing on the foreign key.
func TestInsertMessageWaitsForDeleteEndpoint(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	st := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	now := time.Now().UTC()
	gone := &webhook.Endpoint{ID: "ep_gone", URL: "https://example.com/gone", Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
	keep := &webhook.Endpoint{ID: "ep_keep", URL: "https://example.com/keep", Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
	require.NoError(t, st.CreateEndpoint(ctx, gone))
	require.NoError(t, st.CreateEndpoint(ctx, keep))

	del, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer del.Rollback(ctx) //nolint:errcheck
	_, err = del.Exec(ctx, "DELETE FROM "+quote(st.Schema())+".endpoints WHERE id = $1", gone.ID)
	require.NoError(t, err)

	msg := &webhook.Message{ID: "msg_race", Type: "a.b", Payload: []byte(`{}`), CreatedAt: now}
	mk := func(id, ep string) *webhook.Delivery {
		return &webhook.Delivery{ID: id, MessageID: msg.ID, EndpointID: ep, EventType: "a.b",
			State: webhook.StatePending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	}
	done := make(chan error, 1)
	go func() {
		done <- st.InsertMessage(ctx, msg, []*webhook.Delivery{mk("dlv_gone", gone.ID), mk("dlv_keep", keep.ID)})
	}()
	// Wait until the insert is blocked on the deleted row's lock.
	require.Eventually(t, func() bool {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '.messages%'`, quote(st.Schema())).Scan(&n)
		return err == nil && n == 1
	}, 10*time.Second, time.Millisecond, "the insert waits for the delete")
	require.NoError(t, del.Commit(ctx))
	require.NoError(t, <-done, "the publish is not failed by the deletion")

	_, err = st.GetMessage(ctx, msg.ID)
	require.NoError(t, err)
	_, err = st.GetDelivery(ctx, "dlv_gone")
	assert.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = st.GetDelivery(ctx, "dlv_keep")
	assert.NoError(t, err)
}
