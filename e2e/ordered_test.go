package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hookline/webhook"
	"github.com/hookline/webhook/admin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOrderedPage: an ordered endpoint's page ticks its checkbox, a
// delivery waiting behind its queue's head links that head, and unticking
// the box and saving turns ordering off.
func TestOrderedPage(t *testing.T) {
	ctx := browser(t)
	// Not started: the second delivery keeps waiting behind the first.
	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true})
	require.NoError(t, err)
	bg := context.Background()
	ep := &webhook.Endpoint{URL: "http://127.0.0.1:9/hooks", Ordered: true}
	require.NoError(t, d.CreateEndpoint(bg, ep))
	var dlv []string
	for range 2 {
		m, err := d.Publish(bg, webhook.RawEvent{Type: "customer.updated", Data: json.RawMessage(`{}`)}, &webhook.PublishOpts{OrderingKey: "cust_1"})
		require.NoError(t, err)
		ds, _, err := d.ListDeliveries(bg, webhook.DeliveryQuery{MessageID: m.ID})
		require.NoError(t, err)
		dlv = append(dlv, ds[0].ID)
	}
	h, err := admin.New(d, nil)
	require.NoError(t, err)
	base := serveAdmin(t, h)
	tb := newTab(t, ctx)
	step, eval := tb.step, tb.eval

	step("open the endpoint",
		chromedp.Navigate(base+"endpoints/"+ep.ID),
		chromedp.WaitVisible(chromedp.CSS(`#deliveries tr[data-delivery-id="`+dlv[1]+`"]`)),
	)
	assert.Equal(t, "true", eval(`String(document.getElementById("edit-ordered").checked)`), "the box shows the option")
	assert.Contains(t, eval(`document.getElementById("ep-ordered").textContent`), "ordered:")
	assert.Equal(t, "waiting for "+dlv[0], eval(`document.querySelector('tr[data-delivery-id="`+dlv[1]+`"] .waiting-for').textContent`))

	step("open the waiting delivery",
		chromedp.Navigate(base+"deliveries/"+dlv[1]),
		chromedp.WaitVisible(chromedp.ID("delivery-next")),
	)
	assert.Equal(t, "waiting for "+dlv[0], eval(`document.getElementById("delivery-next").textContent`))
	assert.True(t, strings.HasSuffix(eval(`document.querySelector("#delivery-next a").href`), "/deliveries/"+dlv[0]), "a link to the head")

	step("untick and save",
		chromedp.Navigate(base+"endpoints/"+ep.ID),
		chromedp.WaitVisible(chromedp.ID("edit-ordered")),
		chromedp.Click(chromedp.ID("edit-ordered")),
		chromedp.Click(chromedp.CSS(`#edit-endpoint button[type=submit]`)),
	)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(eval(`document.getElementById("status").textContent`), "Saved.") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling the page, not waiting out a delay
	}
	cur, err := d.GetEndpoint(bg, ep.ID)
	require.NoError(t, err)
	assert.False(t, cur.Ordered, "saved")
	assert.Equal(t, "unordered", eval(`document.getElementById("ep-ordered").textContent`))
	tb.noExceptions()
}
