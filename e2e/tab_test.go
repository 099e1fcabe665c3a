package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tab drives the browser tab of one test: steps and evaluations, each
// bounded in time and failing the test on error, and a watch on uncaught
// exceptions in the page.
type tab struct {
	t             *testing.T
	ctx           context.Context
	exceptions    atomic.Int32
	lastException atomic.Value
}

// newTab watches ctx's tab for uncaught exceptions until ctx ends.
func newTab(t *testing.T, ctx context.Context) *tab {
	tb := &tab{t: t, ctx: ctx}
	go func() {
		for ev, err := range chromedp.Events(ctx, runtime.ExceptionThrown) {
			if err != nil {
				return
			}
			tb.exceptions.Add(1)
			tb.lastException.Store(fmt.Sprint(ev.ExceptionDetails.Text, " ", ev.ExceptionDetails.Exception))
		}
	}()
	return tb
}

// step runs actions within 20 seconds.
func (tb *tab) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	sctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	require.NoError(tb.t, chromedp.Do(sctx, actions...), name)
}

// eval evaluates js in the page within 10 seconds; its value must be a string.
func (tb *tab) eval(js string) string {
	tb.t.Helper()
	sctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[string](js))
	require.NoError(tb.t, err, js)
	return v
}

// noExceptions fails the test if the page threw an uncaught exception.
func (tb *tab) noExceptions() {
	tb.t.Helper()
	assert.Zero(tb.t, tb.exceptions.Load(), "uncaught exception in the page: %v", tb.lastException.Load())
}

// startDispatcher starts d and shuts it down when the test ends.
func startDispatcher(t *testing.T, d *webhook.Dispatcher) {
	t.Helper()
	require.NoError(t, d.Start(context.Background()))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.Shutdown(sctx)
	})
}

// serveAdmin serves the admin handler h under /admin/ on a loopback server
// closed when the test ends, and returns the page's URL.
func serveAdmin(t *testing.T, h http.Handler) string {
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/admin/"
}
