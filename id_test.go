package webhook

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNewUUIDSortsByCreation(t *testing.T) {
	t.Parallel()
	g := newIDGen()
	ids := make([]string, 10000)
	seen := map[string]bool{}
	for i := range ids {
		ids[i] = g.newID("x_")
		assert.Len(t, ids[i], 28)
		assert.False(t, seen[ids[i]], "unique")
		seen[ids[i]] = true
	}
	assert.True(t, sort.StringsAreSorted(ids), "generated IDs sort in creation order")
}
