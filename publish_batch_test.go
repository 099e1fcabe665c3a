package webhook_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/storetest"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublishBatchDelivers: a batch across tenants is stored in the
// order given, routed per event's tenant, and delivered.
func TestPublishBatchDelivers(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, nil)
	ctx := context.Background()
	rcv := webhooktest.NewReceiver(t)
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{Tenant: "alpha", URL: rcv.URL + "/a"})
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{Tenant: "alpha", URL: rcv.URL + "/a2"})
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{Tenant: "bravo", URL: rcv.URL + "/b"})
	var evs []webhook.BatchEvent
	for i := range 10 {
		tenant := "alpha"
		if i%2 == 1 {
			tenant = "bravo"
		}
		evs = append(evs, webhook.BatchEvent{Event: rewardIssued{CustomerID: "c" + strconv.Itoa(i), Points: i},
			Opts: &webhook.PublishOpts{ID: "batch-" + strconv.Itoa(i), Tenant: tenant}})
	}
	msgs, err := d.PublishBatch(ctx, evs)
	require.NoError(t, err)
	require.Len(t, msgs, len(evs))
	for i, m := range msgs {
		assert.Equal(t, "batch-"+strconv.Itoa(i), m.ID, "messages come back in the order of the events")
		assert.Equal(t, evs[i].Opts.Tenant, m.Tenant)
		want := 2
		if i%2 == 1 {
			want = 1
		}
		assert.Len(t, deliveriesOf(t, d.Dispatcher, m.ID), want, "routed to the event's tenant's endpoints")
	}
	rcv.WaitFor(t, 15, 10*time.Second)
}

// TestPublishBatchBadEventStoresNothing: bad input in one event fails the
// whole batch, names the event, and stores nothing.
func TestPublishBatchBadEventStoresNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bad  webhook.BatchEvent
		want error
	}{
		{"bad event type", webhook.BatchEvent{Event: webhook.RawEvent{Type: "no spaces allowed", Data: []byte(`{}`)}}, webhook.ErrInvalid},
		{"bad JSON", webhook.BatchEvent{Event: webhook.RawEvent{Type: "a.b", Data: []byte(`{`)}}, webhook.ErrInvalid},
		{"nil event", webhook.BatchEvent{}, webhook.ErrInvalid},
		{"bad ID", webhook.BatchEvent{Event: rewardIssued{}, Opts: &webhook.PublishOpts{ID: "has.a.dot"}}, webhook.ErrInvalid},
		{"repeated ID", webhook.BatchEvent{Event: rewardIssued{}, Opts: &webhook.PublishOpts{ID: "ok-0"}}, webhook.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDispatcher(t, nil)
			ctx := context.Background()
			createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: "https://example.com/hook"})
			evs := []webhook.BatchEvent{
				{Event: rewardIssued{Points: 1}, Opts: &webhook.PublishOpts{ID: "ok-0"}},
				{Event: rewardIssued{Points: 2}, Opts: &webhook.PublishOpts{ID: "ok-1"}},
				tc.bad,
				{Event: rewardIssued{Points: 3}, Opts: &webhook.PublishOpts{ID: "ok-3"}},
			}
			msgs, err := d.PublishBatch(ctx, evs)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, msgs)
			var be *webhook.BatchError
			require.ErrorAs(t, err, &be)
			assert.Equal(t, 2, be.Index, "the error names the bad event")
			assert.Contains(t, err.Error(), "batch event 2")
			for _, id := range []string{"ok-0", "ok-1", "ok-3"} {
				_, err := d.GetMessage(ctx, id)
				assert.ErrorIs(t, err, webhook.ErrNotFound, "nothing of the batch is stored")
			}
		})
	}
}

// TestPublishBatchIdempotent: publishing the same batch twice stores each
// message once and returns the stored messages the second time; an ID of
// another tenant's message fails the batch with ErrConflict.
func TestPublishBatchIdempotent(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, nil)
	ctx := context.Background()
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{Tenant: "alpha", URL: "https://example.com/a"})
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{Tenant: "bravo", URL: "https://example.com/b"})
	evs := []webhook.BatchEvent{
		{Event: rewardIssued{Points: 1}, Opts: &webhook.PublishOpts{ID: "r-1", Tenant: "alpha"}},
		{Event: rewardIssued{Points: 2}, Opts: &webhook.PublishOpts{ID: "r-2", Tenant: "alpha"}},
	}
	first, err := d.PublishBatch(ctx, evs)
	require.NoError(t, err)
	evs[1].Event = rewardIssued{Points: 99}
	evs = append(evs, webhook.BatchEvent{Event: rewardIssued{Points: 3}, Opts: &webhook.PublishOpts{ID: "r-3", Tenant: "alpha"}})
	again, err := d.PublishBatch(ctx, evs)
	require.NoError(t, err)
	assert.Equal(t, string(first[1].Payload), string(again[1].Payload), "the message stored first is returned")
	for _, id := range []string{"r-1", "r-2", "r-3"} {
		assert.Len(t, deliveriesOf(t, d.Dispatcher, id), 1)
	}

	theirs, err := d.Publish(ctx, rewardIssued{CustomerID: "bravo-secret"}, &webhook.PublishOpts{ID: "b-1", Tenant: "bravo"})
	require.NoError(t, err)
	_, err = d.PublishBatch(ctx, []webhook.BatchEvent{
		{Event: rewardIssued{Points: 4}, Opts: &webhook.PublishOpts{ID: "r-4", Tenant: "alpha"}},
		{Event: rewardIssued{Points: 5}, Opts: &webhook.PublishOpts{ID: "b-1", Tenant: "alpha"}},
	})
	require.ErrorIs(t, err, webhook.ErrConflict)
	storetest.AssertRevealsNothing(t, err, theirs)
	_, err = d.GetMessage(ctx, "r-4")
	assert.ErrorIs(t, err, webhook.ErrNotFound, "nothing of the refused batch is stored")
}

type noBatchStore struct{ webhook.Store }

// TestPublishBatchUnsupported: a store without BatchInserter is refused
// with errors.ErrUnsupported; PublishBatchTx with a transaction the store
// cannot join is ErrTxUnsupported.
func TestPublishBatchUnsupported(t *testing.T) {
	t.Parallel()
	st := webhook.NewMemoryStore()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: noBatchStore{st}})
	require.NoError(t, err)
	_, err = d.PublishBatch(context.Background(), []webhook.BatchEvent{{Event: rewardIssued{}}})
	assert.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)
	_, err = webhook.PublishBatchTx(context.Background(), d, struct{}{}, []webhook.BatchEvent{{Event: rewardIssued{}}})
	assert.ErrorIs(t, err, webhook.ErrTxUnsupported)

	msgs, err := newDispatcher(t, nil).PublishBatch(context.Background(), nil)
	assert.NoError(t, err)
	assert.Empty(t, msgs)
	_, err = newDispatcher(t, nil).PublishBatch(context.Background(), make([]webhook.BatchEvent, webhook.MaxBatchEvents+1))
	assert.ErrorIs(t, err, webhook.ErrInvalid)
}

// TestPublishBatchContextEnded: a ctx that ended before the write stores
// nothing.
func TestPublishBatchContextEnded(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := d.PublishBatch(ctx, []webhook.BatchEvent{{Event: rewardIssued{}, Opts: &webhook.PublishOpts{ID: "x-1"}}})
	require.ErrorIs(t, err, context.Canceled)
	_, err = d.GetMessage(context.Background(), "x-1")
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}
