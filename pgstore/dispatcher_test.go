package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type orderPlaced struct {
	OrderID int `json:"order_id"`
}

func (orderPlaced) EventType() string { return "order.placed" }

// newDispatcher returns a dispatcher on store for loopback tests, shut down
// at cleanup. It is started unless start is false.
func newDispatcher(t testing.TB, store webhook.Store, start bool, mod func(*webhook.Config)) *webhook.Dispatcher {
	t.Helper()
	cfg := webhook.Config{
		Store: store, AllowHTTP: true, AllowPrivateNetworks: true,
		AttemptTimeout: 5 * time.Second, PollInterval: 200 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	if start {
		require.NoError(t, d.Start(context.Background()))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, d.Shutdown(ctx))
	})
	return d
}

func createEndpoint(t testing.TB, d *webhook.Dispatcher, url string) *webhook.Endpoint {
	t.Helper()
	ep := &webhook.Endpoint{URL: url}
	require.NoError(t, d.CreateEndpoint(context.Background(), ep))
	return ep
}

// TestPublishTx: a message published in a transaction that rolls back is
// neither stored nor delivered; one whose transaction commits is delivered
// once, together with the host's own row.
func TestPublishTx(t *testing.T) {
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

	placeOrder := func(id int, commit bool) *webhook.Message {
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck
		_, err = tx.Exec(ctx, "INSERT INTO "+orders+" (id) VALUES ($1)", id)
		require.NoError(t, err)
		msg, err := webhook.PublishTx(ctx, d, tx, orderPlaced{OrderID: id}, nil)
		require.NoError(t, err)
		if commit {
			require.NoError(t, tx.Commit(ctx))
		}
		return msg
	}

	rolledBack := placeOrder(1, false)
	_, err = d.GetMessage(ctx, rolledBack.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound, "a rolled back publish stores nothing")

	committed := placeOrder(2, true)
	got := recv.WaitForMessage(t, committed.ID, 10*time.Second)
	assert.Len(t, got, 1, "delivered once")
	assert.Contains(t, string(got[0].Body), `"order_id":2`)

	// Everything due was claimed in due order, so had the rolled-back
	// message been stored it would have arrived first.
	assert.Equal(t, 0, recv.Acked(rolledBack.ID), "the rolled back message is never delivered")
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+orders).Scan(&n))
	assert.Equal(t, 1, n, "the host's row and the message share the transaction")
	require.Eventually(t, func() bool {
		del, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: committed.ID})
		return err == nil && len(del) == 1 && del[0].State == webhook.StateSucceeded
	}, 10*time.Second, 20*time.Millisecond)
}

// TestNotifyOnCommit: listeners wake when the publishing transaction
// commits, not before; a dispatcher that never polls still delivers at once.
func TestNotifyOnCommit(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	a := newSchemaStore(t, pool, nil)
	b := pgstore.New(pool, &pgstore.Options{Schema: a.Schema()})
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := listen(t, ctx, b)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	now := time.Now()
	ep := &webhook.Endpoint{ID: "ep_notify", URL: "https://example.com/", Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
	require.NoError(t, a.CreateEndpoint(ctx, ep))
	msg := &webhook.Message{ID: "msg_notify", Type: "a.b", Payload: []byte(`{}`), CreatedAt: now}
	del := &webhook.Delivery{ID: "dlv_notify", MessageID: msg.ID, EndpointID: ep.ID, EventType: "a.b",
		State: webhook.StatePending, NextAttemptAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	require.NoError(t, a.InsertMessageTx(ctx, tx, msg, []*webhook.Delivery{del}))
	select {
	case <-ch:
		t.Fatal("notified before commit")
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, tx.Commit(ctx))
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification after commit")
	}

	// A dispatcher on b that would poll only hourly delivers a message
	// published through a, because of the notification.
	recv := webhooktest.NewReceiver(t)
	pub := newDispatcher(t, a, false, nil)
	createEndpoint(t, pub, recv.URL)
	newDispatcher(t, b, true, func(c *webhook.Config) { c.PollInterval = time.Hour })
	m, err := pub.Publish(ctx, orderPlaced{OrderID: 7}, nil)
	require.NoError(t, err)
	start := time.Now()
	recv.WaitForMessage(t, m.ID, 10*time.Second)
	t.Logf("delivered after %s through NOTIFY", time.Since(start))
}

// TestThreeDispatchers: three instances on one schema deliver 3,000 events
// to a healthy receiver: every event once, none twice.
func TestThreeDispatchers(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	first := newSchemaStore(t, pool, nil)
	const events = 3000
	recv := webhooktest.NewReceiver(t)
	counts := make([]atomic.Int64, 3)
	var ds []*webhook.Dispatcher
	for i := range 3 {
		st := first
		if i > 0 {
			st = pgstore.New(pool, &pgstore.Options{Schema: first.Schema()})
			t.Cleanup(func() { st.Close() })
		}
		ds = append(ds, newDispatcher(t, st, true, func(c *webhook.Config) {
			c.Workers = 16
			c.Hooks.AfterAttempt = func(context.Context, *webhook.Delivery, *webhook.Attempt) { counts[i].Add(1) }
		}))
	}
	createEndpoint(t, ds[0], recv.URL)
	ctx := context.Background()
	ids := make([]string, events)
	start := time.Now()
	var wg sync.WaitGroup
	for g := range 6 { // six publishers, two per instance
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < events; i += 6 {
				m, err := ds[g%3].Publish(ctx, orderPlaced{OrderID: i}, nil)
				if !assert.NoError(t, err) {
					return
				}
				ids[i] = m.ID
			}
		}()
	}
	wg.Wait()
	t.Logf("published in %s", time.Since(start))
	recv.WaitForAcked(t, events, 60*time.Second)
	elapsed := time.Since(start)
	for _, d := range ds { // stop them so no late duplicate can hide
		require.NoError(t, d.Shutdown(ctx))
	}
	assert.Equal(t, events, recv.Count(), "no request beyond one per event")
	for _, id := range ids {
		if n := recv.Acked(id); n != 1 {
			t.Errorf("message %s acknowledged %d times", id, n)
		}
	}
	for i := range counts {
		t.Logf("dispatcher %d made %d attempts", i, counts[i].Load())
		assert.Positive(t, counts[i].Load(), "dispatcher %d did some of the work", i)
	}
	t.Logf("3,000 events published and delivered through 3 dispatchers in %s", elapsed)
}

// TestNotifyAfterBurst: within a burst, a publish that did not notify in
// its own transaction is followed by one NOTIFY after the interval, so a
// listening instance learns of the burst's last publish too.
func TestNotifyAfterBurst(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	a := newSchemaStore(t, pool, &pgstore.Options{NotifyInterval: 200 * time.Millisecond})
	b := pgstore.New(pool, &pgstore.Options{Schema: a.Schema()})
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := listen(t, ctx, b)
	now := time.Now()
	ep := &webhook.Endpoint{ID: "ep_burst", URL: "https://example.com/", Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
	require.NoError(t, a.CreateEndpoint(ctx, ep))
	insert := func(i int) time.Time {
		id := fmt.Sprintf("burst_%d", i)
		msg := &webhook.Message{ID: "msg_" + id, Type: "a.b", Payload: []byte(`{}`), CreatedAt: now}
		del := &webhook.Delivery{ID: "dlv_" + id, MessageID: msg.ID, EndpointID: ep.ID, EventType: "a.b",
			State: webhook.StatePending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		require.NoError(t, a.InsertMessage(ctx, msg, []*webhook.Delivery{del}))
		return time.Now()
	}
	insert(1) // notifies in its transaction
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("the first publish did not notify")
	}
	last := insert(2) // within the interval: no NOTIFY of its own
	select {
	case <-ch:
		assert.GreaterOrEqual(t, time.Since(last), 100*time.Millisecond, "the trailing NOTIFY waits for the interval")
	case <-time.After(10 * time.Second):
		t.Fatal("no NOTIFY followed the burst")
	}
}

// listen subscribes to s's notifications and waits for the signal the
// listener gives once it is connected.
func listen(t *testing.T, ctx context.Context, s *pgstore.Store) <-chan struct{} {
	t.Helper()
	ch := s.Notify(ctx)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener never connected")
	}
	return ch
}
