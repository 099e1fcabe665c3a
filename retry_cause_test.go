package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRetryableSeesTheRealError: Retryable gets the client's error itself,
// so errors.Is finds a timeout, and a *StatusError with the response's
// status and headers for an answer.
func TestRetryableSeesTheRealError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		handler   http.HandlerFunc
		retryable func(status int, err error) bool
	}{
		{
			name: "timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			},
			retryable: func(_ int, err error) bool { return !errors.Is(err, context.DeadlineExceeded) },
		},
		{
			name: "status and headers",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Retry", "never")
				w.WriteHeader(http.StatusInternalServerError)
			},
			retryable: func(status int, err error) bool {
				var se *webhook.StatusError
				return !(errors.As(err, &se) && se.Code == status && se.Header.Get("X-Retry") == "never")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				tc.handler(w, r)
			}))
			defer srv.Close()
			d := newDispatcher(t, func(c *webhook.Config) {
				c.AttemptTimeout = 200 * time.Millisecond
				c.Retry.Retryable = tc.retryable
			})
			createEndpoint(t, d.Dispatcher, &webhook.Endpoint{URL: srv.URL})
			msg, err := d.Publish(context.Background(), rewardIssued{}, nil)
			require.NoError(t, err)
			ds := deliveriesOf(t, d.Dispatcher, msg.ID)
			require.Len(t, ds, 1)
			got := waitState(t, d.Dispatcher, ds[0].ID, webhook.StateFailed)
			assert.Equal(t, 1, got.Attempts, "Retryable said no at the first attempt")
			assert.EqualValues(t, 1, hits.Load())
		})
	}
}

func TestStatusErrorText(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "HTTP 503", (&webhook.StatusError{Code: 503}).Error())
}
