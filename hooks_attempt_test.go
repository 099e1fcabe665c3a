package webhook_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBeforeAttemptCannotBreakSignature: whatever BeforeAttempt does to
// the signed headers, the Hookline-* headers or the body, the delivery goes
// out as signed and verifies; headers it adds still go out.
func TestBeforeAttemptCannotBreakSignature(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Hooks.BeforeAttempt = func(_ context.Context, req *http.Request, _ *webhook.Delivery) {
			req.Header.Set("Webhook-Id", "msg_forged")
			req.Header.Del("Webhook-Signature")
			req.Header["webhook-timestamp"] = []string{"1"} // a non-canonical key, sent as is
			req.Header.Del(webhook.HeaderEventType)
			req.Header.Del(webhook.HeaderAttempt)
			req.Header.Set("Content-Type", "text/plain")
			req.Body = io.NopCloser(strings.NewReader(`{"forged":true}`))
			req.ContentLength = 15
			req.Header.Set("X-Added", "yes")
		}
	})
	ep := createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: "http://x.invalid"})
	rcv := webhooktest.NewReceiver(t, webhooktest.WithSecret(ep.Secret))
	ep.URL = rcv.URL
	require.NoError(t, d.UpdateEndpoint(context.Background(), ep))
	msg, err := d.Publish(context.Background(), rewardIssued{Points: 7}, nil)
	require.NoError(t, err)
	got := rcv.WaitForMessage(t, msg.ID, 5*time.Second)
	require.NotEmpty(t, got, "the delivery keeps its webhook-id")
	r := got[0]
	assert.True(t, r.Verified, "verifies: %v", r.VerifyErr)
	assert.Len(t, r.Header.Values("Webhook-Timestamp"), 1, "one timestamp, the signed one")
	assert.Equal(t, "reward.issued", r.EventType)
	assert.Equal(t, 1, r.Attempt)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Contains(t, string(r.Body), `"points":7`)
	assert.Equal(t, "yes", r.Header.Get("X-Added"))
}
