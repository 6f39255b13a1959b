package wire

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"testing"
)

// BenchmarkAppendBase64 against the standard library's encoder, into a
// reused buffer, for a payload of each usual size.
func BenchmarkAppendBase64(b *testing.B) {
	for _, size := range []int{16, 256, 4096} {
		src := make([]byte, size)
		for i := range src {
			src[i] = byte(i * 37)
		}
		dst := make([]byte, 0, base64.StdEncoding.EncodedLen(size))
		b.Run("wire/"+strconv.Itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendBase64(dst[:0], src)
			}
		})
		b.Run("stdlib/"+strconv.Itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				dst = base64.StdEncoding.AppendEncode(dst[:0], src)
			}
		})
	}
}

// BenchmarkValidBase64 checks the base64 text of a 1 KiB payload, as the
// Reader does for each line whose payload it does not decode.
func BenchmarkValidBase64(b *testing.B) {
	text := AppendBase64(nil, bytes.Repeat([]byte{0xf3, 0x07, 0x5a}, 342))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if !ValidBase64(text) {
			b.Fatal("not base64")
		}
	}
}
