package webhook

import (
	"errors"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseTypeID decodes a TypeID the way the TypeID specification (v0.3.0,
// github.com/jetify-com/typeid spec/README.md) says a conforming parser must:
// an optional prefix of at most 63 characters matching
// ^[a-z]([a-z_]*[a-z])?$ and a "_", then exactly 26 characters of the
// lowercase Crockford alphabet, the first one 0-7. It stands in for the
// TypeID libraries of other languages that read hookline's IDs.
func parseTypeID(s string) (prefix string, u uuid.UUID, err error) {
	suffix := s
	if i := strings.LastIndexByte(s, '_'); i >= 0 {
		prefix, suffix = s[:i], s[i+1:]
		if !typeIDPrefix.MatchString(prefix) || len(prefix) > 63 {
			return "", u, errors.New("bad prefix")
		}
	}
	if len(suffix) != 26 || suffix[0] > '7' {
		return "", u, errors.New("bad suffix length or overflow")
	}
	var hi, lo uint64 // the 130-bit value, shifted in 5 bits at a time
	for i := range len(suffix) {
		v := strings.IndexByte(idAlphabet, suffix[i])
		if v < 0 {
			return "", u, errors.New("bad suffix character")
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	for i := range 8 {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	return prefix, u, nil
}

var typeIDPrefix = regexp.MustCompile(`^[a-z]([a-z_]*[a-z])?$`)

// The spec's published vectors (github.com/jetify-com/typeid, spec/valid.yml
// and spec/invalid.yml, "Last updated: 2024-04-10 (for version 0.3.0 of the
// spec)"): the UUID, the prefix and the TypeID they encode to.
var typeIDValid = []struct{ name, prefix, uuid, typeid string }{
	{"nil", "", "00000000-0000-0000-0000-000000000000", "00000000000000000000000000"},
	{"one", "", "00000000-0000-0000-0000-000000000001", "00000000000000000000000001"},
	{"ten", "", "00000000-0000-0000-0000-00000000000a", "0000000000000000000000000a"},
	{"sixteen", "", "00000000-0000-0000-0000-000000000010", "0000000000000000000000000g"},
	{"thirty-two", "", "00000000-0000-0000-0000-000000000020", "00000000000000000000000010"},
	{"max-valid", "", "ffffffff-ffff-ffff-ffff-ffffffffffff", "7zzzzzzzzzzzzzzzzzzzzzzzzz"},
	{"valid-alphabet", "prefix", "0110c853-1d09-52d8-d73e-1194e95b5f19", "prefix_0123456789abcdefghjkmnpqrs"},
	{"valid-uuidv7", "prefix", "01890a5d-ac96-774b-bcce-b302099a8057", "prefix_01h455vb4pex5vsknk084sn02q"},
	{"prefix-underscore", "pre_fix", "00000000-0000-0000-0000-000000000000", "pre_fix_00000000000000000000000000"},
}

// Strings from spec/invalid.yml that a parser must refuse.
var typeIDInvalid = []string{
	"PREFIX_00000000000000000000000000",  // prefix-uppercase
	"12345_00000000000000000000000000",   // prefix-numeric
	"_00000000000000000000000000",        // separator-empty-prefix
	"prefix_1234567890123456789012345",   // suffix-short
	"prefix_123456789012345678901234567", // suffix-long
	"prefix_0123456789ABCDEFGHJKMNPQRS",  // suffix-uppercase
	"prefix_ooooooiiiiiiuuuuuuulllllll",  // suffix-wrong-alphabet
	"prefix_8zzzzzzzzzzzzzzzzzzzzzzzzz",  // suffix-overflow
	"prefix__00000000000000000000000000", // prefix-underscore-end
}

func TestTypeIDSpecVectors(t *testing.T) {
	t.Parallel()
	for _, v := range typeIDValid {
		t.Run(v.name, func(t *testing.T) {
			u := uuid.MustParse(v.uuid)
			sep := ""
			if v.prefix != "" {
				sep = "_"
			}
			assert.Equal(t, v.typeid, typeID(v.prefix+sep, u), "encode")
			prefix, got, err := parseTypeID(v.typeid)
			require.NoError(t, err)
			assert.Equal(t, v.prefix, prefix)
			assert.Equal(t, u, got, "decode")
		})
	}
	for _, s := range typeIDInvalid {
		_, _, err := parseTypeID(s)
		assert.Error(t, err, "%q is not a TypeID", s)
	}
}

func TestNewIDIsTypeIDOfUUIDv7(t *testing.T) {
	t.Parallel()
	g := newIDGen()
	for _, prefix := range []string{"msg", "dlv", "att", "ep", "dsp"} {
		id := g.newID(prefix + "_")
		assert.Len(t, id, len(prefix)+1+26)
		p, u, err := parseTypeID(id)
		require.NoError(t, err, id)
		assert.Equal(t, prefix, p)
		assert.Equal(t, uuid.Version(7), u.Version(), id)
		assert.Equal(t, uuid.RFC4122, u.Variant(), id)
		assert.Equal(t, id, typeID(prefix+"_", u), "round trip")
		assert.True(t, validID(id), "a generated ID passes the check on user-supplied ones")
	}
}

func TestNewIDsSortByCreation(t *testing.T) {
	t.Parallel()
	g := newIDGen()
	ids := make([]string, 10000) // many share a millisecond
	seen := map[string]bool{}
	for i := range ids {
		ids[i] = g.newID("x_")
		assert.Len(t, ids[i], 28)
		assert.False(t, seen[ids[i]], "unique")
		seen[ids[i]] = true
	}
	assert.True(t, sort.StringsAreSorted(ids), "generated IDs sort in creation order")
	// Two generators (two dispatchers in one process) share the order.
	a, b := newIDGen().newID("x_"), newIDGen().newID("x_")
	assert.Less(t, a, b)
}

// BenchmarkNewID is the cost of one generated ID (a publish to n endpoints
// makes n+1 of them).
func BenchmarkNewID(b *testing.B) {
	g := newIDGen()
	b.ReportAllocs()
	for b.Loop() {
		_ = g.newID("dlv_")
	}
}
