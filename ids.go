package webhook

import (
	"github.com/google/uuid"
)

// idAlphabet is the TypeID base32 alphabet (Crockford's, lowercase): in ASCII
// order, so IDs of one prefix sort as their UUIDs do.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// idGen makes the IDs hookline generates (message, delivery, attempt,
// endpoint, dispatcher): TypeIDs (github.com/jetify-com/typeid, spec v0.3.0)
// of a UUIDv7 from github.com/google/uuid. An ID is the type prefix, "_", and
// 26 characters encoding the UUID's 128 bits after two zero bits, 5 bits a
// character from the most significant down, in idAlphabet; the first
// character is therefore 0-7. TypeID libraries in other languages parse them
// back to the UUID.
//
// They sort by creation time: a UUIDv7 starts with its Unix millisecond, and
// uuid.NewV7 fills the next 12 bits (rand_a) with a sub-millisecond sequence
// that it keeps increasing across the whole process, so IDs made one after
// the other sort in that order even within one millisecond, whichever
// dispatcher made them. The remaining 62 bits are random (crypto/rand).
//
// idGen holds no state of its own (google/uuid keeps the clock sequence); it
// is the dispatcher's way to ask for IDs.
type idGen struct{}

func newIDGen() *idGen { return &idGen{} }

// newID returns prefix, which ends in the "_" separator (as in "msg_"),
// followed by the TypeID suffix of a new UUIDv7.
func (*idGen) newID(prefix string) string {
	// NewV7 fails only when crypto/rand does, which it never does on the
	// platforms Go supports (crypto/rand.Read does not return errors).
	return typeID(prefix, uuid.Must(uuid.NewV7()))
}

// typeID returns prefix followed by the 26-character TypeID encoding of u.
func typeID(prefix string, u uuid.UUID) string {
	b := make([]byte, 0, len(prefix)+26)
	var hi, lo uint64
	for i := range 8 {
		hi = hi<<8 | uint64(u[i])
		lo = lo<<8 | uint64(u[8+i])
	}
	b = append(b, prefix...)
	// Character i holds bits 125-5i .. 129-5i of the 130-bit number whose two
	// top bits are zero; Go shifts of 64 or more give 0.
	for shift := 125; shift >= 0; shift -= 5 {
		var v uint64
		if shift >= 64 {
			v = hi >> (shift - 64)
		} else {
			v = hi<<(64-shift) | lo>>shift
		}
		b = append(b, idAlphabet[v&31])
	}
	return string(b)
}
