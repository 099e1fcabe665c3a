package webhooktest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noRedirects never follows a redirect: the tests talk to loopback only.
var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// send posts body to url as message id, signed with secret at ts (unsigned
// when secret is empty), and returns the answer's status and headers.
func send(t *testing.T, url, secret, id string, ts time.Time, body string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set(webhook.HeaderID, id)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(webhook.HeaderEventType, "a.b")
	req.Header.Set(webhook.HeaderAttempt, "2")
	if secret != "" {
		sig, err := webhook.Sign(secret, id, ts, []byte(body))
		require.NoError(t, err)
		req.Header.Set(webhook.HeaderSignature, sig)
	}
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

func TestRecordsAndVerifies(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	r := webhooktest.NewReceiver(t, webhooktest.WithSecret(secret))

	code, _ := send(t, r.URL, secret, "msg_1", time.Now(), `{"a":1}`)
	assert.Equal(t, http.StatusOK, code)
	code, _ = send(t, r.URL, webhook.NewSecret(), "msg_2", time.Now(), `{"a":2}`)
	assert.Equal(t, http.StatusOK, code, "unverified requests are answered by the script")

	got := r.WaitFor(t, 2, 5*time.Second)
	require.Len(t, got, 2)
	assert.Equal(t, "msg_1", got[0].ID)
	assert.Equal(t, "a.b", got[0].EventType)
	assert.Equal(t, 2, got[0].Attempt)
	assert.Equal(t, `{"a":1}`, string(got[0].Body))
	assert.True(t, got[0].Verified)
	assert.NoError(t, got[0].VerifyErr)
	assert.Equal(t, http.StatusOK, got[0].Status)
	assert.False(t, got[1].Verified)
	assert.ErrorIs(t, got[1].VerifyErr, webhook.ErrNoMatchingSignature)
	assert.Equal(t, 2, r.Count())
	assert.Equal(t, 2, r.AckedIDs())
	assert.Equal(t, 1, r.Acked("msg_1"))
}

func TestRejectUnverifiedPublicKeyAndClock(t *testing.T) {
	t.Parallel()
	signKey, pubKey := webhook.NewSigningKey()
	past := time.Now().Add(-time.Hour)
	r := webhooktest.NewReceiver(t, webhooktest.WithSecret(pubKey), webhooktest.WithRejectUnverified(),
		webhooktest.WithClock(func() time.Time { return past }))

	code, _ := send(t, r.URL, signKey, "msg_1", past, `{}`)
	assert.Equal(t, http.StatusOK, code, "v1a verifies with the public key at the receiver's clock")
	code, _ = send(t, r.URL, signKey, "msg_2", time.Now(), `{}`)
	assert.Equal(t, http.StatusUnauthorized, code, "an hour ahead of the receiver's clock")
	code, _ = send(t, r.URL, "", "msg_3", past, `{}`)
	assert.Equal(t, http.StatusUnauthorized, code, "unsigned")

	got := r.WaitFor(t, 3, 5*time.Second)
	assert.True(t, got[0].Verified)
	assert.ErrorIs(t, got[1].VerifyErr, webhook.ErrTimestampTooNew)
	assert.ErrorIs(t, got[2].VerifyErr, webhook.ErrMissingHeaders)
	assert.Equal(t, 1, r.AckedIDs(), "401s are not acknowledgements")
}

func TestScripts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script webhooktest.Script
		ids    []string
		want   []int
	}{
		{"FailFirst counts per message", webhooktest.FailFirst(2, 503), []string{"a", "b", "a", "a", "b", "b"}, []int{503, 503, 503, 200, 503, 200}},
		{"Statuses in order", webhooktest.Statuses(500, 404), []string{"a", "b", "c"}, []int{500, 404, 200}},
		{"Always", webhooktest.Always(410), []string{"a", "a"}, []int{410, 410}},
		{"TooManyRequests", webhooktest.TooManyRequests(1, 2*time.Second), []string{"a", "b", "a"}, []int{429, 429, 200}},
		{"Answers then 200", webhooktest.Answers(webhooktest.Answer{Status: 201}, webhooktest.Answer{Status: 302}), []string{"a", "a", "a"}, []int{201, 302, 200}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := webhooktest.NewReceiver(t, webhooktest.WithScript(tc.script))
			var got []int
			for _, id := range tc.ids {
				code, _ := send(t, r.URL, "", id, time.Now(), `{}`)
				got = append(got, code)
			}
			assert.Equal(t, tc.want, got)
			for i, d := range r.Deliveries() {
				assert.Equal(t, tc.want[i], d.Status, "recorded status %d", i)
			}
		})
	}
}

func TestRetryAfterAnswerAndHeaders(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "2", webhooktest.RetryAfter(429, 1500*time.Millisecond).Header.Get("Retry-After"), "rounded up")
	assert.Equal(t, "0", webhooktest.RetryAfter(503, 0).Header.Get("Retry-After"))
	assert.Equal(t, 503, webhooktest.RetryAfter(503, time.Second).Status)

	r := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.TooManyRequests(1, 30*time.Second)))
	code, h := send(t, r.URL, "", "msg_1", time.Now(), `{}`)
	assert.Equal(t, http.StatusTooManyRequests, code)
	assert.Equal(t, "30", h.Get("Retry-After"))
	code, h = send(t, r.URL, "", "msg_1", time.Now(), `{}`)
	assert.Equal(t, http.StatusOK, code)
	assert.Empty(t, h.Get("Retry-After"))

	r = webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.Answers(
		webhooktest.Answer{Status: 301, Header: http.Header{"Location": {"https://example.invalid/"}}, Body: "moved"})))
	code, h = send(t, r.URL, "", "msg_1", time.Now(), `{}`)
	assert.Equal(t, 301, code)
	assert.Equal(t, "https://example.invalid/", h.Get("Location"))
}

func TestDelayedAnswer(t *testing.T) {
	t.Parallel()
	r := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.Answers(webhooktest.Answer{Delay: 50 * time.Millisecond})))
	start := time.Now()
	code, _ := send(t, r.URL, "", "msg_1", time.Now(), `{}`)
	assert.Equal(t, http.StatusOK, code)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "the answer waits for its delay")
}

func TestWaitHelpers(t *testing.T) {
	t.Parallel()
	r := webhooktest.NewReceiver(t, webhooktest.WithScript(webhooktest.FailFirst(2, 500)))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // requests arrive while the test waits
		defer wg.Done()
		for _, id := range []string{"msg_1", "msg_1", "msg_1", "msg_2"} {
			req, _ := http.NewRequest(http.MethodPost, r.URL, strings.NewReader(`{}`))
			req.Header.Set(webhook.HeaderID, id)
			resp, err := noRedirects.Do(req)
			if assert.NoError(t, err) {
				resp.Body.Close()
			}
		}
	}()
	got := r.WaitForAttempts(t, "msg_1", 3, 5*time.Second)
	assert.Len(t, got, 3)
	assert.Equal(t, []int{500, 500, 200}, []int{got[0].Status, got[1].Status, got[2].Status})
	assert.Len(t, r.WaitForMessage(t, "msg_1", 5*time.Second), 3)
	r.WaitForAcked(t, 1, 5*time.Second)
	wg.Wait()
	assert.Len(t, r.WaitFor(t, 4, time.Second), 4)
	assert.Equal(t, 1, r.Acked("msg_1"))
	assert.Equal(t, 0, r.Acked("msg_2"), "its first request failed")

	// A wait that runs out fails the test with a message saying why.
	for name, wait := range map[string]func(tb testing.TB){
		"WaitFor":         func(tb testing.TB) { r.WaitFor(tb, 5, 20*time.Millisecond) },
		"WaitForAcked":    func(tb testing.TB) { r.WaitForAcked(tb, 2, 20*time.Millisecond) },
		"WaitForMessage":  func(tb testing.TB) { r.WaitForMessage(tb, "msg_2", 20*time.Millisecond) },
		"WaitForAttempts": func(tb testing.TB) { r.WaitForAttempts(tb, "msg_2", 2, 20*time.Millisecond) },
	} {
		ft := &fatalTB{}
		done := make(chan struct{})
		go func() { defer close(done); wait(ft) }()
		<-done
		assert.NotEmpty(t, ft.msg, name)
		assert.Contains(t, ft.msg, "webhooktest:", name)
	}
}

// fatalTB records Fatalf and ends the goroutine like testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartReceiverWithoutTestingTB(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	r := webhooktest.StartReceiver(webhooktest.WithSecret(secret), webhooktest.WithScript(webhooktest.FailFirst(1, 503)))

	// Await returns ctx's error while cond does not hold.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, r.Await(ctx, func() bool { return r.Count() > 0 }), context.DeadlineExceeded)

	// It wakes for requests recorded while it waits.
	done := make(chan error, 1)
	go func() { done <- r.Await(t.Context(), func() bool { return r.Acked("msg_1") == 1 }) }()
	status, _ := send(t, r.URL, secret, "msg_1", time.Now(), `{}`)
	assert.Equal(t, 503, status)
	status, _ = send(t, r.URL, secret, "msg_1", time.Now(), `{}`)
	assert.Equal(t, 200, status)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Await did not return after the acknowledged request")
	}
	ds := r.Deliveries()
	require.Len(t, ds, 2)
	assert.True(t, ds[1].Verified)

	r.Close()
	r.Close() // twice is fine
	_, err := noRedirects.Post(r.URL, "application/json", strings.NewReader(`{}`))
	assert.Error(t, err, "closed: nothing listens")
}
