// Package e2e drives the admin page in headless Chromium. It is a module of
// its own so chromedp stays out of the core module's go.mod.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/hookline/webhook"
	"github.com/hookline/webhook/admin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const chromiumPath = "/usr/bin/chromium"

// markup is what a user types as a description and what the receiver
// answers: it must show as text and never run.
const (
	descMarkup = `<img src=x onerror="window.__xss=(window.__xss||0)+1"> Orders <b>bold</b>`
	respMarkup = `<img src=x onerror="window.__xss=(window.__xss||0)+1"><script>window.__xss=1</script>`
)

func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("HOOKLINE_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("%s is missing (apt-get install -y chromium) and HOOKLINE_REQUIRE_CHROMIUM=1", chromiumPath)
		}
		t.Skipf("%s is missing: apt-get install -y chromium (set HOOKLINE_REQUIRE_CHROMIUM=1 to fail instead)", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1200, 1000),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx)) // start the browser without a timeout
	return ctx
}

func TestAdminPage(t *testing.T) {
	ctx := browser(t)

	// The receiver fails the first request with markup in its body, then
	// answers 200.
	var hits atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if hits.Add(1) == 1 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, respMarkup)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer recv.Close()

	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true,
		Retry: webhook.RetryPolicy{MaxAttempts: 1}, PollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	startDispatcher(t, d)
	h, err := admin.New(d, &admin.Options{Title: "Webhooks", EventTypes: []admin.EventType{
		{Name: "invoice.paid", Description: "An invoice was paid.", Example: json.RawMessage(`{"invoice_id":"in_1","amount":4200}`)},
		{Name: "invoice.voided", Description: "An invoice was voided."},
		{Name: "customer.created", Description: "A customer signed up <i>(markup in a catalog entry)</i>."},
	}})
	require.NoError(t, err)
	base := serveAdmin(t, h)

	// Fail on any dialog (alert from injected markup) or uncaught exception.
	var dialogs atomic.Int32
	go func() {
		for _, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			dialogs.Add(1)
		}
	}()

	tb := newTab(t, ctx)
	step, eval := tb.step, tb.eval
	noInjection := func(where string) {
		t.Helper()
		assert.Equal(t, "undefined", eval(`String(window.__xss)`), "markup ran on %s", where)
		assert.Equal(t, "0", eval(`String(document.querySelectorAll("main img, main script, main b, main i").length)`), "markup became elements on %s", where)
	}

	// 1. Add an endpoint through the form, with one type from the catalog.
	step("open the list",
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.ID("add-endpoint")),
		chromedp.SendKeys(chromedp.CSS(`#add-endpoint input[name=url]`), recv.URL+"/hooks"),
		chromedp.SendKeys(chromedp.CSS(`#add-endpoint input[name=description]`), descMarkup),
		chromedp.Click(chromedp.ID("et-all")), // untick "all types"
		chromedp.Click(chromedp.ID("et-0")),   // tick invoice.paid
		chromedp.Click(chromedp.CSS(`#add-endpoint button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("send-test")),
	)
	assert.Equal(t, descMarkup, eval(`document.getElementById("ep-description").textContent`))
	assert.Contains(t, eval(`document.body.textContent`), "1: invoice.paid")
	noInjection("the endpoint page")
	eps, _, err := d.ListEndpoints(ctx, webhook.EndpointQuery{AllTenants: true})
	require.NoError(t, err)
	require.Len(t, eps, 1)
	assert.Equal(t, descMarkup, eps[0].Description)
	assert.Equal(t, []string{"invoice.paid"}, eps[0].EventTypes)

	// 2. Send a test event: the failed attempt and its response show as text.
	step("send a test event",
		chromedp.Click(chromedp.ID("send-test")),
		chromedp.WaitReady(chromedp.CSS(`#test-result pre.response`)),
	)
	assert.Equal(t, respMarkup, eval(`document.querySelector("#test-result pre.response").textContent`))
	assert.Contains(t, eval(`document.querySelector("#test-result").textContent`), "500")
	step("the delivery list updates by itself", chromedp.WaitReady(chromedp.CSS(`#deliveries tr[data-delivery-id]`)))
	noInjection("the endpoint page after the test")

	// 3. Open the failed delivery and redeliver it; the page updates itself.
	step("open the delivery",
		chromedp.Click(chromedp.CSS(`#deliveries tr[data-delivery-id] a`)),
		chromedp.WaitVisible(chromedp.ID("redeliver")),
	)
	assert.Equal(t, "failed", eval(`document.getElementById("delivery-state").textContent`))
	assert.Equal(t, respMarkup, eval(`document.querySelector("pre.response").textContent`))
	assert.Contains(t, eval(`document.getElementById("payload").textContent`), `"type": "webhook.test"`)
	assert.Contains(t, eval(`document.querySelector("pre.headers").textContent`), "Webhook-Signature: v1,")
	noInjection("the delivery page")
	step("redeliver",
		chromedp.Click(chromedp.ID("redeliver")),
		chromedp.Poll[chromedp.Void](`document.getElementById("delivery-state") && document.getElementById("delivery-state").textContent === "succeeded"`,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)),
	)
	assert.Equal(t, "2", eval(`document.getElementById("delivery-attempts").textContent`))
	assert.Equal(t, "2", eval(`String(document.querySelectorAll(".attempt").length)`))
	assert.EqualValues(t, 2, hits.Load())
	noInjection("the delivery page after redelivery")

	// 4. Look the message up by its webhook-id.
	msgID := eval(`document.querySelector("a[href^='messages/']").textContent`)
	step("message lookup",
		chromedp.SendKeys(chromedp.ID("lookup-id"), msgID),
		chromedp.Click(chromedp.CSS(`#lookup button`)),
		chromedp.WaitReady(chromedp.CSS(`a[href^='deliveries/']`)),
	)
	assert.Contains(t, eval(`document.querySelector("h1").textContent`), msgID)

	// 5. The list shows the endpoint, its success rate and last delivery;
	// the catalog shows its markup as text.
	step("back to the list",
		chromedp.Navigate(base),
		chromedp.WaitReady(chromedp.CSS(`#endpoints tr[data-endpoint-id] a`)),
		chromedp.Poll[chromedp.Void](`document.querySelector("#endpoints tr[data-endpoint-id] .badge.succeeded")`, chromedp.WithPollingTimeout(10*time.Second)),
		// The success rate arrives in a request of its own: wait for it too.
		chromedp.Poll[chromedp.Void](`document.querySelector("#endpoints tr[data-endpoint-id]").textContent.includes("% of")`, chromedp.WithPollingTimeout(10*time.Second)),
	)
	row := eval(`document.querySelector("#endpoints tr[data-endpoint-id]").textContent`)
	assert.Contains(t, row, descMarkup)
	assert.Contains(t, row, "50% of 2")
	assert.Contains(t, eval(`document.getElementById("catalog").textContent`), "<i>(markup in a catalog entry)</i>")
	noInjection("the list")

	// 6. Usable on a narrow screen: nothing wider than the viewport.
	step("narrow", chromedp.EmulateViewport(375, 800, chromedp.EmulateMobile), chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("add-endpoint")))
	assert.Equal(t, "true", eval(`String(document.documentElement.scrollWidth <= 376)`), "horizontal overflow on a 375 px screen")
	assert.Equal(t, "URL", eval(`document.querySelector("label[for]").textContent === "" ? "" : document.querySelector("#add-endpoint label").textContent`), "form fields have labels")

	// 7. The screenshot for the README: the endpoint page after the test.
	var shot []byte
	step("screenshot",
		chromedp.EmulateViewport(1200, 1000),
		chromedp.Navigate(base+"endpoints/"+eps[0].ID),
		chromedp.WaitReady(chromedp.CSS(`#deliveries tr[data-delivery-id]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("ep-stats").textContent.startsWith("Last 24 h")`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			var err error
			shot, err = chromedp.FullScreenshot(100)(ctx, tg)
			return err
		}),
	)
	require.True(t, bytes.HasPrefix(shot, []byte("\x89PNG")), "a PNG screenshot")
	require.NoError(t, os.WriteFile(filepath.Join(t.TempDir(), "admin.png"), shot, 0o644))
	if os.Getenv("HOOKLINE_UPDATE_SCREENSHOT") == "1" {
		require.NoError(t, os.WriteFile(filepath.Join("..", "docs", "admin.png"), shot, 0o644))
	}

	assert.Zero(t, dialogs.Load(), "a dialog opened: injected script ran")
	tb.noExceptions()
	_ = strings.TrimSpace
}
