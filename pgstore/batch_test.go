package pgstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublishBatchTx: a batch published in the host's transaction is
// stored and delivered only if it commits; a batch refused inside the
// transaction (another tenant's ID) leaves no message of it in the
// transaction, which stays usable and commits the host's own row.
func TestPublishBatchTx(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	store := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	orders := quote(store.Schema()) + ".orders"
	_, err := pool.Exec(ctx, "CREATE TABLE "+orders+" (id int PRIMARY KEY)")
	require.NoError(t, err)
	recv := webhooktest.NewReceiver(t)
	d := newDispatcher(t, store, true, nil)
	createEndpoint(t, d, recv.URL)
	other := &webhook.Endpoint{Tenant: "other", URL: recv.URL + "/other"}
	require.NoError(t, d.CreateEndpoint(ctx, other))
	_, err = d.Publish(ctx, orderPlaced{OrderID: 0}, &webhook.PublishOpts{ID: "taken", Tenant: "other"})
	require.NoError(t, err)

	batch := func(prefix string, n int) []webhook.BatchEvent {
		var evs []webhook.BatchEvent
		for i := range n {
			evs = append(evs, webhook.BatchEvent{Event: orderPlaced{OrderID: i}, Opts: &webhook.PublishOpts{ID: prefix + strconv.Itoa(i)}})
		}
		return evs
	}

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = webhook.PublishBatchTx(ctx, d, tx, batch("rolled-", 3))
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	_, err = d.GetMessage(ctx, "rolled-0")
	assert.ErrorIs(t, err, webhook.ErrNotFound, "a rolled back batch stores nothing")

	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = tx.Exec(ctx, "INSERT INTO "+orders+" (id) VALUES (1)")
	require.NoError(t, err)
	refused := append(batch("refused-", 2), webhook.BatchEvent{Event: orderPlaced{}, Opts: &webhook.PublishOpts{ID: "taken"}})
	_, err = webhook.PublishBatchTx(ctx, d, tx, refused)
	require.ErrorIs(t, err, webhook.ErrConflict)
	msgs, err := webhook.PublishBatchTx(ctx, d, tx, batch("kept-", 3))
	require.NoError(t, err, "the transaction is still usable")
	require.NoError(t, tx.Commit(ctx))
	_, err = d.GetMessage(ctx, "refused-0")
	assert.ErrorIs(t, err, webhook.ErrNotFound, "nothing of the refused batch is part of the transaction")
	for _, m := range msgs {
		got := recv.WaitForMessage(t, m.ID, 10*time.Second)
		assert.Len(t, got, 1)
	}
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+orders).Scan(&n))
	assert.Equal(t, 1, n, "the host's row committed with the batch")
}

// TestGroupCommitOutcomes: concurrent publishes under deadlines through
// the group commit keep Publish's promise (an error means nothing stored,
// a nil means stored), with grouping off and on.
func TestGroupCommitOutcomes(t *testing.T) {
	t.Parallel()
	for _, group := range []int{1, 64} {
		t.Run("MaxGroup="+strconv.Itoa(group), func(t *testing.T) {
			t.Parallel()
			st := newSchemaStore(t, testPool(t), &pgstore.Options{MaxGroup: group})
			d := newDispatcher(t, st, false, nil)
			createEndpoint(t, d, "http://127.0.0.1:1/never")
			ctx := context.Background()
			const n = 200
			errs := make(chan error, n)
			for i := range n {
				go func() {
					cctx, cancel := context.WithTimeout(ctx, time.Duration(i%40)*5*time.Millisecond)
					defer cancel()
					_, err := d.Publish(cctx, orderPlaced{OrderID: i}, &webhook.PublishOpts{ID: "g-" + strconv.Itoa(i)})
					if err != nil {
						err = &idErr{id: "g-" + strconv.Itoa(i), err: err}
					}
					errs <- err
				}()
			}
			failed := map[string]bool{}
			for range n {
				if err := <-errs; err != nil {
					ie := err.(*idErr)
					require.NotErrorIs(t, ie.err, webhook.ErrOutcomeUnknown)
					failed[ie.id] = true
				}
			}
			for i := range n {
				id := "g-" + strconv.Itoa(i)
				ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: id})
				require.NoError(t, err)
				_, gerr := d.GetMessage(ctx, id)
				if failed[id] {
					assert.ErrorIs(t, gerr, webhook.ErrNotFound, "%s failed yet was stored", id)
					assert.Empty(t, ds)
				} else {
					assert.NoError(t, gerr, "%s succeeded yet is missing", id)
					assert.Len(t, ds, 1)
				}
			}
			t.Logf("MaxGroup %d: %d of %d publishes refused by their deadline", group, len(failed), n)
		})
	}
}

type idErr struct {
	id  string
	err error
}

func (e *idErr) Error() string { return e.id + ": " + e.err.Error() }

// TestGroupCommitOneBadMessage: a message the database refuses (its
// delivery ID exists) fails alone; the messages grouped with it are
// stored.
func TestGroupCommitOneBadMessage(t *testing.T) {
	t.Parallel()
	st := newSchemaStore(t, testPool(t), nil)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ep := &webhook.Endpoint{ID: "ep_1", URL: "https://example.com/", Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
	require.NoError(t, st.CreateEndpoint(ctx, ep))
	mk := func(id, dlv string) (*webhook.Message, []*webhook.Delivery) {
		m := &webhook.Message{ID: id, Type: "a.b", Payload: []byte(`{}`), CreatedAt: now}
		return m, []*webhook.Delivery{{ID: dlv, MessageID: id, EndpointID: ep.ID, EventType: "a.b",
			State: webhook.StatePending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}}
	}
	m, ds := mk("first", "dlv_taken")
	require.NoError(t, st.InsertMessage(ctx, m, ds))
	for round := range 5 {
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dlv := fmt.Sprintf("dlv_%d_%d", round, i)
				if i == n/2 {
					dlv = "dlv_taken"
				}
				m, ds := mk(fmt.Sprintf("m_%d_%d", round, i), dlv)
				errs[i] = st.InsertMessage(ctx, m, ds)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if i == n/2 {
				assert.ErrorIs(t, err, webhook.ErrConflict, "the bad message fails")
				continue
			}
			assert.NoError(t, err, "message %d was grouped with the bad one and must be stored all the same", i)
		}
	}
}
