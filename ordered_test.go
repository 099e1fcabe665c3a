package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/internal/orderedtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// customerUpdated is the acceptance tests' event (orderedtest.Event).
type customerUpdated = orderedtest.Event

// newIdle is a dispatcher that is never started: its store shows what a
// publish stored.
func newIdle(t *testing.T) (*webhook.Dispatcher, *webhook.MemoryStore) {
	t.Helper()
	st := webhook.NewMemoryStore()
	d, err := webhook.New(webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return d, st
}

func TestPublishOrderingKeyValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, st := newIdle(t)
	ep := createEndpoint(t, d, &webhook.Endpoint{URL: "http://127.0.0.1:1/hook", Ordered: true})
	for name, key := range map[string]string{
		"too long":       strings.Repeat("k", webhook.MaxOrderingKey+1),
		"not UTF-8":      "cust\xff",
		"control":        "cust\n1",
		"NUL":            "cust\x001",
		"long multibyte": strings.Repeat("é", webhook.MaxOrderingKey/2+1),
	} {
		t.Run(name, func(t *testing.T) {
			id := "msg_bad_" + strings.ReplaceAll(name, " ", "_")
			_, err := d.Publish(ctx, customerUpdated{Key: "x"}, &webhook.PublishOpts{ID: id, OrderingKey: key})
			var ve *webhook.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "OrderingKey", ve.Field)
			assert.ErrorIs(t, err, webhook.ErrInvalid)
			_, err = st.GetMessage(ctx, id)
			assert.ErrorIs(t, err, webhook.ErrNotFound, "nothing stored")

			_, err = d.PublishBatch(ctx, []webhook.BatchEvent{{Event: customerUpdated{}, Opts: &webhook.PublishOpts{ID: id, OrderingKey: key}}})
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "OrderingKey", ve.Field)
		})
	}
	_, err := d.Publish(ctx, customerUpdated{}, &webhook.PublishOpts{OrderingKey: strings.Repeat("k", webhook.MaxOrderingKey)})
	require.NoError(t, err, "a key of MaxOrderingKey bytes is fine")
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep.ID})
	require.NoError(t, err)
	assert.Len(t, ds, 1)
}

// TestOrderedOnEveryPath: Publish, PublishBatch, ReplayMissing and test
// events all build ordered deliveries for an Ordered endpoint, with the
// message's key, and unordered ones for the others.
func TestOrderedOnEveryPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, st := newIdle(t)
	ord := createEndpoint(t, d, &webhook.Endpoint{URL: "http://127.0.0.1:1/hook", Ordered: true})
	plain := createEndpoint(t, d, &webhook.Endpoint{URL: "http://127.0.0.1:1/hook"})

	check := func(msgID, key, path string) {
		t.Helper()
		m, err := st.GetMessage(ctx, msgID)
		require.NoError(t, err)
		assert.Equal(t, key, m.OrderingKey, "%s: the message keeps its key", path)
		ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: msgID})
		require.NoError(t, err)
		require.Len(t, ds, 2, path)
		for _, del := range ds {
			if del.EndpointID == ord.ID {
				assert.True(t, del.Ordered, "%s: ordered endpoint", path)
				assert.Equal(t, key, del.OrderingKey, path)
			} else {
				assert.False(t, del.Ordered, "%s: unordered endpoint", path)
			}
		}
	}
	m, err := d.Publish(ctx, customerUpdated{}, &webhook.PublishOpts{OrderingKey: "cust_1"})
	require.NoError(t, err)
	check(m.ID, "cust_1", "Publish")

	ms, err := d.PublishBatch(ctx, []webhook.BatchEvent{
		{Event: customerUpdated{}, Opts: &webhook.PublishOpts{OrderingKey: "cust_2"}},
		{Event: customerUpdated{}},
		{Event: customerUpdated{}, Opts: &webhook.PublishOpts{OrderingKey: "cust_1"}},
	})
	require.NoError(t, err)
	check(ms[0].ID, "cust_2", "PublishBatch")
	check(ms[1].ID, "", "PublishBatch without a key")
	check(ms[2].ID, "cust_1", "PublishBatch")
	assert.Equal(t, "", waitsFor(t, d, ms[1].ID, ord.ID), "the queue without a key was empty")
	assert.Equal(t, m.ID, waitsFor(t, d, ms[2].ID, ord.ID), "cust_1's second message waits for its first")
	assert.Equal(t, "", waitsFor(t, d, ms[2].ID, plain.ID), "unordered endpoints wait for nothing")

	// Replay: a new ordered endpoint gets the messages in their order.
	late := createEndpoint(t, d, &webhook.Endpoint{URL: "http://127.0.0.1:1/hook", Ordered: true})
	n, err := d.ReplayMissing(ctx, late.ID, time.Time{})
	require.NoError(t, err)
	require.Equal(t, 4, n)
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: late.ID})
	require.NoError(t, err)
	keys := map[string]int{}
	for _, del := range ds {
		assert.True(t, del.Ordered, "ReplayMissing")
		keys[del.OrderingKey]++
	}
	assert.Equal(t, map[string]int{"cust_1": 2, "cust_2": 1, "": 1}, keys)
	assert.Equal(t, m.ID, waitsFor(t, d, ms[2].ID, late.ID), "replayed in publish order")
}

// waitsFor returns the message whose delivery to epID the delivery of
// msgID to epID waits behind, "" when it waits for none.
func waitsFor(t *testing.T, d *webhook.Dispatcher, msgID, epID string) string {
	t.Helper()
	ctx := context.Background()
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: msgID, EndpointID: epID})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	if ds[0].WaitingFor == "" {
		return ""
	}
	head, err := d.GetDelivery(ctx, ds[0].WaitingFor)
	require.NoError(t, err)
	return head.MessageID
}

// TestSendTestOrdered: a test event to an Ordered endpoint is ordered, in
// the queue without a key: sent at once when that queue is empty, and
// queued behind its head (ErrConflict naming it) otherwise.
func TestSendTestOrdered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(webhook.HeaderTest) == "" {
			<-release // hold the queue's head in flight
		}
	}))
	defer srv.Close()
	defer close(release)
	d := newDispatcher(t, nil)
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: srv.URL, Ordered: true})

	a, err := d.SendTest(ctx, ep.ID)
	require.NoError(t, err, "an empty queue: the test goes out at once")
	assert.Equal(t, 200, a.StatusCode)
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep.ID})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.True(t, ds[0].Ordered, "a test event to an ordered endpoint is ordered")

	m, err := d.Publish(ctx, customerUpdated{}, nil)
	require.NoError(t, err)
	var head *webhook.Delivery
	require.Eventually(t, func() bool {
		ds, _, _ := d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: m.ID})
		if len(ds) == 1 && ds[0].Attempts == 0 {
			head = ds[0]
		}
		return head != nil
	}, 5*time.Second, time.Millisecond)
	_, err = d.SendTest(ctx, ep.ID)
	require.ErrorIs(t, err, webhook.ErrConflict, "the queue is busy: the test waits")
	assert.Contains(t, err.Error(), head.ID, "the error names the delivery ahead")
}
