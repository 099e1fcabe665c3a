package storetest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Outcomes counts what became of writes made under contexts that end
// while they run (see PublishUnderDeadlines).
type Outcomes struct {
	// Writes is how many writes were made.
	Writes int
	// Stored counts writes that returned nil and stored the message with
	// all its deliveries.
	Stored int
	// Refused counts writes that returned an error and stored nothing.
	Refused int
	// Unknown counts writes that returned ErrOutcomeUnknown (stored or not:
	// both are allowed).
	Unknown int
	// ErrorButStored counts writes that returned another error yet stored
	// something: each one breaks the contract.
	ErrorButStored int
	// NilButMissing counts writes that returned nil yet did not store the
	// message with all its deliveries: each one breaks the contract.
	NilButMissing int
}

// String summarises o, for logs.
func (o Outcomes) String() string {
	return strconv.Itoa(o.Writes) + " writes: " + strconv.Itoa(o.Stored) + " stored, " +
		strconv.Itoa(o.Refused) + " refused, " + strconv.Itoa(o.Unknown) + " outcome unknown, " +
		strconv.Itoa(o.ErrorButStored) + " errored yet stored, " + strconv.Itoa(o.NilButMissing) + " succeeded yet missing"
}

// Add classifies one write of message id with want deliveries that
// returned err, looking the message up in s.
func (o *Outcomes) Add(t *testing.T, s webhook.Store, id string, want int, err error) {
	t.Helper()
	ctx := context.Background()
	o.Writes++
	stored := false
	if _, gerr := s.GetMessage(ctx, id); gerr == nil {
		stored = true
	} else {
		require.ErrorIs(t, gerr, webhook.ErrNotFound)
	}
	ds, _, lerr := s.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: id})
	require.NoError(t, lerr)
	switch {
	case errors.Is(err, webhook.ErrOutcomeUnknown):
		o.Unknown++
	case err == nil && stored && len(ds) == want:
		o.Stored++
	case err == nil:
		o.NilButMissing++
	case !stored && len(ds) == 0:
		o.Refused++
	default:
		o.ErrorButStored++
		if o.ErrorButStored <= 3 {
			t.Logf("%s: error %q, yet stored (%d deliveries)", id, err, len(ds))
		}
	}
}

// deadline returns the i-th of a spread of deadlines from 0 to 3 ms.
func deadline(i int) time.Duration { return time.Duration(i%301) * 10 * time.Microsecond }

// PublishUnderDeadlines publishes n events, each under a context whose
// deadline is 0 to 3 ms away, to a tenant with one endpoint, and checks the
// promise of Publish: an error means nothing was stored, unless it matches
// ErrOutcomeUnknown; nil means the message and its delivery were stored.
// It returns the counts; st must be empty.
func PublishUnderDeadlines(t *testing.T, st webhook.Store, n int) Outcomes {
	t.Helper()
	d, err := webhook.New(webhook.Config{Store: st})
	require.NoError(t, err)
	defer func() { assert.NoError(t, d.Shutdown(context.Background())) }()
	ctx := context.Background()
	require.NoError(t, d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "deadline", URL: "https://example.com/hook"}))
	var o Outcomes
	for i := 0; i < n; i++ {
		id := "deadline-" + strconv.Itoa(i)
		pctx, cancel := context.WithTimeout(ctx, deadline(i))
		_, err := d.Publish(pctx, webhook.RawEvent{Type: "deadline.test", Data: []byte(`{"n":` + strconv.Itoa(i) + `}`)},
			&webhook.PublishOpts{ID: id, Tenant: "deadline"})
		cancel()
		o.Add(t, st, id, 1, err)
	}
	assert.Zero(t, o.ErrorButStored, "a publish that returned an error stored its message: %s", o)
	assert.Zero(t, o.NilButMissing, "a publish that returned nil stored nothing: %s", o)
	return o
}

// testInsertMessageContextEnds: a context that ended before the call
// stores nothing; one that ends during it leaves a definite outcome (or
// ErrOutcomeUnknown).
func testInsertMessageContextEnds(t *testing.T, s webhook.Store) {
	ep := mustEndpoint(t, s, "t")
	newMsg := func() (*webhook.Message, []*webhook.Delivery) {
		msg := &webhook.Message{ID: id("msg"), Tenant: "t", Type: "a.b", Payload: []byte(`{"n":1}`), CreatedAt: base}
		return msg, []*webhook.Delivery{{ID: id("dlv"), MessageID: msg.ID, EndpointID: ep.ID, Tenant: "t", EventType: "a.b",
			State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base}}
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	var o Outcomes
	for _, ctx := range []context.Context{cancelled, past} {
		msg, ds := newMsg()
		err := s.InsertMessage(ctx, msg, ds)
		require.Error(t, err, "a context that has ended")
		assert.NotErrorIs(t, err, webhook.ErrOutcomeUnknown, "nothing was sent: the outcome is known")
		o.Add(t, s, msg.ID, 1, err)
	}
	require.Equal(t, 2, o.Refused, "a context that ended before the call stores nothing: %s", o)

	o = Outcomes{}
	for i := 0; i < 100; i++ {
		msg, ds := newMsg()
		ctx, cancel := context.WithTimeout(context.Background(), deadline(i*3))
		err := s.InsertMessage(ctx, msg, ds)
		cancel()
		o.Add(t, s, msg.ID, 1, err)
	}
	t.Logf("InsertMessage under deadlines of 0-3 ms: %s", o)
	assert.Zero(t, o.ErrorButStored, "an InsertMessage that returned an error stored its message: %s", o)
	assert.Zero(t, o.NilButMissing, "an InsertMessage that returned nil stored nothing: %s", o)
}

// testInsertMessageOtherTenant: message IDs are global. An ID taken by
// another tenant's message is ErrConflict (not ErrDuplicate), stores
// nothing, and the error tells nothing of the other message.
func testInsertMessageOtherTenant(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	epA, epB := mustEndpoint(t, s, "tenant-alpha"), mustEndpoint(t, s, "tenant-bravo")
	msgID := id("order")
	a := &webhook.Message{ID: msgID, Tenant: "tenant-alpha", Type: "c.confidential",
		Payload: []byte(`{"secret":"alpha-payload"}`), Metadata: map[string]string{"k": "alpha-meta"}, CreatedAt: base}
	dA := &webhook.Delivery{ID: id("dlv"), MessageID: msgID, EndpointID: epA.ID, Tenant: a.Tenant, EventType: a.Type,
		State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base}
	require.NoError(t, s.InsertMessage(ctx, a, []*webhook.Delivery{dA}))

	b := &webhook.Message{ID: msgID, Tenant: "tenant-bravo", Type: "a.b", Payload: []byte(`{"n":2}`), CreatedAt: base}
	dB := &webhook.Delivery{ID: id("dlv"), MessageID: msgID, EndpointID: epB.ID, Tenant: b.Tenant, EventType: b.Type,
		State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base}
	err := s.InsertMessage(ctx, b, []*webhook.Delivery{dB})
	require.ErrorIs(t, err, webhook.ErrConflict, "another tenant's ID")
	assert.NotErrorIs(t, err, webhook.ErrDuplicate, "ErrDuplicate is for the same tenant's ID only")
	AssertRevealsNothing(t, err, a)

	got, err := s.GetMessage(ctx, msgID)
	require.NoError(t, err)
	assert.Equal(t, "tenant-alpha", got.Tenant, "the first message stays")
	assert.Equal(t, string(a.Payload), string(got.Payload))
	_, err = s.GetDelivery(ctx, dB.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound, "nothing of the refused insert is stored")
	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: msgID})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, dA.ID, ds[0].ID)

	// The same tenant again is a duplicate, as ever.
	again := *a
	assert.ErrorIs(t, s.InsertMessage(ctx, &again, nil), webhook.ErrDuplicate)
}

// AssertRevealsNothing fails t when err's text holds anything of other (its
// tenant, type, payload or metadata) but its ID.
func AssertRevealsNothing(t *testing.T, err error, other *webhook.Message) {
	t.Helper()
	require.Error(t, err)
	text := err.Error()
	leaks := []string{other.Tenant, other.Type, string(other.Payload)}
	for k, v := range other.Metadata {
		leaks = append(leaks, k+"="+v, v)
	}
	for _, l := range leaks {
		if l != "" && strings.Contains(text, l) {
			t.Errorf("the error %q reveals %q of another tenant's message", text, l)
		}
	}
}

// testInsertMessageDeletedEndpoint: a delivery whose endpoint no longer
// exists (deleted after the publish looked it up) is dropped; the message
// and the other deliveries are stored and no error is returned.
func testInsertMessageDeletedEndpoint(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	gone, keep := mustEndpoint(t, s, "t"), mustEndpoint(t, s, "t")
	require.NoError(t, s.DeleteEndpoint(ctx, gone.ID))
	msg := &webhook.Message{ID: id("msg"), Tenant: "t", Type: "a.b", Payload: []byte(`{}`), CreatedAt: base}
	mk := func(ep *webhook.Endpoint) *webhook.Delivery {
		return &webhook.Delivery{ID: id("dlv"), MessageID: msg.ID, EndpointID: ep.ID, Tenant: "t", EventType: "a.b",
			State: webhook.StatePending, NextAttemptAt: base, CreatedAt: base, UpdatedAt: base}
	}
	dGone, dKeep := mk(gone), mk(keep)
	require.NoError(t, s.InsertMessage(ctx, msg, []*webhook.Delivery{dGone, dKeep}),
		"a publish is never failed by a concurrent endpoint deletion")
	_, err := s.GetMessage(ctx, msg.ID)
	require.NoError(t, err, "the message is stored")
	_, err = s.GetDelivery(ctx, dGone.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound, "no delivery for the deleted endpoint")
	_, err = s.GetDelivery(ctx, dKeep.ID)
	assert.NoError(t, err, "the other endpoint's delivery is stored")
	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: gone.ID})
	require.NoError(t, err)
	assert.Empty(t, ds)
	cs := claim(t, s, base, 10)
	require.Len(t, cs, 1, "only the kept delivery is claimable")
	assert.Equal(t, dKeep.ID, cs[0].Delivery.ID)

	// Only deleted endpoints: the message is stored with no delivery.
	lone := &webhook.Message{ID: id("msg"), Tenant: "t", Type: "a.b", Payload: []byte(`{}`), CreatedAt: base}
	d := mk(gone)
	d.MessageID = lone.ID
	require.NoError(t, s.InsertMessage(ctx, lone, []*webhook.Delivery{d}))
	_, err = s.GetMessage(ctx, lone.ID)
	require.NoError(t, err)
	_, err = s.GetDelivery(ctx, d.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}

// holdInsert is a Store whose InsertMessage waits for release first, after
// telling entered: the publish has looked its endpoints up by then.
type holdInsert struct {
	webhook.Store
	entered, release chan struct{}
}

func (h holdInsert) InsertMessage(ctx context.Context, msg *webhook.Message, ds []*webhook.Delivery) error {
	close(h.entered)
	<-h.release
	return h.Store.InsertMessage(ctx, msg, ds)
}

// PublishRacingDeleteEndpoint holds a publish between its endpoint lookup
// and its store write until DeleteEndpoint of one of the two endpoints it
// found has returned. The publish must succeed, store its message and the
// other endpoint's delivery, and leave no delivery of the deleted endpoint
// (none to send, none to fail later). st must be empty.
func PublishRacingDeleteEndpoint(t *testing.T, st webhook.Store) {
	t.Helper()
	h := holdInsert{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
	d, err := webhook.New(webhook.Config{Store: h})
	require.NoError(t, err)
	defer func() { assert.NoError(t, d.Shutdown(context.Background())) }()
	ctx := context.Background()
	gone := &webhook.Endpoint{Tenant: "race", URL: "https://example.com/gone"}
	keep := &webhook.Endpoint{Tenant: "race", URL: "https://example.com/keep"}
	require.NoError(t, d.CreateEndpoint(ctx, gone))
	require.NoError(t, d.CreateEndpoint(ctx, keep))

	type result struct {
		msg *webhook.Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := d.Publish(ctx, webhook.RawEvent{Type: "race.test", Data: []byte(`{}`)}, &webhook.PublishOpts{Tenant: "race"})
		done <- result{m, err}
	}()
	<-h.entered
	require.NoError(t, d.DeleteEndpoint(ctx, gone.ID))
	close(h.release)
	r := <-done
	require.NoError(t, r.err, "a publish is never failed by a concurrent endpoint deletion")
	_, err = st.GetMessage(ctx, r.msg.ID)
	require.NoError(t, err, "the message is stored")
	ds, _, err := st.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: r.msg.ID})
	require.NoError(t, err)
	require.Len(t, ds, 1, "one delivery: the kept endpoint's")
	assert.Equal(t, keep.ID, ds[0].EndpointID)
	ds, _, err = st.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: gone.ID})
	require.NoError(t, err)
	assert.Empty(t, ds, "no delivery of the deleted endpoint")
}
