package storetest

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// badEndpoints are endpoint fields the Dispatcher must refuse, whatever the
// store: each names the ValidationError.Field it expects.
var badEndpoints = []struct {
	name  string
	field string
	set   func(ep *webhook.Endpoint)
}{
	{"description NUL", "description", func(ep *webhook.Endpoint) { ep.Description = "a\x00b" }},
	{"description bell", "description", func(ep *webhook.Endpoint) { ep.Description = "a\ab" }},
	{"description DEL", "description", func(ep *webhook.Endpoint) { ep.Description = "a\x7fb" }},
	{"description bad UTF-8", "description", func(ep *webhook.Endpoint) { ep.Description = "a\xffb" }},
	{"description too long", "description", func(ep *webhook.Endpoint) {
		ep.Description = strings.Repeat("d", webhook.MaxDescriptionLength+1)
	}},
	{"metadata value NUL", "metadata", func(ep *webhook.Endpoint) { ep.Metadata = map[string]string{"k": "a\x00b"} }},
	{"metadata key NUL", "metadata", func(ep *webhook.Endpoint) { ep.Metadata = map[string]string{"k\x00": "v"} }},
	{"metadata value bad UTF-8", "metadata", func(ep *webhook.Endpoint) { ep.Metadata = map[string]string{"k": "\xc3("} }},
	{"metadata key bad UTF-8", "metadata", func(ep *webhook.Endpoint) { ep.Metadata = map[string]string{"\xff": "v"} }},
	{"metadata key newline", "metadata", func(ep *webhook.Endpoint) { ep.Metadata = map[string]string{"a\nb": "v"} }},
	{"metadata key empty", "metadata", func(ep *webhook.Endpoint) { ep.Metadata = map[string]string{"": "v"} }},
	{"metadata value escape", "metadata", func(ep *webhook.Endpoint) { ep.Metadata = map[string]string{"k": "\x1b[2J"} }},
	{"metadata too many", "metadata", func(ep *webhook.Endpoint) { ep.Metadata = manyEntries(webhook.MaxMetadata + 1) }},
	{"metadata entry too long", "metadata", func(ep *webhook.Endpoint) {
		ep.Metadata = map[string]string{"k": strings.Repeat("v", webhook.MaxMetadataEntry)}
	}},
	{"url host bad UTF-8", "url", func(ep *webhook.Endpoint) { ep.URL = "https://ex\xffample.com/hook" }},
	{"url host escaped bad UTF-8", "url", func(ep *webhook.Endpoint) { ep.URL = "https://ex%ffample.com/hook" }},
	{"url host escaped C1 control", "url", func(ep *webhook.Endpoint) { ep.URL = "https://ex%c2%85ample.com/hook" }},
	{"url path bad UTF-8", "url", func(ep *webhook.Endpoint) { ep.URL = "https://example.com/\xff" }},
	{"url NUL", "url", func(ep *webhook.Endpoint) { ep.URL = "https://example.com/\x00" }},
	{"url path C1 control", "url", func(ep *webhook.Endpoint) { ep.URL = "https://example.com/a\u0085b" }},
	{"rate limit NaN", "rate limit", func(ep *webhook.Endpoint) { ep.RateLimit = math.NaN() }},
	{"rate limit +Inf", "rate limit", func(ep *webhook.Endpoint) { ep.RateLimit = math.Inf(1) }},
	{"rate limit -Inf", "rate limit", func(ep *webhook.Endpoint) { ep.RateLimit = math.Inf(-1) }},
	{"rate limit negative", "rate limit", func(ep *webhook.Endpoint) { ep.RateLimit = -1 }},
	{"rate limit 1e-9", "rate limit", func(ep *webhook.Endpoint) { ep.RateLimit = 1e-9 }},
	{"rate limit tiny", "rate limit", func(ep *webhook.Endpoint) { ep.RateLimit = 5e-324 }},
	{"rate limit below the minimum", "rate limit", func(ep *webhook.Endpoint) { ep.RateLimit = webhook.MinRateLimit / 2 }},
	{"rate limit above the maximum", "rate limit", func(ep *webhook.Endpoint) { ep.RateLimit = webhook.MaxRateLimit * 2 }},
	{"disabled reason NUL", "disabled reason", func(ep *webhook.Endpoint) { ep.Disabled, ep.DisabledReason = true, "gone\x00" }},
	{"disabled reason bad UTF-8", "disabled reason", func(ep *webhook.Endpoint) { ep.Disabled, ep.DisabledReason = true, "\xfe" }},
	{"disabled reason too long", "disabled reason", func(ep *webhook.Endpoint) {
		ep.Disabled, ep.DisabledReason = true, strings.Repeat("r", webhook.MaxDescriptionLength+1)
	}},
	{"header value too long", "headers", func(ep *webhook.Endpoint) {
		ep.Headers = map[string]string{"X-Long": strings.Repeat("h", webhook.MaxHeaderEntry)}
	}},
	{"header value NUL", "headers", func(ep *webhook.Endpoint) { ep.Headers = map[string]string{"X-A": "a\x00"} }},
	{"event type NUL", "event types", func(ep *webhook.Endpoint) { ep.EventTypes = []string{"a.b\x00"} }},
}

// badReasons are DisableEndpoint reasons the Dispatcher must refuse.
var badReasons = map[string]string{
	"NUL":       "broken\x00",
	"bad UTF-8": "broken \xff",
	"bell":      "broken\a",
	"too long":  strings.Repeat("r", webhook.MaxDescriptionLength+1),
}

// badPublishMetadata are PublishOpts.Metadata maps Publish must refuse.
var badPublishMetadata = map[string]map[string]string{
	"value NUL":       {"traceparent": "00-\x00"},
	"key NUL":         {"\x00": "v"},
	"value bad UTF-8": {"k": "\xff\xfe"},
	"key bad UTF-8":   {"k\xff": "v"},
	"key control":     {"k\r": "v"},
	"key empty":       {"": "v"},
	"value control":   {"k": "\x01"},
	"too many":        manyEntries(webhook.MaxMetadata + 1),
}

func manyEntries(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m["k"+strconv.Itoa(i)] = "v"
	}
	return m
}

func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ve *webhook.ValidationError
	require.ErrorAs(t, err, &ve, "want a *webhook.ValidationError for %s", field)
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	assert.Equal(t, field, ve.Field)
	assert.True(t, len(ve.Reason) > 0 && len(ve.Reason) < 400, "a short reason: %q", ve.Reason)
}

// testValidation checks that the Dispatcher refuses bad strings and
// numbers with a *ValidationError naming the field, the same on every
// store, and that nothing of a refused call is stored; and that what it
// accepts comes back unchanged.
func testValidation(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	d, err := webhook.New(webhook.Config{Store: s, AllowHTTP: true, AllowPrivateNetworks: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Shutdown(ctx) })

	good := func() *webhook.Endpoint {
		return &webhook.Endpoint{ID: id("ep"), Tenant: "t", URL: "https://example.com/hook", EventTypes: []string{"a.b"}}
	}
	ep := good()
	require.NoError(t, d.CreateEndpoint(ctx, ep))
	before, err := d.GetEndpoint(ctx, ep.ID)
	require.NoError(t, err)
	unchanged := func(t *testing.T) {
		t.Helper()
		now, err := d.GetEndpoint(ctx, ep.ID)
		require.NoError(t, err)
		assert.Equal(t, before, now, "a refused call changes nothing")
	}

	for _, tc := range badEndpoints {
		t.Run("CreateEndpoint/"+tc.name, func(t *testing.T) {
			c := good()
			tc.set(c)
			requireInvalid(t, d.CreateEndpoint(ctx, c), tc.field)
			_, err := s.GetEndpoint(ctx, c.ID)
			assert.ErrorIs(t, err, webhook.ErrNotFound, "a refused endpoint is not stored")
		})
		t.Run("UpdateEndpoint/"+tc.name, func(t *testing.T) {
			c := *before
			tc.set(&c)
			requireInvalid(t, d.UpdateEndpoint(ctx, &c), tc.field)
			unchanged(t)
		})
	}
	for name, reason := range badReasons {
		t.Run("DisableEndpoint/"+name, func(t *testing.T) {
			requireInvalid(t, d.DisableEndpoint(ctx, ep.ID, reason), "reason")
			unchanged(t)
		})
	}
	for name, md := range badPublishMetadata {
		t.Run("Publish/metadata "+name, func(t *testing.T) {
			msgID := id("msg")
			_, err := d.Publish(ctx, webhook.RawEvent{Type: "a.b", Data: []byte(`{}`)},
				&webhook.PublishOpts{ID: msgID, Tenant: "t", Metadata: md})
			requireInvalid(t, err, "metadata")
			_, err = s.GetMessage(ctx, msgID)
			assert.ErrorIs(t, err, webhook.ErrNotFound, "a refused message is not stored")
		})
	}
	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep.ID, Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, ds, "no refused publish left a delivery")

	// An endpoint ID no store can hold is not found, on every store, rather
	// than a database error.
	for _, bad := range []string{"ep\x00", "ep\xff", "ep\n"} {
		t.Run("lookup "+strconv.Quote(bad), func(t *testing.T) {
			_, err := d.GetEndpoint(ctx, bad)
			assert.ErrorIs(t, err, webhook.ErrNotFound, "GetEndpoint")
			assert.ErrorIs(t, d.UpdateEndpoint(ctx, &webhook.Endpoint{ID: bad, URL: "https://example.com/hook"}), webhook.ErrNotFound, "UpdateEndpoint")
			assert.ErrorIs(t, d.DeleteEndpoint(ctx, bad), webhook.ErrNotFound, "DeleteEndpoint")
			assert.ErrorIs(t, d.EnableEndpoint(ctx, bad), webhook.ErrNotFound, "EnableEndpoint")
			assert.ErrorIs(t, d.DisableEndpoint(ctx, bad, "r"), webhook.ErrNotFound, "DisableEndpoint")
			_, err = d.RotateSecret(ctx, bad, 0)
			assert.ErrorIs(t, err, webhook.ErrNotFound, "RotateSecret")
			_, _, err = d.ListEndpoints(ctx, webhook.EndpointQuery{Tenant: bad})
			requireInvalid(t, err, "tenant")

			// Messages and deliveries: lookups are not found, query
			// strings are invalid, on every store.
			_, err = d.GetMessage(ctx, bad)
			assert.ErrorIs(t, err, webhook.ErrNotFound, "GetMessage")
			_, err = d.GetDelivery(ctx, bad)
			assert.ErrorIs(t, err, webhook.ErrNotFound, "GetDelivery")
			assert.ErrorIs(t, d.Redeliver(ctx, bad), webhook.ErrNotFound, "Redeliver")
			_, err = d.RetryFailed(ctx, bad, time.Time{})
			assert.ErrorIs(t, err, webhook.ErrNotFound, "RetryFailed")
			_, _, err = d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: bad})
			requireInvalid(t, err, "endpoint ID")
			_, _, err = d.ListDeliveries(ctx, webhook.DeliveryQuery{MessageID: bad})
			requireInvalid(t, err, "message ID")
			_, _, err = d.ListDeliveries(ctx, webhook.DeliveryQuery{Cursor: bad})
			requireInvalid(t, err, "cursor")
			_, _, err = d.ListAttempts(ctx, webhook.AttemptQuery{DeliveryID: bad})
			requireInvalid(t, err, "delivery ID")
			_, err = d.Stats(ctx, webhook.StatsQuery{Tenant: bad})
			requireInvalid(t, err, "tenant")
		})
	}
	// Times past what a store can hold (Postgres ends in the year 294276).
	far := time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("times past year 9999", func(t *testing.T) {
		_, err := d.RetryFailed(ctx, ep.ID, far)
		requireInvalid(t, err, "since")
		_, _, err = d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep.ID, Until: far})
		requireInvalid(t, err, "until")
		_, err = d.Stats(ctx, webhook.StatsQuery{EndpointID: ep.ID, Since: far})
		requireInvalid(t, err, "since")
		_, err = d.Purge(ctx, far, 10)
		requireInvalid(t, err, "before")
		n, err := d.RetryFailed(ctx, ep.ID, time.Time{})
		require.NoError(t, err, "the zero time means all time")
		assert.Zero(t, n)
	})

	t.Run("accepted values round-trip", func(t *testing.T) {
		c := good()
		c.Description = "line one\nline two\r\n\ttabbed, ünïcode, emoji 🙂, U+2028 \u2028"
		c.Metadata = map[string]string{"owner": "team\tä", "note": "multi\nline", "ключ": strings.Repeat("v", webhook.MaxMetadataEntry-len("ключ"))}
		c.RateLimit = webhook.MinRateLimit
		c.Headers = map[string]string{"X-Token": strings.Repeat("t", webhook.MaxHeaderEntry-len("X-Token"))}
		want := *c
		require.NoError(t, d.CreateEndpoint(ctx, c))
		got, err := d.GetEndpoint(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, want.Description, got.Description)
		assert.Equal(t, want.Metadata, got.Metadata)
		assert.Equal(t, want.Headers, got.Headers)
		assert.Equal(t, want.RateLimit, got.RateLimit) //nolint:testifylint // stored exactly

		require.NoError(t, d.DisableEndpoint(ctx, c.ID, "paused:\tsee ticket\n#42"))
		got, err = d.GetEndpoint(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, "paused:\tsee ticket\n#42", got.DisabledReason)

		md := map[string]string{"request_id": "r\t1", "note": "ö\r\n"}
		msg, err := d.Publish(ctx, webhook.RawEvent{Type: "a.b", Data: []byte(`{}`)}, &webhook.PublishOpts{Tenant: "t", Metadata: md})
		require.NoError(t, err)
		m, err := d.GetMessage(ctx, msg.ID)
		require.NoError(t, err)
		assert.Equal(t, md, m.Metadata)
	})
}

// testFarFutureDue checks that a delivery due far in the future (a very low
// rate limit's slot, a long retry delay) is not claimable now: a store must
// not wrap such a time around into the past.
func testFarFutureDue(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, "t1")
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	_, ds := publish(t, s, far, ep)
	assert.Empty(t, claim(t, s, base, 10), "a delivery due in 2300 is not due now")
	got, err := s.GetDelivery(ctx, ds[0].ID)
	require.NoError(t, err)
	assert.True(t, got.NextAttemptAt.Year() >= 2262, "still due far ahead, not at %s", got.NextAttemptAt)
}
