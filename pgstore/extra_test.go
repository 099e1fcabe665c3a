package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seed stores an endpoint and n messages with one delivery each, due at
// base, and returns the delivery IDs.
func seed(t *testing.T, s *pgstore.Store, prefix string, n int, base time.Time) (*webhook.Endpoint, []string) {
	t.Helper()
	ctx := context.Background()
	ep := &webhook.Endpoint{ID: "ep_" + prefix, URL: "https://example.com/", Secret: "whsec_x", CreatedAt: base, UpdatedAt: base}
	require.NoError(t, s.CreateEndpoint(ctx, ep))
	var ids []string
	for i := range n {
		msg := &webhook.Message{ID: "msg_" + prefix + string(rune('a'+i)), Type: "a.b", Payload: []byte(`{}`), CreatedAt: base}
		d := &webhook.Delivery{ID: "dlv_" + prefix + string(rune('a'+i)), MessageID: msg.ID, EndpointID: ep.ID, EventType: "a.b",
			State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base}
		require.NoError(t, s.InsertMessage(ctx, msg, []*webhook.Delivery{d}))
		ids = append(ids, d.ID)
	}
	return ep, ids
}

// TestRecordKeepsUnstorableText: response bodies and headers with NUL bytes
// or invalid UTF-8 (which Postgres text refuses) are cleaned, not allowed
// to fail the whole batch.
func TestRecordKeepsUnstorableText(t *testing.T) {
	t.Parallel()
	s := newSchemaStore(t, testPool(t), nil)
	ctx := context.Background()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	_, ids := seed(t, s, "nul", 2, base)
	cs, err := s.Claim(ctx, webhook.ClaimParams{Owner: "t", Now: base, Limit: 2, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, cs, 2)
	recs := make([]webhook.Record, 2)
	for i, c := range cs {
		recs[i] = webhook.Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: base, State: webhook.StateFailed,
			Attempt: &webhook.Attempt{ID: "att_" + c.Delivery.ID, DeliveryID: c.Delivery.ID, MessageID: c.Message.ID,
				EndpointID: c.Endpoint.ID, Number: 1, StartedAt: base, StatusCode: 500, Error: "HTTP 500",
				Response: "bad\x00body\xff", ResponseHeaders: map[string]string{"Content-Type": "text/\x00plain\xfe"}}}
	}
	applied, err := s.Record(ctx, recs)
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true}, applied)
	as, _, err := s.ListAttempts(ctx, webhook.AttemptQuery{DeliveryID: ids[0]})
	require.NoError(t, err)
	require.Len(t, as, 1)
	assert.Equal(t, "badbody\uFFFD", as[0].Response)
	assert.Equal(t, "text/plain\uFFFD", as[0].ResponseHeaders["Content-Type"])
}

// TestRunRetention: finished deliveries past the age go with their
// attempts and messages, and so do old messages stored with no delivery;
// pending and recent ones stay; RunRetention returns when ctx ends.
func TestRunRetention(t *testing.T) {
	t.Parallel()
	s := newSchemaStore(t, testPool(t), nil)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	old := now.Add(-48 * time.Hour)
	_, ids := seed(t, s, "ret", 5, old)
	cs, err := s.Claim(ctx, webhook.ClaimParams{Owner: "t", Now: now, Limit: 3, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, cs, 3)
	for i, c := range cs {
		at := old // two finished long ago, one just now
		if i == 2 {
			at = now
		}
		applied, err := s.Record(ctx, []webhook.Record{{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: at,
			State: webhook.StateSucceeded, Attempt: &webhook.Attempt{ID: "att_" + c.Delivery.ID, DeliveryID: c.Delivery.ID,
				MessageID: c.Message.ID, EndpointID: c.Endpoint.ID, Number: 1, StartedAt: at, StatusCode: 200}}})
		require.NoError(t, err)
		require.True(t, applied[0])
	}
	lone := &webhook.Message{ID: "msg_lone", Type: "a.b", Payload: []byte(`{}`), CreatedAt: old}
	require.NoError(t, s.InsertMessage(ctx, lone, nil))

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- s.RunRetention(rctx, pgstore.Retention{MaxAge: 24 * time.Hour, Interval: time.Hour, BatchSize: 1})
	}()
	require.Eventually(t, func() bool {
		_, err := s.GetMessage(ctx, lone.ID)
		n := 0
		for _, id := range ids {
			if _, err := s.GetDelivery(ctx, id); err == nil {
				n++
			}
		}
		return errors.Is(err, webhook.ErrNotFound) && n == 3
	}, 10*time.Second, 20*time.Millisecond, "batches of one run until nothing old is left")
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("RunRetention did not return when ctx ended")
	}
	for _, c := range cs[:2] {
		_, err := s.GetMessage(ctx, c.Message.ID)
		assert.ErrorIs(t, err, webhook.ErrNotFound, "its message went with the delivery")
		as, _, err := s.ListAttempts(ctx, webhook.AttemptQuery{DeliveryID: c.Delivery.ID})
		require.NoError(t, err)
		assert.Empty(t, as, "its attempts went with it")
	}
	_, err = s.GetDelivery(ctx, cs[2].Delivery.ID)
	assert.NoError(t, err, "recently finished: kept")
	err = s.RunRetention(ctx, pgstore.Retention{})
	assert.ErrorIs(t, err, webhook.ErrInvalid, "MaxAge is required")
}

// TestListenerReconnects: when the listening connection is killed, the
// listener reconnects, signals (notifications may have been missed), and
// relays notifications again.
func TestListenerReconnects(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Notify(ctx)
	wait := func(what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(15 * time.Second):
			t.Fatal(what)
		}
	}
	wait("the listener never connected")
	var killed int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = 'LISTEN "' || $1 || '"'`, "hookline_"+s.Schema()).Scan(&killed))
	require.Equal(t, 1, killed, "one listening connection")
	wait("no signal after reconnecting")

	base := time.Now()
	seed(t, s, "re", 1, base)
	wait("no notification after reconnecting")
}
