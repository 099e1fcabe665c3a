package webhook_test

import (
	"math"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
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
