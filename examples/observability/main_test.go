package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The example serves every hookline metric at /metrics while it delivers.
func TestMetricsScrape(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, options{addr: "127.0.0.1:0", rate: 50, out: io.Discard, ready: func(a string) { addr <- a }})
	}()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a + "/metrics"
	case err := <-done:
		t.Fatalf("the example stopped before listening: %v", err)
	}

	want := []string{
		"hookline_messages_published_total",
		"hookline_deliveries_created_total",
		"hookline_attempts_total",
		"hookline_attempt_duration_seconds_bucket",
		"hookline_delivery_latency_seconds_bucket",
		"hookline_deliveries_failed_total",
		"hookline_endpoints_disabled_total",
		"hookline_deliveries_pending",
		"hookline_deliveries_retrying",
		"hookline_deliveries_oldest_due_age_seconds",
	}
	outcomes := []string{"success", "http_5xx", "http_4xx", "connection_error"}
	var body string
	missing := func() []string {
		var m []string
		for _, name := range want {
			if !strings.Contains(body, "\n"+name+"{") && !strings.Contains(body, "\n"+name+" ") {
				m = append(m, name)
			}
		}
		for _, o := range outcomes {
			if !strings.Contains(body, `hookline_attempt_outcome="`+o+`"`) {
				m = append(m, "outcome "+o)
			}
		}
		return m
	}
	assert.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			return false
		}
		body = string(b)
		return len(missing()) == 0
	}, 20*time.Second, 200*time.Millisecond)
	require.Empty(t, missing(), "metrics missing from the scrape")
	assert.NotContains(t, body, "dlv_", "no delivery IDs in the metrics")
	assert.NotContains(t, body, "msg_", "no message IDs in the metrics")
	assert.NotContains(t, body, "127.0.0.1:", "no URLs in the metrics")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the example did not stop")
	}
}

// TestMain fails the run when a goroutine of the example (its dispatcher,
// servers, kept-alive client connections) outlives it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
