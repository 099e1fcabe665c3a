package e2e

// Routing through a dispatcher with the CEL engine, on both stores: filters, channels, formats
// and ReplayMissing. The Postgres half runs with HOOKLINE_TEST_DATABASE_URL.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/celfilter"
	"github.com/hookline/webhook/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type storeKind struct {
	name string
	new  func(t *testing.T) webhook.Store
}

// stores returns the stores the routing tests run on: memory, and Postgres
// when HOOKLINE_TEST_DATABASE_URL is set (a pool closed when t ends).
func stores(t *testing.T) []storeKind {
	kinds := []storeKind{{"memory", func(*testing.T) webhook.Store { return webhook.NewMemoryStore() }}}
	url := os.Getenv("HOOKLINE_TEST_DATABASE_URL")
	if url == "" {
		t.Log("Postgres half skipped: set HOOKLINE_TEST_DATABASE_URL")
		return kinds
	}
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return append(kinds, storeKind{"postgres", func(t *testing.T) webhook.Store {
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "hookline_e2e_" + hex.EncodeToString(b[:])
		s := pgstore.New(pool, &pgstore.Options{Schema: schema})
		require.NoError(t, s.Migrate(context.Background()))
		t.Cleanup(func() {
			s.Close()
			_, err := pool.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			assert.NoError(t, err)
		})
		return s
	}})
}

// clock advances a millisecond at every reading, so messages have distinct
// times.
type clock struct{ n atomic.Int64 }

var t0 = time.Date(2030, 5, 6, 7, 0, 0, 0, time.UTC)

func (c *clock) now() time.Time { return t0.Add(time.Duration(c.n.Add(1)) * time.Millisecond) }

func newDispatcher(t *testing.T, sk storeKind, cfg webhook.Config) *webhook.Dispatcher {
	cfg.Store = sk.new(t)
	cfg.AllowHTTP, cfg.AllowPrivateNetworks = true, true
	if cfg.Filter == nil {
		cfg.Filter = celfilter.Must(nil)
	}
	if cfg.Now == nil {
		cfg.Now = (&clock{}).now
	}
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	return d
}

func mkEndpoint(t *testing.T, d *webhook.Dispatcher, tenant, filter string, channels ...string) *webhook.Endpoint {
	t.Helper()
	ep := &webhook.Endpoint{Tenant: tenant, URL: "http://127.0.0.1:9/hook", Filter: filter, Channels: channels}
	require.NoError(t, d.CreateEndpoint(context.Background(), ep))
	return ep
}

func pub(t *testing.T, d *webhook.Dispatcher, tenant, typ, data string, channels ...string) *webhook.Message {
	t.Helper()
	m, err := d.Publish(context.Background(), webhook.RawEvent{Type: typ, Data: json.RawMessage(data)},
		&webhook.PublishOpts{Tenant: tenant, Channels: channels})
	require.NoError(t, err)
	return m
}

// got returns the message IDs ep has deliveries of, sorted.
func got(t *testing.T, d *webhook.Dispatcher, ep *webhook.Endpoint) []string {
	t.Helper()
	ds, _, err := d.ListDeliveries(context.Background(), webhook.DeliveryQuery{EndpointID: ep.ID, Limit: 1000})
	require.NoError(t, err)
	var ids []string
	for _, x := range ds {
		ids = append(ids, x.MessageID)
	}
	sort.Strings(ids)
	return ids
}

func ids(ms ...*webhook.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	sort.Strings(out)
	return out
}

func TestRoutingStores(t *testing.T) {
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			t.Run("Filters", func(t *testing.T) { testFilters(t, sk) })
			t.Run("FilterValidation", func(t *testing.T) { testFilterValidation(t, sk) })
			t.Run("Channels", func(t *testing.T) { testChannels(t, sk) })
			t.Run("Formats", func(t *testing.T) { testFormats(t, sk) })
			t.Run("Replay", func(t *testing.T) { testReplay(t, sk) })
			t.Run("ReplayReEnabled", func(t *testing.T) { testReplayReEnabled(t, sk) })
		})
	}
}

func testFilters(t *testing.T, sk storeKind) {
	d := newDispatcher(t, sk, webhook.Config{Filter: celfilter.Must(&celfilter.Options{CostLimit: 1000})})
	big := mkEndpoint(t, d, "a", `data.amount >= 100`)
	gold := mkEndpoint(t, d, "a", `data.tier == "gold"`)
	none := mkEndpoint(t, d, "a", ``)
	never := mkEndpoint(t, d, "a", `false`)
	always := mkEndpoint(t, d, "a", `true`)
	missing := mkEndpoint(t, d, "a", `data.missing > 1`)
	costly := mkEndpoint(t, d, "a", `data.xs.all(x, data.xs.all(y, x + y >= 0))`)
	guarded := mkEndpoint(t, d, "a", `has(data.amount) && data.amount < 10 && type.startsWith("tx.")`)
	other := mkEndpoint(t, d, "b", `true`) // another tenant's filter that takes everything

	m1 := pub(t, d, "a", "tx.done", `{"amount": 150, "tier": "silver"}`)
	m2 := pub(t, d, "a", "tx.done", `{"amount": 99.5, "tier": "gold"}`)
	m3 := pub(t, d, "a", "tx.done", `{"amount": "150", "tier": 7}`) // string where a number is wanted, and the reverse
	m4 := pub(t, d, "a", "tx.done", `{"amount": 5, "xs": [`+strings.Repeat("1,", 299)+`1]}`)

	assert.Equal(t, ids(m1), got(t, d, big), "numbers")
	assert.Equal(t, ids(m2), got(t, d, gold), "strings")
	assert.Equal(t, ids(m1, m2, m3, m4), got(t, d, none))
	assert.Empty(t, got(t, d, never))
	assert.Equal(t, ids(m1, m2, m3, m4), got(t, d, always))
	assert.Empty(t, got(t, d, missing), "a missing field means no delivery")
	assert.Empty(t, got(t, d, costly), "over the cost limit means no delivery")
	assert.Equal(t, ids(m4), got(t, d, guarded))
	assert.Empty(t, got(t, d, other), "tenant b's filter never sees tenant a's messages")
}

func testFilterValidation(t *testing.T, sk storeKind) {
	ctx := context.Background()
	d := newDispatcher(t, sk, webhook.Config{})
	ep := &webhook.Endpoint{Tenant: "a", URL: "http://127.0.0.1:9/hook", Filter: `data.amount >=`}
	err := d.CreateEndpoint(ctx, ep)
	var ve *webhook.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	assert.Equal(t, "filter", ve.Field)
	assert.Contains(t, ve.Reason, ":1:", "the position of the mistake")
	eps, _, err := d.ListEndpoints(ctx, webhook.EndpointQuery{Tenant: "a"})
	require.NoError(t, err)
	assert.Empty(t, eps, "nothing stored")

	good := mkEndpoint(t, d, "a", `true`)
	good.Filter = `amount > 1`
	err = d.UpdateEndpoint(ctx, good)
	require.True(t, errors.As(err, &ve), "%v", err)
	assert.Contains(t, ve.Reason, "undeclared reference")
	cur, err := d.GetEndpoint(ctx, good.ID)
	require.NoError(t, err)
	assert.Equal(t, "true", cur.Filter, "a refused update changes nothing")

	// Without an engine, a filter is refused and says what to configure.
	bare, err := webhook.New(webhook.Config{Store: sk.new(t), AllowHTTP: true, AllowPrivateNetworks: true})
	require.NoError(t, err)
	err = bare.CreateEndpoint(ctx, &webhook.Endpoint{URL: "http://127.0.0.1:9/hook", Filter: `true`})
	require.True(t, errors.As(err, &ve), "%v", err)
	assert.Contains(t, ve.Reason, "Config.Filter")
}

func testChannels(t *testing.T, sk storeKind) {
	ctx := context.Background()
	d := newDispatcher(t, sk, webhook.Config{})
	all := mkEndpoint(t, d, "a", "")
	eu := mkEndpoint(t, d, "a", "", "eu")
	usca := mkEndpoint(t, d, "a", "", "us", "ca")
	euB := mkEndpoint(t, d, "b", "", "eu")
	m1 := pub(t, d, "a", "x.y", `{}`)
	m2 := pub(t, d, "a", "x.y", `{}`, "eu")
	m3 := pub(t, d, "a", "x.y", `{}`, "ca", "eu")
	m4 := pub(t, d, "a", "x.y", `{}`, "asia")
	assert.Equal(t, ids(m1, m2, m3, m4), got(t, d, all))
	assert.Equal(t, ids(m2, m3), got(t, d, eu))
	assert.Equal(t, ids(m3), got(t, d, usca))
	assert.Empty(t, got(t, d, euB))
	stored, err := d.GetMessage(ctx, m3.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"ca", "eu"}, stored.Channels)

	_, err = d.Publish(ctx, webhook.RawEvent{Type: "x.y", Data: json.RawMessage(`{}`)},
		&webhook.PublishOpts{Tenant: "a", Channels: []string{"no spaces"}})
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	err = d.CreateEndpoint(ctx, &webhook.Endpoint{Tenant: "a", URL: "http://127.0.0.1:9/hook", Channels: []string{""}})
	assert.ErrorIs(t, err, webhook.ErrInvalid)
}

func testFormats(t *testing.T, sk storeKind) {
	ctx := context.Background()
	var mu sync.Mutex
	bodies := map[string][]byte{} // endpoint path -> body
	secrets := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(secrets[r.URL.Path], r.Header, b); err != nil {
			t.Errorf("%s: the signature does not verify the body sent: %v", r.URL.Path, err)
		}
		bodies[r.URL.Path] = b
	}))
	defer srv.Close()
	legacy := func(msg *webhook.Message, data json.RawMessage) ([]byte, error) {
		return json.Marshal(map[string]any{"data": data, "meta": map[string]string{"event": msg.Type, "id": msg.ID}})
	}
	d := newDispatcher(t, sk, webhook.Config{Formats: map[string]webhook.EnvelopeFunc{"legacy": legacy},
		PollInterval: 10 * time.Millisecond, Now: time.Now})
	require.Equal(t, []string{"legacy"}, d.FormatNames())
	err := d.CreateEndpoint(ctx, &webhook.Endpoint{URL: srv.URL + "/x", Format: "nope"})
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	std := &webhook.Endpoint{URL: srv.URL + "/std"}
	old := &webhook.Endpoint{URL: srv.URL + "/legacy", Format: "legacy"}
	require.NoError(t, d.CreateEndpoint(ctx, std))
	require.NoError(t, d.CreateEndpoint(ctx, old))
	mu.Lock()
	secrets["/std"], secrets["/legacy"] = std.Secret, old.Secret
	mu.Unlock()
	require.NoError(t, d.Start(ctx))
	defer func() { assert.NoError(t, d.Shutdown(ctx)) }()
	m := pub(t, d, "", "order.paid", `{"n":1}`)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) == 2 }, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.JSONEq(t, `{"data":{"n":1},"meta":{"event":"order.paid","id":"`+m.ID+`"}}`, string(bodies["/legacy"]))
	assert.Equal(t, string(m.Payload), string(bodies["/std"]), "the default endpoint gets the stored payload")
}

func testReplay(t *testing.T, sk storeKind) {
	ctx := context.Background()
	d := newDispatcher(t, sk, webhook.Config{})
	first := mkEndpoint(t, d, "a", "")
	m1 := pub(t, d, "a", "tx.done", `{"amount": 1}`, "eu")
	m2 := pub(t, d, "a", "tx.done", `{"amount": 500}`, "eu")
	m3 := pub(t, d, "a", "tx.done", `{"amount": 700}`, "us")
	m4 := pub(t, d, "a", "other.thing", `{"amount": 900}`, "eu")
	mB := pub(t, d, "b", "tx.done", `{"amount": 800}`, "eu")
	require.Len(t, got(t, d, first), 4)

	// A new endpoint, created after the messages, with types, channels and
	// a filter: it gets m2 only.
	late := &webhook.Endpoint{Tenant: "a", URL: "http://127.0.0.1:9/hook", EventTypes: []string{"tx.*"},
		Channels: []string{"eu"}, Filter: `data.amount > 100`}
	require.NoError(t, d.CreateEndpoint(ctx, late))
	n, err := d.ReplayMissing(ctx, late.ID, m1.CreatedAt)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, ids(m2), got(t, d, late))
	n, err = d.ReplayMissing(ctx, late.ID, m1.CreatedAt)
	require.NoError(t, err)
	assert.Zero(t, n, "a second run queues nothing")

	// The filter widened: the rest comes, nothing twice; since bounds it.
	late.Filter, late.Channels = `data.amount > 0`, nil
	require.NoError(t, d.UpdateEndpoint(ctx, late))
	n, err = d.ReplayMissing(ctx, late.ID, m3.CreatedAt)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "m3 only: m1 is before since, m4 another type")
	assert.Equal(t, ids(m2, m3), got(t, d, late))

	// Another tenant's endpoint that takes everything replays only its own.
	b := mkEndpoint(t, d, "b", "true")
	n, err = d.ReplayMissing(ctx, b.ID, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, ids(mB), got(t, d, b))
	_ = m4

	_, err = d.ReplayMissing(ctx, "ep_missing", time.Time{})
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}

func testReplayReEnabled(t *testing.T, sk storeKind) {
	ctx := context.Background()
	d := newDispatcher(t, sk, webhook.Config{})
	ep := mkEndpoint(t, d, "a", "")
	m1 := pub(t, d, "a", "x.y", `{}`)
	require.NoError(t, d.DisableEndpoint(ctx, ep.ID, "maintenance"))
	m2 := pub(t, d, "a", "x.y", `{}`)
	m3 := pub(t, d, "a", "x.y", `{}`)
	_, err := d.ReplayMissing(ctx, ep.ID, m1.CreatedAt)
	assert.ErrorIs(t, err, webhook.ErrConflict, "a disabled endpoint is refused")
	require.NoError(t, d.EnableEndpoint(ctx, ep.ID))
	m4 := pub(t, d, "a", "x.y", `{}`)
	n, err := d.ReplayMissing(ctx, ep.ID, m1.CreatedAt)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "what it missed while disabled")
	assert.Equal(t, ids(m1, m2, m3, m4), got(t, d, ep))
	n, err = d.ReplayMissing(ctx, ep.ID, m1.CreatedAt)
	require.NoError(t, err)
	assert.Zero(t, n)
}
