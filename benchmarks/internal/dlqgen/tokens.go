package dlqgen

import (
	"encoding/base64"
	"math/rand/v2"
	"strconv"
)

// The variable parts of error texts, keys and payloads: each appends one
// token drawn from r to dst.

const (
	base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	hexAlphabet    = "0123456789abcdef"
	lowerAlphabet  = "abcdefghijklmnopqrstuvwxyz"
)

// appendBase62 appends n base62 characters: Stripe's ids (ch_3PqX9a2b),
// request ids, API keys.
func appendBase62(dst []byte, r *rand.Rand, n int) []byte {
	for range n {
		dst = append(dst, base62Alphabet[r.IntN(len(base62Alphabet))])
	}
	return dst
}

// appendPrefixed appends prefix_ and 8 to 24 base62 characters: ch_3PqX9a2b,
// ord_1Nv8KqZx4Rt2.
func appendPrefixed(dst []byte, r *rand.Rand, prefix string) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, '_')
	return appendBase62(dst, r, 8+r.IntN(17))
}

func appendHex(dst []byte, r *rand.Rand, n int) []byte {
	for range n {
		dst = append(dst, hexAlphabet[r.IntN(16)])
	}
	return dst
}

// appendUUID4 appends a random (version 4) UUID.
func appendUUID4(dst []byte, r *rand.Rand) []byte {
	hi, lo := r.Uint64()&^(0xf<<12)|4<<12, r.Uint64()&^(3<<62)|2<<62
	return appendUUID(dst, hi, lo)
}

// appendUUID7 appends a UUIDv7 of ms as the library's drain makes one
// (internal/wire IDSource): 48 bits of Unix milliseconds, the version, 74
// random bits around the variant.
func appendUUID7(dst []byte, r *rand.Rand, ms int64) []byte {
	hi := uint64(ms)<<16 | r.Uint64()&0x0fff | 0x7000
	lo := r.Uint64()&^(3<<62) | 2<<62
	return appendUUID(dst, hi, lo)
}

func appendUUID(dst []byte, hi, lo uint64) []byte {
	var b [32]byte
	for i := range 16 {
		b[15-i] = hexAlphabet[hi>>(4*i)&0xf]
		b[31-i] = hexAlphabet[lo>>(4*i)&0xf]
	}
	dst = append(dst, b[0:8]...)
	dst = append(dst, '-')
	dst = append(dst, b[8:12]...)
	dst = append(dst, '-')
	dst = append(dst, b[12:16]...)
	dst = append(dst, '-')
	dst = append(dst, b[16:20]...)
	dst = append(dst, '-')
	return append(dst, b[20:32]...)
}

// appendIP appends a private IPv4 address, 10.x.y.z.
func appendIP(dst []byte, r *rand.Rand) []byte {
	dst = append(dst, "10."...)
	dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
	dst = append(dst, '.')
	return strconv.AppendInt(dst, int64(1+r.IntN(254)), 10)
}

// appendIPPort appends IP:port with an ephemeral or a service port.
func appendIPPort(dst []byte, r *rand.Rand, ports ...int) []byte {
	dst = appendIP(dst, r)
	dst = append(dst, ':')
	port := 32768 + r.IntN(28232)
	if len(ports) > 0 {
		port = ports[r.IntN(len(ports))]
	}
	return strconv.AppendInt(dst, int64(port), 10)
}

var jwtEncoding = base64.RawURLEncoding

// appendJWT appends a JWT-like token: a fixed header, a claims part with a
// subject and an expiry, and 43 characters of signature.
func appendJWT(dst []byte, r *rand.Rand, sub []byte, exp int64) []byte {
	dst = append(dst, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."...) // {"alg":"HS256","typ":"JWT"}
	claims := append([]byte(`{"sub":"`), sub...)
	claims = append(claims, `","exp":`...)
	claims = strconv.AppendInt(claims, exp, 10)
	claims = append(claims, '}')
	dst = jwtEncoding.AppendEncode(dst, claims)
	dst = append(dst, '.')
	var sig [32]byte
	for i := range sig {
		sig[i] = byte(r.Uint32())
	}
	return jwtEncoding.AppendEncode(dst, sig[:])
}

// appendWord appends a lower-case word of n letters.
func appendWord(dst []byte, r *rand.Rand, n int) []byte {
	for range n {
		dst = append(dst, lowerAlphabet[r.IntN(len(lowerAlphabet))])
	}
	return dst
}

// pick returns one of choices.
func pick[T any](r *rand.Rand, choices ...T) T { return choices[r.IntN(len(choices))] }
