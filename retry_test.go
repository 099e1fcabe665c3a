package webhook_test

import (
	"math"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseRetryAfterPastInt64: delay-seconds too large for int64 mean
// "longer than any cap", not a malformed header.
func TestParseRetryAfterPastInt64(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	longest := time.Duration(math.MaxInt64/int64(time.Second)) * time.Second
	for _, v := range []string{"99999999999999999999", "9223372036854775808", " 18446744073709551616 ", "9223372036"} {
		d, ok := webhook.ParseRetryAfter(v, now)
		assert.True(t, ok, v)
		assert.Equal(t, longest, d, v)
	}
}

func TestRetryAfterHonouredAndCapped(t *testing.T) {
	t.Parallel()
	p := webhook.RetryPolicy{MaxAttempts: 5, MaxRetryAfter: time.Hour}
	d, ok := p.Delay(1)
	require.True(t, ok)
	assert.InDelta(t, float64(5*time.Second), float64(d), float64(600*time.Millisecond))
	d, ok = p.Delay(4)
	require.True(t, ok)
	assert.InDelta(t, float64(2*time.Hour), float64(d), float64(13*time.Minute))
	_, ok = p.Delay(5)
	assert.False(t, ok, "MaxAttempts reached")
	_, ok = webhook.RetryPolicy{MaxAttempts: 100}.Delay(10)
	assert.False(t, ok, "the default schedule stops after its nine delays")

	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"120", 120 * time.Second, true},
		{" 0 ", 0, true},
		{"Tue, 01 Jan 2030 00:02:00 GMT", 2 * time.Minute, true},
		{"Mon, 31 Dec 2029 00:00:00 GMT", 0, true},
		{"", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
	} {
		got, ok := webhook.ParseRetryAfter(tc.v, now)
		assert.Equal(t, tc.ok, ok, tc.v)
		assert.Equal(t, tc.want, got, tc.v)
	}
}
