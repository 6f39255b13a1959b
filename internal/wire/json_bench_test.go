package wire

import (
	"strings"
	"testing"
)

// BenchmarkAppendString writes a plain string (the common case, checked
// eight bytes at a time), one with escapes and one with invalid UTF-8.
func BenchmarkAppendString(b *testing.B) {
	for _, test := range []struct{ name, s string }{
		{"plain", "order 7 could not be parsed: unexpected end of JSON input"},
		{"escapes", "field \"total\" is not a number:\n\tgot \"12,5\" at line 3"},
		{"invalid-utf8", "latin-1 bytes caf\xe9 cr\xe8me " + strings.Repeat("x", 40)},
	} {
		dst := make([]byte, 0, 256)
		b.Run(test.name, func(b *testing.B) {
			b.SetBytes(int64(len(test.s)))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendString(dst[:0], test.s)
			}
		})
	}
}
