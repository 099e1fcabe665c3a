package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hookline/webhook"
	"github.com/hookline/webhook/admin"
	"github.com/hookline/webhook/celfilter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRoutingPage edits an endpoint's filter, channels and format on its
// page (a malformed filter is refused with its position), then starts a
// replay: the messages the old filter kept out and the new one lets
// through are queued, once.
func TestRoutingPage(t *testing.T) {
	ctx := browser(t)
	legacy := func(msg *webhook.Message, data json.RawMessage) ([]byte, error) {
		return json.Marshal(map[string]any{"data": data, "meta": map[string]string{"event": msg.Type}})
	}
	// Not started: deliveries stay pending, so the test reads what was
	// queued without a receiver.
	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true,
		Filter: celfilter.Must(nil), Formats: map[string]webhook.EnvelopeFunc{"legacy": legacy}})
	require.NoError(t, err)
	bg := context.Background()
	ep := &webhook.Endpoint{URL: "http://127.0.0.1:9/hooks", Filter: "false"}
	require.NoError(t, d.CreateEndpoint(bg, ep))
	for _, amount := range []int{50, 150, 250} {
		_, err := d.Publish(bg, webhook.RawEvent{Type: "payment.settled", Data: json.RawMessage(fmt.Sprintf(`{"amount": %d}`, amount))},
			&webhook.PublishOpts{Channels: []string{"eu"}})
		require.NoError(t, err)
	}
	h, err := admin.New(d, nil)
	require.NoError(t, err)
	base := serveAdmin(t, h)

	tb := newTab(t, ctx)
	step, eval := tb.step, tb.eval
	waitStatus := func(want string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := eval(`document.getElementById("status").textContent`)
			if strings.Contains(s, want) || time.Now().After(deadline) {
				return s
			}
			time.Sleep(20 * time.Millisecond) // polling the page, not waiting out a delay
		}
	}

	step("open the endpoint",
		chromedp.Navigate(base+"endpoints/"+ep.ID),
		chromedp.WaitVisible(chromedp.ID("edit-filter")),
	)
	assert.Equal(t, "false", eval(`document.getElementById("ep-filter").textContent`))
	assert.Equal(t, ",legacy", eval(`Array.from(document.querySelectorAll("#edit-format option")).map((o) => o.value).join()`), "the registered formats are offered")

	step("a malformed filter",
		chromedp.SetValue(chromedp.ID("edit-filter"), "data.amount >="),
		chromedp.Click(chromedp.CSS(`#edit-endpoint button[type=submit]`)),
	)
	assert.Contains(t, waitStatus("invalid filter"), ":1:", "the position of the mistake is shown")
	cur, err := d.GetEndpoint(bg, ep.ID)
	require.NoError(t, err)
	assert.Equal(t, "false", cur.Filter, "nothing saved")

	step("edit filter, channels and format",
		chromedp.SetValue(chromedp.ID("edit-filter"), "data.amount >= 100"),
		chromedp.SetValue(chromedp.ID("edit-channels"), "eu, us"),
		chromedp.SetValue(chromedp.ID("edit-format"), "legacy"),
		chromedp.Click(chromedp.CSS(`#edit-endpoint button[type=submit]`)),
	)
	assert.Equal(t, "Saved.", waitStatus("Saved."))
	assert.Equal(t, "data.amount >= 100", eval(`document.getElementById("ep-filter").textContent`))
	cur, err = d.GetEndpoint(bg, ep.ID)
	require.NoError(t, err)
	assert.Equal(t, "data.amount >= 100", cur.Filter)
	assert.Equal(t, []string{"eu", "us"}, cur.Channels)
	assert.Equal(t, "legacy", cur.Format)

	step("start a replay", chromedp.Click(chromedp.ID("replay-submit")))
	assert.Equal(t, "2 missed messages queued.", waitStatus("queued"))
	step("replay again", chromedp.Click(chromedp.ID("replay-submit")))
	assert.Equal(t, "0 missed messages queued.", waitStatus("0 missed"))
	ds, _, err := d.ListDeliveries(bg, webhook.DeliveryQuery{EndpointID: ep.ID})
	require.NoError(t, err)
	assert.Len(t, ds, 2, "150 and 250, once each")
	tb.noExceptions()
}
