package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMisuse lists the ways a caller can misuse the public API and the error
// each gets; none of them may change anything.
func TestMisuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := webhook.NewMemoryStore()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st, MaxPayloadSize: 4096})
	require.NoError(t, err)
	ep := &webhook.Endpoint{Tenant: "t", URL: "https://example.com/hook"}
	require.NoError(t, d.CreateEndpoint(ctx, ep))
	closed, err := webhook.New(webhook.Config{})
	require.NoError(t, err)
	require.NoError(t, closed.Shutdown(ctx))

	huge := webhook.RawEvent{Type: "a.b", Data: []byte(`"` + strings.Repeat("x", 5000) + `"`)}
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"publish nil event", func() error { _, err := d.Publish(ctx, nil, nil); return err }, webhook.ErrInvalid},
		{"publish nil *RawEvent", func() error { var e *webhook.RawEvent; _, err := d.Publish(ctx, e, nil); return err }, webhook.ErrInvalid},
		{"publish empty type", func() error { _, err := d.Publish(ctx, webhook.RawEvent{Data: []byte(`1`)}, nil); return err }, webhook.ErrInvalid},
		{"publish huge payload", func() error { _, err := d.Publish(ctx, huge, nil); return err }, webhook.ErrPayloadTooLarge},
		{"publish invalid JSON", func() error {
			_, err := d.Publish(ctx, webhook.RawEvent{Type: "a.b", Data: []byte(`{"a":`)}, nil)
			return err
		}, webhook.ErrInvalid},
		{"publish ID with a full stop", func() error {
			_, err := d.Publish(ctx, rewardIssued{}, &webhook.PublishOpts{ID: "msg.1"})
			return err
		}, webhook.ErrInvalid},
		{"publish ID with invalid UTF-8", func() error {
			_, err := d.Publish(ctx, rewardIssued{}, &webhook.PublishOpts{ID: "msg\xff"})
			return err
		}, webhook.ErrInvalid},
		{"publish tenant with invalid UTF-8", func() error {
			_, err := d.Publish(ctx, rewardIssued{}, &webhook.PublishOpts{Tenant: "t\xff"})
			return err
		}, webhook.ErrInvalid},
		{"publish too much metadata", func() error {
			md := map[string]string{}
			for i := 0; i < 17; i++ {
				md[strings.Repeat("k", i+1)] = "v"
			}
			_, err := d.Publish(ctx, rewardIssued{}, &webhook.PublishOpts{Metadata: md})
			return err
		}, webhook.ErrInvalid},
		{"publish after Shutdown", func() error { _, err := closed.Publish(ctx, rewardIssued{}, nil); return err }, webhook.ErrClosed},
		{"publish in a transaction the store cannot join", func() error {
			_, err := webhook.PublishTx(ctx, d, struct{}{}, rewardIssued{}, nil)
			return err
		}, webhook.ErrTxUnsupported},
		{"start after Shutdown", func() error { return closed.Start(ctx) }, webhook.ErrClosed},
		{"create nil endpoint", func() error { return d.CreateEndpoint(ctx, nil) }, webhook.ErrInvalid},
		{"create endpoint with a header value in invalid UTF-8", func() error {
			return d.CreateEndpoint(ctx, &webhook.Endpoint{URL: "https://example.com", Headers: map[string]string{"X-A": "\xff"}})
		}, webhook.ErrInvalid},
		{"create endpoint with a header name holding a space", func() error {
			return d.CreateEndpoint(ctx, &webhook.Endpoint{URL: "https://example.com", Headers: map[string]string{"X A": "1"}})
		}, webhook.ErrInvalid},
		{"create endpoint with a description in invalid UTF-8", func() error {
			return d.CreateEndpoint(ctx, &webhook.Endpoint{URL: "https://example.com", Description: "\xff"})
		}, webhook.ErrInvalid},
		{"create endpoint with a negative rate limit", func() error {
			return d.CreateEndpoint(ctx, &webhook.Endpoint{URL: "https://example.com", RateLimit: -1})
		}, webhook.ErrInvalid},
		{"create endpoint with an existing ID", func() error {
			return d.CreateEndpoint(ctx, &webhook.Endpoint{ID: ep.ID, URL: "https://example.com"})
		}, webhook.ErrConflict},
		{"update unknown endpoint", func() error {
			return d.UpdateEndpoint(ctx, &webhook.Endpoint{ID: "ep_nope", URL: "https://example.com"})
		}, webhook.ErrNotFound},
		{"update nil endpoint", func() error { return d.UpdateEndpoint(ctx, nil) }, webhook.ErrInvalid},
		{"update to an invalid URL", func() error {
			return d.UpdateEndpoint(ctx, &webhook.Endpoint{ID: ep.ID, URL: "https://10.1.2.3/x"})
		}, webhook.ErrInvalid},
		{"delete unknown endpoint", func() error { return d.DeleteEndpoint(ctx, "ep_nope") }, webhook.ErrNotFound},
		{"enable unknown endpoint", func() error { return d.EnableEndpoint(ctx, "ep_nope") }, webhook.ErrNotFound},
		{"disable unknown endpoint", func() error { return d.DisableEndpoint(ctx, "ep_nope", "x") }, webhook.ErrNotFound},
		{"disable with an invalid reason", func() error { return d.DisableEndpoint(ctx, ep.ID, "\xff") }, webhook.ErrInvalid},
		{"rotate unknown endpoint", func() error { _, err := d.RotateSecret(ctx, "ep_nope", 0); return err }, webhook.ErrNotFound},
		{"rotate with a negative overlap", func() error { _, err := d.RotateSecret(ctx, ep.ID, -time.Second); return err }, webhook.ErrInvalid},
		{"test unknown endpoint", func() error { _, err := d.SendTest(ctx, "ep_nope"); return err }, webhook.ErrNotFound},
		{"redeliver unknown delivery", func() error { return d.Redeliver(ctx, "dlv_nope") }, webhook.ErrNotFound},
		{"retry failed of unknown endpoint", func() error { _, err := d.RetryFailed(ctx, "ep_nope", time.Time{}); return err }, webhook.ErrNotFound},
		{"get unknown message", func() error { _, err := d.GetMessage(ctx, "msg_nope"); return err }, webhook.ErrNotFound},
		{"get unknown delivery", func() error { _, err := d.GetDelivery(ctx, "dlv_nope"); return err }, webhook.ErrNotFound},
		{"list deliveries in an unknown state", func() error {
			_, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{State: "bogus"})
			return err
		}, webhook.ErrInvalid},
		{"list attempts of nothing", func() error { _, _, err := d.ListAttempts(ctx, webhook.AttemptQuery{}); return err }, webhook.ErrInvalid},
	}
	for _, field := range []struct {
		name string
		cfg  webhook.Config
	}{
		{"Workers", webhook.Config{Workers: -1}},
		{"MaxInFlightPerEndpoint", webhook.Config{MaxInFlightPerEndpoint: -1}},
		{"ClaimBatch", webhook.Config{ClaimBatch: -1}},
		{"AttemptTimeout", webhook.Config{AttemptTimeout: -time.Second}},
		{"Lease", webhook.Config{Lease: -time.Second}},
		{"PollInterval", webhook.Config{PollInterval: -time.Second}},
		{"MaxPayloadSize", webhook.Config{MaxPayloadSize: -1}},
		{"ResponseBodyLimit", webhook.Config{ResponseBodyLimit: -1}},
		{"Retry.MaxAttempts", webhook.Config{Retry: webhook.RetryPolicy{MaxAttempts: -1}}},
		{"Retry.MaxRetryAfter", webhook.Config{Retry: webhook.RetryPolicy{MaxRetryAfter: -1}}},
		{"Lease not above AttemptTimeout", webhook.Config{AttemptTimeout: time.Minute, Lease: time.Minute}},
	} {
		cfg := field.cfg
		tests = append(tests, struct {
			name string
			call func() error
			want error
		}{"negative config " + field.name, func() error { _, err := webhook.New(cfg); return err }, webhook.ErrInvalid})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			assert.NotEmpty(t, err.Error())
		})
	}
	// Nothing changed: one endpoint, no message, no delivery.
	eps, _, err := d.ListEndpoints(ctx, webhook.EndpointQuery{AllTenants: true})
	require.NoError(t, err)
	require.Len(t, eps, 1)
	assert.Equal(t, "https://example.com/hook", eps[0].URL)
	assert.False(t, eps[0].Disabled)
	assert.Equal(t, ep.Secret, eps[0].Secret)
	ds, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{})
	require.NoError(t, err)
	assert.Empty(t, ds)
}
