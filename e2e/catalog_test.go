package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hookline/webhook"
	"github.com/hookline/webhook/admin"
	"github.com/hookline/webhook/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type money struct {
	Amount   int64  `json:"amount" jsonschema:"description=In cents"`
	Currency string `json:"currency" jsonschema:"enum=EUR,enum=USD"`
}

type orderPlaced struct {
	OrderID string `json:"order_id" jsonschema:"description=The order's ID"`
	Total   money  `json:"total"`
	Lines   []struct {
		SKU string `json:"sku"`
	} `json:"lines"`
	Notes *string           `json:"notes,omitempty"`
	Tags  map[string]string `json:"tags,omitempty"`
	At    time.Time         `json:"placed_at"`
}

func (orderPlaced) EventType() string { return "order.placed" }

// TestCatalogPage opens the catalog view, reads a type's field table, and
// sends a test event of a chosen type from the endpoint page: the receiver
// gets that type's example, signed and marked as a test.
func TestCatalogPage(t *testing.T) {
	ctx := browser(t)

	type got struct {
		header http.Header
		body   []byte
	}
	var mu sync.Mutex
	var received []got
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, got{r.Header.Clone(), b})
		mu.Unlock()
	}))
	defer recv.Close()

	cat := catalog.New()
	placed := orderPlaced{OrderID: "ord_1", Total: money{4200, "EUR"}, Lines: []struct {
		SKU string `json:"sku"`
	}{{SKU: "sku_1"}}, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	require.NoError(t, cat.Register(placed, catalog.Info{Description: "An order was placed.", Group: "Orders", Version: "2"}))
	require.NoError(t, cat.RegisterRaw("order.cancelled", json.RawMessage(`{"type":"object","required":["order_id"],"properties":{"order_id":{"type":"string"}}}`),
		json.RawMessage(`{"order_id":"ord_1"}`), catalog.Info{Description: "An order was cancelled.", Group: "Orders", Deprecated: "use order.closed"}))
	require.NoError(t, cat.RegisterRaw("user.created", json.RawMessage(`{"type":"object","properties":{"user_id":{"type":"string"}}}`),
		json.RawMessage(`{"user_id":"u_1"}`), catalog.Info{Description: "A user signed up.", Group: "Users"}))
	doc, err := cat.OpenAPI(catalog.DocInfo{Title: "Shop webhooks"})
	require.NoError(t, err)

	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true, Events: cat,
		Retry: webhook.RetryPolicy{MaxAttempts: 1}, PollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	startDispatcher(t, d)
	ep := &webhook.Endpoint{URL: recv.URL + "/hooks", EventTypes: []string{"user.created"}}
	require.NoError(t, d.CreateEndpoint(context.Background(), ep))
	h, err := admin.New(d, &admin.Options{EventTypes: cat.AdminEventTypes(), WebhooksOpenAPI: doc})
	require.NoError(t, err)
	base := serveAdmin(t, h)

	tb := newTab(t, ctx)
	step, eval := tb.step, tb.eval
	row := func(typ, field string) string {
		return eval(fmt.Sprintf(`(() => { const r = document.querySelector('[data-event-type=%q] tr[data-field=%q]'); return r ? Array.from(r.cells).map((c) => c.textContent).join(" | ") : "missing"; })()`, typ, field))
	}

	// 1. The catalog view, reached from the header: groups, a field table
	// per type, the example, the receivers' document.
	step("open the catalog",
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.ID("nav-catalog")),
		chromedp.Click(chromedp.ID("nav-catalog")),
		chromedp.WaitVisible(chromedp.ID("event-catalog")),
		chromedp.WaitVisible(chromedp.CSS(`#webhooks-doc a`)),
	)
	assert.Equal(t, "Orders,Users", eval(`Array.from(document.querySelectorAll("#event-catalog section.group h2")).map((h) => h.textContent).join()`))
	assert.Equal(t, "type | \"order.placed\" | yes | The event type.", row("order.placed", "type"))
	assert.Equal(t, "timestamp | string (date-time) | yes | When the event was published (RFC 3339).", row("order.placed", "timestamp"))
	assert.Equal(t, "data.order_id | string | yes | The order's ID", row("order.placed", "data.order_id"))
	assert.Equal(t, "data.total.amount | integer | yes | In cents", row("order.placed", "data.total.amount"))
	assert.Equal(t, `data.total.currency | string, one of "EUR", "USD" | yes | `, row("order.placed", "data.total.currency"))
	assert.Equal(t, "data.lines | array or null | yes | ", row("order.placed", "data.lines"))
	assert.Equal(t, "data.lines[].sku | string | yes | ", row("order.placed", "data.lines[].sku"))
	assert.Equal(t, "data.notes | string | no | ", row("order.placed", "data.notes"))
	assert.Equal(t, "data.placed_at | string (date-time) | yes | ", row("order.placed", "data.placed_at"))
	assert.Contains(t, eval(`document.querySelector('[data-event-type="order.placed"] pre.example').textContent`), `"order_id": "ord_1"`)
	assert.Contains(t, eval(`document.querySelector('[data-event-type="order.placed"]').textContent`), "v2")
	assert.Contains(t, eval(`document.querySelector('[data-event-type="order.cancelled"]').textContent`), "Deprecated: use order.closed")
	assert.Equal(t, "api/webhooks.openapi.json", eval(`document.querySelector("#webhooks-doc a").getAttribute("href")`))

	// 2. The endpoint form offers the catalog's groups: ticking a group
	// ticks its types.
	step("the form's groups",
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.ID("add-endpoint")),
		chromedp.Click(chromedp.ID("et-all")),
		chromedp.Click(chromedp.CSS(`#add-endpoint input[data-group="Orders"]`)),
	)
	assert.Equal(t, "order.placed,order.cancelled", eval(`Array.from(document.querySelectorAll("#add-endpoint .group input[value]:checked")).map((b) => b.value).join()`))

	// 3. A test event of a chosen type from the endpoint page: it arrives
	// with that type's example, even though the endpoint subscribes to
	// another type.
	step("send a test of order.placed",
		chromedp.Navigate(base+"endpoints/"+ep.ID),
		chromedp.WaitVisible(chromedp.ID("test-type")),
		chromedp.SetValue(chromedp.ID("test-type"), "order.placed"),
		chromedp.Click(chromedp.ID("send-test")),
		chromedp.WaitReady(chromedp.CSS(`#test-result .attempt.ok`)),
	)
	mu.Lock()
	require.Len(t, received, 1)
	r := received[0]
	mu.Unlock()
	require.NoError(t, webhook.Verify(ep.Secret, r.header, r.body), "signed like a real delivery")
	assert.Equal(t, "true", r.header.Get(webhook.HeaderTest), "marked as a test")
	assert.Equal(t, "order.placed", r.header.Get(webhook.HeaderEventType))
	var body struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	assert.Equal(t, "order.placed", body.Type)
	et, _ := cat.Lookup("order.placed")
	assert.JSONEq(t, string(et.Example), string(body.Data), "the type's example")
	step("the test shows in the endpoint's deliveries", chromedp.WaitReady(chromedp.CSS(`#deliveries tr[data-delivery-id]`)))
	assert.Contains(t, eval(`document.querySelector("#deliveries").textContent`), "order.placed")

	tb.noExceptions()
}
