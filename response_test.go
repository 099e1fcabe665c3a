package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keptBytes is what an attempt keeps beside its body: header names and
// values, and its Error.
func keptBytes(a *webhook.Attempt) int {
	n := len(a.Error)
	for _, m := range []map[string]string{a.RequestHeaders, a.ResponseHeaders} {
		for k, v := range m {
			n += len(k) + len(v)
		}
	}
	return n
}

type attemptSeen struct {
	a  *webhook.Attempt
	dl webhook.Delivery
}

// oneAttempt delivers one event to a receiver running h and returns its
// first attempt, as AfterAttempt saw it, and the delivery after it.
func oneAttempt(t *testing.T, h http.HandlerFunc, mod func(*webhook.Config)) attemptSeen {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	seen := make(chan attemptSeen, 4)
	d := newDispatcher(t, func(c *webhook.Config) {
		c.Retry = fastRetry(1)
		c.Hooks.AfterAttempt = func(_ context.Context, dl *webhook.Delivery, a *webhook.Attempt) {
			seen <- attemptSeen{a, *dl}
		}
		if mod != nil {
			mod(c)
		}
	})
	createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: srv.URL})
	_, err := d.Publish(context.Background(), rewardIssued{}, nil)
	require.NoError(t, err)
	select {
	case s := <-seen:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no attempt")
		return attemptSeen{}
	}
}

// TestHostileResponseHeadersBounded: however large a receiver's headers,
// an attempt keeps at most AttemptHeaderLimit bytes of headers and Error,
// and the default client refuses headers past MaxResponseHeaderBytes.
func TestHostileResponseHeadersBounded(t *testing.T) {
	t.Parallel()
	huge := "https://example.com/" + strings.Repeat("a", 1<<20)
	redirect := func(loc string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusFound)
		}
	}
	manyHeaders := func(w http.ResponseWriter, r *http.Request) {
		for i := range 300 {
			w.Header().Set(fmt.Sprintf("X-Filler-%d", i), strings.Repeat("f", 100))
		}
		w.Header().Set("Content-Type", strings.Repeat("c", 20<<10))
		w.WriteHeader(http.StatusInternalServerError)
	}
	plainClient := func(c *webhook.Config) { c.HTTPClient = &http.Client{} } // no header cap of its own (10 MiB)

	for _, tc := range []struct {
		name    string
		h       http.HandlerFunc
		mod     func(*webhook.Config)
		status  int
		errPart string
	}{
		{"1 MiB Location, default client", redirect(huge), nil, 0, "exceeded"},
		{"1 MiB Location, user's client", redirect(huge), plainClient, http.StatusFound, `redirect to "https://example.com/aaa`},
		{"60 KiB Location, default client", redirect(huge[:60<<10]), nil, http.StatusFound, "bytes]"},
		{"300 headers and a 20 KiB one", manyHeaders, nil, http.StatusInternalServerError, "HTTP 500"},
		{"300 headers and a 20 KiB one, user's client", manyHeaders, plainClient, http.StatusInternalServerError, "HTTP 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := oneAttempt(t, tc.h, tc.mod)
			a := s.a
			t.Logf("kept %d bytes of headers and Error (status %d, Error %d bytes)", keptBytes(a), a.StatusCode, len(a.Error))
			assert.Equal(t, tc.status, a.StatusCode)
			assert.LessOrEqual(t, keptBytes(a), webhook.AttemptHeaderLimit)
			assert.Contains(t, a.Error, tc.errPart)
			for k, v := range a.ResponseHeaders {
				assert.LessOrEqual(t, len(v), webhook.AttemptValueLimit+32, k)
			}
			if tc.status == http.StatusFound {
				loc := a.ResponseHeaders["Location"]
				assert.True(t, strings.HasPrefix(loc, "https://example.com/aaaa"), "the Location's start is kept")
				assert.Contains(t, loc, "…[+", "and marked as cut")
			}
			assert.NotEmpty(t, a.RequestHeaders["Webhook-Signature"], "the signed headers are kept first")
		})
	}
}

// TestRetryAfterReadBeforeCut: a Retry-After too long to keep whole still
// schedules the next attempt.
func TestRetryAfterReadBeforeCut(t *testing.T) {
	t.Parallel()
	s := oneAttempt(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", strings.Repeat("0", 4<<10)+"90") // 90 seconds, in 4 KiB
		w.WriteHeader(http.StatusServiceUnavailable)
	}, func(c *webhook.Config) { c.Retry = fastRetry(2) })
	assert.LessOrEqual(t, len(s.a.ResponseHeaders["Retry-After"]), webhook.AttemptValueLimit+32)
	assert.Equal(t, webhook.StatePending, s.dl.State)
	assert.InDelta(t, float64(90*time.Second), float64(s.dl.NextAttemptAt.Sub(s.a.StartedAt)), float64(5*time.Second),
		"Retry-After honoured: next attempt %s after the first", s.dl.NextAttemptAt.Sub(s.a.StartedAt))
}
