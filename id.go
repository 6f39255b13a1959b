package dlq

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"time"
)

// idSource makes UUIDv7 texts. It belongs to one drain goroutine.
type idSource struct {
	rng *rand.ChaCha8
}

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
	var text [36]byte
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			text[j] = '-'
			j++
		}
		text[j], text[j+1] = hexDigits[b>>4], hexDigits[b&0xf]
		j += 2
	}
	return string(text[:])
}
