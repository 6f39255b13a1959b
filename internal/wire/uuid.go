package wire

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"time"
	"unsafe"
)

// IDSource makes UUIDv7 texts. It is not safe for concurrent use: each
// drain goroutine has its own.
//
// The texts are cut from a slab of idsPerSlab, so that an id costs no
// allocation of its own: each text is written once into a part of the slab
// no other id uses, and never changed after; a full slab is left to the
// garbage collector, which frees it when the last entry whose id it holds
// is gone.
type IDSource struct {
	rng  *rand.ChaCha8
	slab []byte // the unused tail of the current slab
}

const (
	idLen      = 36
	idsPerSlab = 128 // 4.5 KiB
)

// NewIDSource returns an IDSource seeded from crypto/rand.
func NewIDSource() *IDSource {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // crypto/rand.Read never fails on Linux (Go 1.24+ panics instead)
	return &IDSource{rng: rand.NewChaCha8(seed)}
}

// Next returns a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74
// random bits around the version and variant.
func (s *IDSource) Next(now time.Time) string {
	hi := uint64(now.UnixMilli())<<16 | s.rng.Uint64()&0x0fff | 0x7000 // version 7
	lo := s.rng.Uint64()&^(3<<62) | 2<<62                              // variant 10
	if len(s.slab) < idLen {
		s.slab = make([]byte, idLen*idsPerSlab)
	}
	text := s.slab[:idLen:idLen]
	s.slab = s.slab[idLen:]
	// 8-4-4-4-12 hex digits: each hex8 gives eight digits, the first in
	// the low byte.
	mid := hex8(uint32(hi))
	node := hex8(uint32(lo >> 32))
	binary.LittleEndian.PutUint64(text[0:], hex8(uint32(hi>>32)))
	text[8] = '-'
	binary.LittleEndian.PutUint32(text[9:], uint32(mid))
	text[13] = '-'
	binary.LittleEndian.PutUint32(text[14:], uint32(mid>>32))
	text[18] = '-'
	binary.LittleEndian.PutUint32(text[19:], uint32(node))
	text[23] = '-'
	binary.LittleEndian.PutUint32(text[24:], uint32(node>>32))
	binary.LittleEndian.PutUint64(text[28:], hex8(uint32(lo)))
	// text is never written again (s.slab has moved past it), so the
	// string's bytes cannot change under it.
	return unsafe.String(&text[0], idLen)
}

// hex8 returns the eight lowercase hex digits of x, most significant
// first, the first in the low byte: each nibble spread into a byte of its
// own, then turned into '0'-'9' or 'a'-'f' in all eight bytes at once.
func hex8(x uint32) uint64 {
	v := uint64(x)
	v = (v | v<<16) & 0x0000ffff0000ffff
	v = (v | v<<8) & 0x00ff00ff00ff00ff
	v = (v | v<<4) & 0x0f0f0f0f0f0f0f0f // nibble i (from the low end) in byte i
	v = bits.ReverseBytes64(v)
	letters := (v + 0x0606060606060606) >> 4 & 0x0101010101010101 // 1 in each byte >= 10
	return v + 0x3030303030303030 + letters*('a'-'0'-10)
}

// UUIDv7Time returns the Unix milliseconds a UUIDv7 text carries in its
// first 48 bits, and false for any other text: 8-4-4-4-12 hex digits
// (either case), version 7, variant 10.
func UUIDv7Time(s string) (int64, bool) {
	if len(s) != idLen || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' || s[14] != '7' {
		return 0, false
	}
	switch s[19] {
	case '8', '9', 'a', 'b', 'A', 'B':
	default:
		return 0, false
	}
	var ms int64
	for i := range idLen {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		v := hexValue(s[i])
		if v < 0 {
			return 0, false
		}
		if i < 13 {
			ms = ms<<4 | int64(v)
		}
	}
	return ms, true
}

func hexValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
