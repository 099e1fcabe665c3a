package webhook

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNewUUIDSortsByCreation(t *testing.T) {
	t.Parallel()
	ids := make([]string, 1000)
	seen := map[string]bool{}
	for i := range ids {
		ids[i] = newUUID()
		assert.Len(t, ids[i], 26)
		assert.False(t, seen[ids[i]], "unique")
		seen[ids[i]] = true
	}
	assert.True(t, sort.StringsAreSorted(ids), "generated IDs sort in creation order")
}
