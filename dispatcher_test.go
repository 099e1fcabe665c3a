package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type rewardIssued struct {
	CustomerID string `json:"customer_id"`
	Points     int    `json:"points"`
}

func (rewardIssued) EventType() string { return "reward.issued" }

type paymentUpdated struct {
	PaymentID string `json:"payment_id"`
}

func (paymentUpdated) EventType() string { return "payment.updated" }

// fastRetry retries after a millisecond, up to n attempts in all.
func fastRetry(n int) webhook.RetryPolicy {
	return webhook.RetryPolicy{
		MaxAttempts: n,
		NewBackOff:  func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) },
	}
}

type testDispatcher struct {
	*webhook.Dispatcher
	store *webhook.MemoryStore
}

// newDispatcher starts a dispatcher for tests: loopback allowed, http
// allowed, fast retries, and Shutdown at cleanup with a leak check.
func newDispatcher(t *testing.T, mod func(*webhook.Config)) testDispatcher {
	t.Helper()
	st := webhook.NewMemoryStore()
	cfg := webhook.Config{
		Store: st, AllowHTTP: true, AllowPrivateNetworks: true, Retry: fastRetry(3),
		AttemptTimeout: 5 * time.Second, PollInterval: 50 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, d.Shutdown(ctx))
		st.Close()
	})
	return testDispatcher{d, st}
}

func createEndpoint(t *testing.T, d *webhook.Dispatcher, ep *webhook.Endpoint) *webhook.Endpoint {
	t.Helper()
	require.NoError(t, d.CreateEndpoint(context.Background(), ep))
	return ep
}

// waitState polls until the delivery reaches state.
func waitState(t *testing.T, d *webhook.Dispatcher, id string, state webhook.DeliveryState) *webhook.Delivery {
	t.Helper()
	var got *webhook.Delivery
	require.Eventually(t, func() bool {
		var err error
		got, err = d.GetDelivery(context.Background(), id)
		return err == nil && got.State == state
	}, 10*time.Second, 2*time.Millisecond, "delivery %s never reached %s", id, state)
	return got
}

func deliveriesOf(t *testing.T, d *webhook.Dispatcher, msgID string) []*webhook.Delivery {
	t.Helper()
	ds, _, err := d.ListDeliveries(context.Background(), webhook.DeliveryQuery{MessageID: msgID})
	require.NoError(t, err)
	return ds
}

func TestDeliverySignedAndWire(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, nil)
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: "http://x.invalid", Tenant: "acme"})
	rcv := webhooktest.NewReceiver(t, webhooktest.WithSecret(ep.Secret))
	ep.URL = rcv.URL + "/hooks"
	ep.Headers = map[string]string{"X-Api-Key": "k1"}
	require.NoError(t, d.UpdateEndpoint(context.Background(), ep))

	msg, err := d.Publish(context.Background(), rewardIssued{CustomerID: "c1", Points: 50}, &webhook.PublishOpts{Tenant: "acme"})
	require.NoError(t, err)
	got := rcv.WaitForMessage(t, msg.ID, 5*time.Second)
	require.Len(t, got, 1)
	r := got[0]
	assert.True(t, r.Verified, "verifies with the endpoint secret: %v", r.VerifyErr)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Contains(t, r.Header.Get("User-Agent"), "hookline/")
	assert.Equal(t, "reward.issued", r.Header.Get(webhook.HeaderEventType))
	assert.Equal(t, "1", r.Header.Get(webhook.HeaderAttempt))
	assert.Equal(t, "k1", r.Header.Get("X-Api-Key"))

	// An independent HMAC computation over id.timestamp.body.
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ep.Secret, "whsec_"))
	require.NoError(t, err)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "." + string(r.Body)))
	assert.Equal(t, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)), r.Header.Get("webhook-signature"))
	ts, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	require.NoError(t, err)
	assert.InDelta(t, time.Now().Unix(), ts, 5)

	var body struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &body))
	assert.Equal(t, "reward.issued", body.Type)
	assert.JSONEq(t, `{"customer_id":"c1","points":50}`, string(body.Data))
	assert.WithinDuration(t, time.Now(), body.Timestamp, 5*time.Second)
	assert.Equal(t, string(msg.Payload), string(r.Body))

	dl := waitState(t, d.Dispatcher, deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID, webhook.StateSucceeded)
	assert.Equal(t, 1, dl.Attempts)
	assert.Equal(t, 200, dl.LastStatusCode)
}

func TestTenantIsolationAndTypeFilters(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, nil)
	rcv := webhooktest.NewReceiver(t)
	mk := func(tenant string, types ...string) *webhook.Endpoint {
		return createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL, Tenant: tenant, EventTypes: types})
	}
	all := mk("a")
	exact := mk("a", "reward.issued")
	prefix := mk("a", "reward.*")
	star := mk("a", "*")
	payOnly := mk("a", "payment.updated")
	otherTenant := mk("b")
	disabled := mk("a")
	require.NoError(t, d.DisableEndpoint(context.Background(), disabled.ID, "paused"))

	msg, err := d.Publish(context.Background(), rewardIssued{CustomerID: "c"}, &webhook.PublishOpts{Tenant: "a"})
	require.NoError(t, err)
	got := map[string]bool{}
	for _, dl := range deliveriesOf(t, d.Dispatcher, msg.ID) {
		got[dl.EndpointID] = true
		assert.Equal(t, "a", dl.Tenant)
	}
	assert.Equal(t, map[string]bool{all.ID: true, exact.ID: true, prefix.ID: true, star.ID: true}, got)
	assert.False(t, got[payOnly.ID] || got[otherTenant.ID] || got[disabled.ID])

	msg2, err := d.Publish(context.Background(), paymentUpdated{PaymentID: "p"}, &webhook.PublishOpts{Tenant: "b"})
	require.NoError(t, err)
	ds := deliveriesOf(t, d.Dispatcher, msg2.ID)
	require.Len(t, ds, 1)
	assert.Equal(t, otherTenant.ID, ds[0].EndpointID)
	rcv.WaitFor(t, 5, 5*time.Second)
	assert.Equal(t, 4, rcv.Acked(msg.ID))
	assert.Equal(t, 1, rcv.Acked(msg2.ID))
}

func TestSubscribes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		types []string
		typ   string
		want  bool
	}{
		{nil, "a.b", true},
		{[]string{"*"}, "a.b", true},
		{[]string{"a.b"}, "a.b", true},
		{[]string{"a.b"}, "a.bc", false},
		{[]string{"a.*"}, "a.b.c", true},
		{[]string{"a.*"}, "ab.c", false},
		{[]string{"a.*"}, "a", false},
		{[]string{"x.y", "a.*"}, "a.z", true},
	}
	for _, tc := range tests {
		ep := &webhook.Endpoint{EventTypes: tc.types}
		assert.Equal(t, tc.want, ep.Subscribes(tc.typ), "%v %s", tc.types, tc.typ)
	}
}

func TestIdempotentPublish(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, nil)
	rcv := webhooktest.NewReceiver(t)
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	first, err := d.Publish(context.Background(), rewardIssued{Points: 1}, &webhook.PublishOpts{ID: "order-42_paid"})
	require.NoError(t, err)
	again, err := d.Publish(context.Background(), rewardIssued{Points: 2}, &webhook.PublishOpts{ID: "order-42_paid"})
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID)
	assert.Equal(t, string(first.Payload), string(again.Payload), "the first message is returned")
	assert.Len(t, deliveriesOf(t, d.Dispatcher, "order-42_paid"), 1)
	rcv.WaitForAcked(t, 1, 5*time.Second)
	assert.Equal(t, 1, rcv.Acked("order-42_paid"))
}

func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	var after []int
	var mu sync.Mutex
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Retry = fastRetry(5)
		c.Hooks.AfterAttempt = func(_ context.Context, _ *webhook.Delivery, a *webhook.Attempt) {
			mu.Lock()
			after = append(after, a.Number)
			mu.Unlock()
		}
	})
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.FailFirst(2, 500)))
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	msg, err := d.Publish(context.Background(), rewardIssued{}, nil)
	require.NoError(t, err)
	rcv.WaitForMessage(t, msg.ID, 5*time.Second)
	reqs := rcv.Deliveries()
	require.Len(t, reqs, 3)
	for i, r := range reqs {
		assert.Equal(t, msg.ID, r.ID, "one webhook-id on every attempt")
		assert.Equal(t, i+1, r.Attempt)
	}
	dl := waitState(t, d.Dispatcher, deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID, webhook.StateSucceeded)
	assert.Equal(t, 3, dl.Attempts)
	as, _, err := d.ListAttempts(context.Background(), webhook.AttemptQuery{DeliveryID: dl.ID})
	require.NoError(t, err)
	require.Len(t, as, 3)
	for i, a := range as {
		assert.Equal(t, i+1, a.Number)
	}
	assert.Equal(t, 500, as[0].StatusCode)
	assert.Equal(t, "HTTP 500", as[0].Error)
	assert.Equal(t, 200, as[2].StatusCode)
	assert.Empty(t, as[2].Error)
	assert.Positive(t, as[2].Duration)
	assert.NotEmpty(t, as[2].RequestHeaders["Webhook-Signature"])
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(after) == 3 }, time.Second, time.Millisecond)
	assert.Equal(t, []int{1, 2, 3}, after)
}

func TestExhaustionFailsForGood(t *testing.T) {
	t.Parallel()
	failed := make(chan *webhook.Delivery, 1)
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Retry = fastRetry(3)
		c.Hooks.DeliveryFailed = func(_ context.Context, dl *webhook.Delivery) { failed <- dl }
	})
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.Always(503)))
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	msg, err := d.Publish(context.Background(), rewardIssued{}, nil)
	require.NoError(t, err)
	select {
	case dl := <-failed:
		assert.Equal(t, webhook.StateFailed, dl.State)
		assert.Equal(t, 3, dl.Attempts)
		assert.Equal(t, msg.ID, dl.MessageID)
	case <-time.After(5 * time.Second):
		t.Fatal("DeliveryFailed hook never fired")
	}
	dl := waitState(t, d.Dispatcher, deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID, webhook.StateFailed)
	assert.Equal(t, 3, dl.Attempts)
	assert.Equal(t, 503, dl.LastStatusCode)
	assert.Equal(t, 3, rcv.Count())
}

func TestRedeliverAndRetryFailed(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, func(c *webhook.Config) { c.Retry = fastRetry(1) })
	var healthy atomic.Bool
	rcv := webhooktest.NewReceiver(t, webhooktest.WithScript(func(int, *webhooktest.Delivery) webhooktest.Answer {
		if healthy.Load() {
			return webhooktest.Answer{}
		}
		return webhooktest.Answer{Status: 500}
	}))
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	start := time.Now().Add(-time.Second)
	var ids []string
	for i := 0; i < 3; i++ {
		msg, err := d.Publish(context.Background(), rewardIssued{Points: i}, nil)
		require.NoError(t, err)
		ids = append(ids, deliveriesOf(t, d.Dispatcher, msg.ID)[0].ID)
	}
	for _, id := range ids {
		waitState(t, d.Dispatcher, id, webhook.StateFailed)
	}
	healthy.Store(true)

	require.NoError(t, d.Redeliver(context.Background(), ids[0]))
	dl := waitState(t, d.Dispatcher, ids[0], webhook.StateSucceeded)
	assert.Equal(t, 2, dl.Attempts)

	n, err := d.RetryFailed(context.Background(), ep.ID, start)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for _, id := range ids[1:] {
		waitState(t, d.Dispatcher, id, webhook.StateSucceeded)
	}
	assert.ErrorIs(t, d.Redeliver(context.Background(), "dlv_nope"), webhook.ErrNotFound)
	_, err = d.RetryFailed(context.Background(), "ep_nope", start)
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}

func TestSendTest(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, nil)
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: "http://x.invalid"})
	rcv := webhooktest.NewReceiver(t, webhooktest.WithSecret(ep.Secret),
		webhooktest.WithScript(func(int, *webhooktest.Delivery) webhooktest.Answer {
			return webhooktest.Answer{Status: 202, Body: "thanks"}
		}))
	ep.URL = rcv.URL
	require.NoError(t, d.UpdateEndpoint(context.Background(), ep))
	a, err := d.SendTest(context.Background(), ep.ID)
	require.NoError(t, err)
	assert.Equal(t, 202, a.StatusCode)
	assert.Equal(t, "thanks", a.Response)
	assert.Equal(t, 1, a.Number)
	reqs := rcv.Deliveries()
	require.Len(t, reqs, 1)
	assert.True(t, reqs[0].Verified)
	assert.Equal(t, webhook.TestEventType, reqs[0].EventType)
	assert.Equal(t, "true", reqs[0].Header.Get(webhook.HeaderTest), "marked as a test, as HeaderTest says")
	assert.JSONEq(t, `{"endpoint_id":"`+ep.ID+`","message":"This is a test event from hookline."}`,
		string(envelopeData(t, reqs[0].Body)))
	msg, err := d.GetMessage(context.Background(), a.MessageID)
	require.NoError(t, err)
	assert.Equal(t, "true", msg.Metadata[webhook.MetadataTest], "the stored message is marked as a test")
	as, _, err := d.ListAttempts(context.Background(), webhook.AttemptQuery{EndpointID: ep.ID})
	require.NoError(t, err)
	require.Len(t, as, 1, "kept in the endpoint's log")
	assert.Equal(t, a.ID, as[0].ID)
	dl, err := d.GetDelivery(context.Background(), a.DeliveryID)
	require.NoError(t, err)
	assert.Equal(t, webhook.StateSucceeded, dl.State)
	_, err = d.SendTest(context.Background(), "ep_nope")
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}

func TestHookPanicRecovered(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Workers = 1
		c.Hooks.BeforeAttempt = func(context.Context, *http.Request, *webhook.Delivery) { panic("boom") }
		c.Hooks.AfterAttempt = func(context.Context, *webhook.Delivery, *webhook.Attempt) { panic("boom") }
	})
	rcv := webhooktest.NewReceiver(t)
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	for i := 0; i < 3; i++ {
		_, err := d.Publish(context.Background(), rewardIssued{Points: i}, nil)
		require.NoError(t, err)
	}
	rcv.WaitForAcked(t, 3, 5*time.Second) // the single worker survived every panic
}

func TestBeforeAttemptAddsHeaders(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Hooks.BeforeAttempt = func(ctx context.Context, req *http.Request, dl *webhook.Delivery) {
			req.Header.Set("X-Trace", webhook.MessageFromContext(ctx).Metadata["trace"])
		}
	})
	rcv := webhooktest.NewReceiver(t)
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	msg, err := d.Publish(context.Background(), rewardIssued{}, &webhook.PublishOpts{Metadata: map[string]string{"trace": "t-1"}})
	require.NoError(t, err)
	got := rcv.WaitForMessage(t, msg.ID, 5*time.Second)
	assert.Equal(t, "t-1", got[0].Header.Get("X-Trace"))
}

// TestAttemptHooksSeeMessageAndEndpoint: the attempt hooks' context
// carries the message and the endpoint attempted; other contexts do not.
func TestAttemptHooksSeeMessageAndEndpoint(t *testing.T) {
	t.Parallel()
	type seen struct{ msg, ep string }
	before, after := make(chan seen, 1), make(chan seen, 1)
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Hooks.BeforeAttempt = func(ctx context.Context, _ *http.Request, _ *webhook.Delivery) {
			before <- seen{webhook.MessageFromContext(ctx).ID, webhook.EndpointFromContext(ctx).URL}
		}
		c.Hooks.AfterAttempt = func(ctx context.Context, _ *webhook.Delivery, _ *webhook.Attempt) {
			after <- seen{webhook.MessageFromContext(ctx).ID, webhook.EndpointFromContext(ctx).URL}
		}
	})
	rcv := webhooktest.NewReceiver(t)
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	msg, err := d.Publish(context.Background(), rewardIssued{}, nil)
	require.NoError(t, err)
	want := seen{msg.ID, rcv.URL}
	for _, ch := range []chan seen{before, after} {
		select {
		case got := <-ch:
			assert.Equal(t, want, got)
		case <-time.After(5 * time.Second):
			t.Fatal("an attempt hook did not run")
		}
	}
	assert.Nil(t, webhook.MessageFromContext(context.Background()))
	assert.Nil(t, webhook.EndpointFromContext(context.Background()))
}

func TestBadInputStoresNothing(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, func(c *webhook.Config) { c.MaxPayloadSize = 1024 })
	rcv := webhooktest.NewReceiver(t)
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: rcv.URL})
	ctx := context.Background()
	tests := []struct {
		name string
		ev   webhook.Event
		opts *webhook.PublishOpts
		want error
	}{
		{"nil event", nil, nil, webhook.ErrInvalid},
		{"empty type", webhook.RawEvent{Data: []byte(`{}`)}, nil, webhook.ErrInvalid},
		{"type with space", webhook.RawEvent{Type: "a b", Data: []byte(`{}`)}, nil, webhook.ErrInvalid},
		{"type with empty part", webhook.RawEvent{Type: "a..b", Data: []byte(`{}`)}, nil, webhook.ErrInvalid},
		{"type ending in a stop", webhook.RawEvent{Type: "a.", Data: []byte(`{}`)}, nil, webhook.ErrInvalid},
		{"raw data not JSON", webhook.RawEvent{Type: "a.b", Data: []byte(`{nope`)}, nil, webhook.ErrInvalid},
		{"raw data empty", webhook.RawEvent{Type: "a.b"}, nil, webhook.ErrInvalid},
		{"oversized", webhook.RawEvent{Type: "a.b", Data: []byte(`"` + strings.Repeat("x", 2000) + `"`)}, nil, webhook.ErrPayloadTooLarge},
		{"ID with a full stop", rewardIssued{}, &webhook.PublishOpts{ID: "a.b"}, webhook.ErrInvalid},
		{"ID too long", rewardIssued{}, &webhook.PublishOpts{ID: strings.Repeat("a", 129)}, webhook.ErrInvalid},
		{"ID with a space", rewardIssued{}, &webhook.PublishOpts{ID: "a b"}, webhook.ErrInvalid},
		{"tenant with a newline", rewardIssued{}, &webhook.PublishOpts{Tenant: "a\nb"}, webhook.ErrInvalid},
		{"unmarshallable", badEvent{F: func() {}}, nil, webhook.ErrInvalid},
	}
	for _, tc := range tests {
		msg, err := d.Publish(ctx, tc.ev, tc.opts)
		assert.ErrorIs(t, err, tc.want, tc.name)
		assert.Nil(t, msg, tc.name)
	}
	var ve *webhook.ValidationError
	_, err := d.Publish(ctx, webhook.RawEvent{Type: ""}, nil)
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "event type", ve.Field)
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{})
	require.NoError(t, err)
	assert.Empty(t, ds, "nothing stored")

	// Endpoint validation.
	eps := []struct {
		name string
		ep   *webhook.Endpoint
	}{
		{"nil", nil},
		{"empty URL", &webhook.Endpoint{}},
		{"relative", &webhook.Endpoint{URL: "/hooks"}},
		{"ftp", &webhook.Endpoint{URL: "ftp://example.com"}},
		{"no host", &webhook.Endpoint{URL: "https://"}},
		{"user info", &webhook.Endpoint{URL: "https://u:p@example.com"}},
		{"bad type filter", &webhook.Endpoint{URL: "https://example.com", EventTypes: []string{"a b"}}},
		{"reserved header", &webhook.Endpoint{URL: "https://example.com", Headers: map[string]string{"webhook-signature": "x"}}},
		{"header with newline", &webhook.Endpoint{URL: "https://example.com", Headers: map[string]string{"X-A": "a\r\nb"}}},
		{"bad secret", &webhook.Endpoint{URL: "https://example.com", Secret: "whsec_!!!"}},
		{"bad ID", &webhook.Endpoint{URL: "https://example.com", ID: "a.b"}},
	}
	for _, tc := range eps {
		assert.ErrorIs(t, d.CreateEndpoint(ctx, tc.ep), webhook.ErrInvalid, tc.name)
	}
	list, _, err := d.ListEndpoints(ctx, webhook.EndpointQuery{AllTenants: true})
	require.NoError(t, err)
	assert.Len(t, list, 1, "only the valid endpoint from the start")

	_, err = webhook.New(webhook.Config{Workers: -1})
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	_, err = webhook.New(webhook.Config{AttemptTimeout: time.Minute, Lease: time.Second})
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	_, err = d.GetEndpoint(ctx, "ep_nope")
	assert.ErrorIs(t, err, webhook.ErrNotFound)
	assert.ErrorIs(t, d.DisableEndpoint(ctx, "ep_nope", "x"), webhook.ErrNotFound)
}

type badEvent struct{ F func() }

func (badEvent) EventType() string { return "bad.event" }

func TestHTTPRefusedUnlessAllowed(t *testing.T) {
	t.Parallel()
	d, err := webhook.New(webhook.Config{})
	require.NoError(t, err)
	ctx := context.Background()
	assert.ErrorIs(t, d.CreateEndpoint(ctx, &webhook.Endpoint{URL: "http://example.com"}), webhook.ErrInvalid)
	assert.ErrorIs(t, d.CreateEndpoint(ctx, &webhook.Endpoint{URL: "https://127.0.0.1/x"}), webhook.ErrInvalid)
	assert.ErrorIs(t, d.CreateEndpoint(ctx, &webhook.Endpoint{URL: "https://localhost/x"}), webhook.ErrInvalid)
	ep := &webhook.Endpoint{URL: "https://example.com/hooks"}
	require.NoError(t, d.CreateEndpoint(ctx, ep))
	assert.True(t, strings.HasPrefix(ep.ID, "ep_"))
	assert.True(t, strings.HasPrefix(ep.Secret, "whsec_"))
	assert.False(t, ep.CreatedAt.IsZero())
	require.NoError(t, d.Shutdown(ctx))
	_, err = d.Publish(ctx, rewardIssued{}, nil)
	assert.ErrorIs(t, err, webhook.ErrClosed)
}

func TestErrorsAreDistinct(t *testing.T) {
	t.Parallel()
	assert.False(t, errors.Is(webhook.ErrNotFound, webhook.ErrInvalid))
	ve := &webhook.ValidationError{Field: "url", Reason: "empty"}
	assert.ErrorIs(t, ve, webhook.ErrInvalid)
	assert.Contains(t, ve.Error(), "url")
}

// envelopeData returns the "data" member of an envelope.
func envelopeData(t *testing.T, body []byte) json.RawMessage {
	t.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &env))
	return env.Data
}
