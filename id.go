package dlq

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"time"
	"unsafe"
)

// idSource makes UUIDv7 texts. It belongs to one drain goroutine.
//
// The texts are cut from a slab of idsPerSlab, so that an id costs no
// allocation of its own: each text is written once into a part of the slab
// no other id uses, and never changed after; a full slab is left to the
// garbage collector, which frees it when the last entry whose id it holds
// is gone.
type idSource struct {
	rng  *rand.ChaCha8
	slab []byte // the unused tail of the current slab
}

const (
	idLen      = 36
	idsPerSlab = 128 // 4.5 KiB
)

func newIDSource() *idSource {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // crypto/rand.Read never fails on Linux (Go 1.24+ panics instead)
	return &idSource{rng: rand.NewChaCha8(seed)}
}

// next returns a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74
// random bits around the version and variant.
func (s *idSource) next(now time.Time) string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[0:8], uint64(now.UnixMilli())<<16|s.rng.Uint64()&0xffff)
	binary.BigEndian.PutUint64(u[8:16], s.rng.Uint64())
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // variant 10
	if len(s.slab) < idLen {
		s.slab = make([]byte, idLen*idsPerSlab)
	}
	text := s.slab[:idLen:idLen]
	s.slab = s.slab[idLen:]
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			text[j] = '-'
			j++
		}
		text[j], text[j+1] = hexDigits[b>>4], hexDigits[b&0xf]
		j += 2
	}
	// text is never written again (s.slab has moved past it), so the
	// string's bytes cannot change under it.
	return unsafe.String(&text[0], idLen)
}
