package webhook

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"time"
)

// idGen makes the IDs hookline generates: UUIDv7 layout (a 48-bit
// millisecond time, a 12-bit counter that keeps one millisecond's IDs in
// order, 62 random bits) written in 26 characters of lowercase base32hex.
// The alphabet is in ASCII order, so IDs sort by creation time. The random
// bits come from a ChaCha8 stream seeded from crypto/rand once, not from a
// system call per ID.
type idGen struct {
	mu  sync.Mutex
	rng *rand.ChaCha8
	ms  int64
	seq uint16
}

func newIDGen() *idGen {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // crypto/rand.Read never fails on supported platforms
	return &idGen{rng: rand.NewChaCha8(seed)}
}

// uuid returns the next 16 bytes.
func (g *idGen) uuid() [16]byte {
	g.mu.Lock()
	if ms := time.Now().UnixMilli(); ms > g.ms {
		g.ms, g.seq = ms, 0
	} else if g.seq++; g.seq > 0xfff { // 4,096 IDs in one millisecond: borrow the next
		g.ms, g.seq = g.ms+1, 0
	}
	ms, seq, r := g.ms, g.seq, g.rng.Uint64()
	g.mu.Unlock()
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], uint64(ms)<<16|0x7000|uint64(seq))
	binary.BigEndian.PutUint64(u[8:], r>>2|1<<63) // variant 10
	return u
}

// newID returns prefix followed by a new ID.
func (g *idGen) newID(prefix string) string {
	u := g.uuid()
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	var buf [64]byte
	b := append(buf[:0], prefix...)
	b = b[:len(prefix)+26]
	out := b[len(prefix):]
	for i := range out {
		bit := i * 5
		v := uint16(u[bit/8]) << 8
		if bit/8+1 < 16 {
			v |= uint16(u[bit/8+1])
		}
		out[i] = alphabet[(v>>(11-bit%8))&31]
	}
	return string(b)
}
