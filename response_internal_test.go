package webhook

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestCut(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "short", cut("short", 10))
	assert.Equal(t, "abc…[+3 bytes]", cut("abcdef", 3))
	got := cut(strings.Repeat("é", 10), 5) // 2-byte runes: cut back to a rune boundary
	assert.Equal(t, "éé…[+16 bytes]", got)
	assert.True(t, utf8.ValidString(cut("a\xffb", 10)), "invalid UTF-8 replaced")
}

func TestKeepHeadersBudget(t *testing.T) {
	t.Parallel()
	req := map[string][]string{"Webhook-Signature": {"v1,sig"}}
	for i := range 100 {
		req["X-H"+strings.Repeat("x", i)] = []string{strings.Repeat("v", 500)}
	}
	a := &Attempt{Error: strings.Repeat("e", 5000)}
	keepHeaders(a, req, nil)
	n := len(a.Error)
	for k, v := range a.RequestHeaders {
		n += len(k) + len(v)
	}
	assert.LessOrEqual(t, n, AttemptHeaderLimit)
	assert.Equal(t, "v1,sig", a.RequestHeaders["Webhook-Signature"], "signed headers first")
	assert.Less(t, len(a.RequestHeaders), 101, "the rest dropped once the budget ran out")
}
