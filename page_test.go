package webhook_test

import (
	"testing"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
)

func TestPageLimit(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]int{-1: 100, 0: 100, 1: 1, 100: 100, 1000: 1000, 1001: 1000} {
		assert.Equal(t, want, webhook.PageLimit(n), "PageLimit(%d)", n)
	}
}

func TestPage(t *testing.T) {
	t.Parallel()
	id := func(s string) string { return s }
	for _, tc := range []struct {
		items    []string
		limit    int
		want     []string
		wantNext string
	}{
		{nil, 2, nil, ""},
		{[]string{"a", "b"}, 2, []string{"a", "b"}, ""},
		{[]string{"a", "b", "c"}, 2, []string{"a", "b"}, "b"},
		{[]string{"a"}, 2, []string{"a"}, ""},
	} {
		got, next := webhook.Page(tc.items, tc.limit, id)
		assert.Equal(t, tc.want, got, "items %v limit %d", tc.items, tc.limit)
		assert.Equal(t, tc.wantNext, next, "items %v limit %d", tc.items, tc.limit)
	}
}
