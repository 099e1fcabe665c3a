package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type ctxKey struct{}

func TestPublishHooks(t *testing.T) {
	t.Parallel()
	type call struct {
		n     int
		err   error
		value any
		md    map[string]string
	}
	var mu sync.Mutex
	var calls []call
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Hooks.BeforePublish = func(ctx context.Context, msg *webhook.Message) context.Context {
			msg.Metadata["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
			return context.WithValue(ctx, ctxKey{}, msg.ID)
		}
		c.Hooks.AfterPublish = func(ctx context.Context, msg *webhook.Message, n int, err error) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, call{n, err, ctx.Value(ctxKey{}), msg.Metadata})
		}
	})
	ctx := context.Background()
	for range 2 {
		createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: "http://127.0.0.1:1/h", Tenant: "acme"})
	}
	mine := map[string]string{"request_id": "r1"}
	msg, err := d.Publish(ctx, rewardIssued{CustomerID: "c1"}, &webhook.PublishOpts{Tenant: "acme", ID: "m1", Metadata: mine})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"request_id": "r1"}, mine, "the caller's map is not written to")
	stored, err := d.GetMessage(ctx, msg.ID)
	require.NoError(t, err)
	assert.Equal(t, "r1", stored.Metadata["request_id"])
	assert.Equal(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", stored.Metadata["traceparent"])

	_, err = d.Publish(ctx, rewardIssued{CustomerID: "c1"}, &webhook.PublishOpts{Tenant: "acme", ID: "m1"})
	require.NoError(t, err, "a duplicate publish still succeeds")
	_, err = d.Publish(ctx, rewardIssued{}, &webhook.PublishOpts{ID: "bad.id"})
	require.ErrorIs(t, err, webhook.ErrInvalid)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, calls, 2, "no hook for a publish refused before BeforePublish")
	assert.Equal(t, 2, calls[0].n, "fan-out to both endpoints")
	assert.NoError(t, calls[0].err)
	assert.Equal(t, "m1", calls[0].value, "AfterPublish gets BeforePublish's context")
	assert.Equal(t, 0, calls[1].n)
	assert.ErrorIs(t, calls[1].err, webhook.ErrDuplicate)
}

func TestBeforePublishOverfillingMetadataIsRefused(t *testing.T) {
	t.Parallel()
	var got error
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Hooks.BeforePublish = func(ctx context.Context, msg *webhook.Message) context.Context {
			msg.Metadata["traceparent"] = "x"
			return nil
		}
		c.Hooks.AfterPublish = func(_ context.Context, _ *webhook.Message, _ int, err error) { got = err }
	})
	full := map[string]string{}
	for i := range webhook.MaxMetadata {
		full[string(rune('a'+i))] = "v"
	}
	_, err := d.Publish(context.Background(), rewardIssued{}, &webhook.PublishOpts{Metadata: full})
	require.ErrorIs(t, err, webhook.ErrInvalid)
	assert.Contains(t, err.Error(), "BeforePublish")
	assert.ErrorIs(t, got, webhook.ErrInvalid)
}

func TestCombineHooks(t *testing.T) {
	t.Parallel()
	var order []string
	mk := func(name string) webhook.Hooks {
		return webhook.Hooks{
			BeforeAttempt:    func(context.Context, *http.Request, *webhook.Delivery) { order = append(order, name+".before") },
			AfterAttempt:     func(context.Context, *webhook.Delivery, *webhook.Attempt) { order = append(order, name+".after") },
			DeliveryFailed:   func(context.Context, *webhook.Delivery) { order = append(order, name+".failed") },
			EndpointDisabled: func(context.Context, *webhook.Endpoint, string) { order = append(order, name+".disabled") },
			BeforePublish: func(ctx context.Context, _ *webhook.Message) context.Context {
				order = append(order, name+".bpub:"+strings.Join(fromCtx(ctx), ","))
				return context.WithValue(ctx, ctxKey{}, append(fromCtx(ctx), name))
			},
			AfterPublish: func(ctx context.Context, _ *webhook.Message, n int, _ error) {
				order = append(order, name+".apub:"+strings.Join(fromCtx(ctx), ","))
			},
			EndpointFailing:   func(context.Context, *webhook.Endpoint, *webhook.Attempt) { order = append(order, name+".failing") },
			EndpointRecovered: func(context.Context, *webhook.Endpoint) { order = append(order, name+".recovered") },
		}
	}
	h := webhook.CombineHooks(mk("a"), webhook.Hooks{}, mk("b"))
	ctx := context.Background()
	h.BeforeAttempt(ctx, nil, nil)
	h.AfterAttempt(ctx, nil, nil)
	h.DeliveryFailed(ctx, nil)
	h.EndpointDisabled(ctx, nil, "")
	ctx = h.BeforePublish(ctx, nil)
	h.AfterPublish(ctx, nil, 0, nil)
	h.EndpointFailing(ctx, nil, nil)
	h.EndpointRecovered(ctx, nil)
	assert.Equal(t, []string{
		"a.before", "b.before", "a.after", "b.after", "a.failed", "b.failed", "a.disabled", "b.disabled",
		"a.bpub:", "b.bpub:a", "a.apub:a,b", "b.apub:a,b", "a.failing", "b.failing", "a.recovered", "b.recovered",
	}, order)

	empty := webhook.CombineHooks(webhook.Hooks{}, webhook.Hooks{AfterAttempt: mk("c").AfterAttempt})
	assert.Nil(t, empty.BeforeAttempt, "no hook where no set has one")
	assert.Nil(t, empty.BeforePublish)
	assert.NotNil(t, empty.AfterAttempt)
}

func fromCtx(ctx context.Context) []string {
	v, _ := ctx.Value(ctxKey{}).([]string)
	return v
}

func TestMemoryStoreBacklog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Not started: the deliveries stay put while the test drives the store.
	st := webhook.NewMemoryStore()
	t.Cleanup(func() { st.Close() })
	d, err := webhook.New(webhook.Config{Store: st, AllowHTTP: true, AllowPrivateNetworks: true})
	require.NoError(t, err)
	ep := createEndpoint(t, d, &webhook.Endpoint{URL: "http://127.0.0.1:1/h"})
	b, err := st.Backlog(ctx)
	require.NoError(t, err)
	assert.Equal(t, webhook.Backlog{}, b)

	for range 3 {
		_, err := d.Publish(ctx, rewardIssued{}, nil)
		require.NoError(t, err)
	}
	b, err = st.Backlog(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, b.Pending)
	assert.Equal(t, 0, b.Retrying)
	assert.False(t, b.OldestDue.IsZero(), "due at once")

	now := time.Now()
	cs, err := st.Claim(ctx, webhook.ClaimParams{Owner: "t", Now: now, Limit: 2, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, cs, 2)
	_, err = st.Record(ctx, []webhook.Record{
		{DeliveryID: cs[0].Delivery.ID, Lease: cs[0].Lease, Now: now, State: webhook.StatePending, NextAttemptAt: now.Add(time.Hour),
			Attempt: &webhook.Attempt{ID: "a1", DeliveryID: cs[0].Delivery.ID, Number: 1, StatusCode: 500, StartedAt: now}},
		{DeliveryID: cs[1].Delivery.ID, Lease: cs[1].Lease, Now: now, State: webhook.StateSucceeded,
			Attempt: &webhook.Attempt{ID: "a2", DeliveryID: cs[1].Delivery.ID, Number: 1, StatusCode: 200, StartedAt: now}},
	})
	require.NoError(t, err)
	b, err = st.Backlog(ctx)
	require.NoError(t, err)
	assert.Equal(t, webhook.Backlog{Pending: 2, Retrying: 1, OldestDue: b.OldestDue}, b)
	assert.False(t, b.OldestDue.IsZero(), "one delivery is still due")

	n, err := st.Requeue(ctx, webhook.RequeueParams{DeliveryID: cs[1].Delivery.ID, At: now})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	b, err = st.Backlog(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, b.Pending)
	assert.Equal(t, 2, b.Retrying, "a requeued delivery with an attempt is retrying")

	require.NoError(t, d.DeleteEndpoint(ctx, ep.ID))
	b, err = st.Backlog(ctx)
	require.NoError(t, err)
	assert.Equal(t, webhook.Backlog{}, b, "deleting the endpoint empties the backlog")
}

func TestDeliveryLogsCarryIDsAndTraceID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Logger = logger
		c.Retry = fastRetry(2)
	})
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.Always(500)))
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	msg, err := d.Publish(context.Background(), rewardIssued{CustomerID: "secret-payload"},
		&webhook.PublishOpts{Metadata: map[string]string{"traceparent": tp}})
	require.NoError(t, err)
	ds := deliveriesOf(t, d.Dispatcher, msg.ID)
	require.Len(t, ds, 1)
	waitState(t, d.Dispatcher, ds[0].ID, webhook.StateFailed)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(buf.String(), "failed for good")
	}, 5*time.Second, 2*time.Millisecond)

	mu.Lock()
	out := buf.String()
	mu.Unlock()
	assert.NotContains(t, out, "secret-payload", "no payload in the logs")
	var about int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec["delivery_id"] == nil {
			continue
		}
		about++
		assert.Equal(t, ds[0].ID, rec["delivery_id"], line)
		assert.Equal(t, ds[0].EndpointID, rec["endpoint_id"], line)
		assert.Equal(t, msg.ID, rec["message_id"], line)
		assert.NotNil(t, rec["attempt"], line)
		assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", rec["trace_id"], line)
	}
	assert.GreaterOrEqual(t, about, 3, "two attempts and the final failure are logged:\n%s", out)
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
