package wire

import (
	"encoding/binary"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD.
func AppendString(dst []byte, s string) []byte {
	if plainString(s) { // the common case: nothing to escape or replace
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plainWord(binary.LittleEndian.Uint64([]byte(s[i:i+8]))) {
			i += 8 // eight bytes that need no escaping
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plainString reports whether no byte of s needs attention in a JSON
// string, eight bytes at a time; the last eight overlap the ones before
// when len(s) is not a multiple of eight, and a string shorter than eight
// is padded with spaces.
func plainString(s string) bool {
	if len(s) < 8 {
		w := uint64(lsb * ' ')
		for i := range len(s) {
			w = w&^(0xff<<(8*i)) | uint64(s[i])<<(8*i)
		}
		return plainWord(w)
	}
	for i := 0; i+8 <= len(s); i += 8 {
		if !plainWord(binary.LittleEndian.Uint64([]byte(s[i : i+8]))) {
			return false
		}
	}
	return plainWord(binary.LittleEndian.Uint64([]byte(s[len(s)-8:])))
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainWord reports whether none of the eight bytes in w needs attention in
// a JSON string: no control character, quote, backslash or non-ASCII byte.
func plainWord(w uint64) bool {
	return (below(w, 0x20)|hasByte(w, '"')|hasByte(w, '\\')|w)&msb == 0
}

// hasByte sets the high bit of each byte of w equal to c (and maybe of
// bytes above one that is: false alarms only send a word the slow way).
func hasByte(w uint64, c byte) uint64 {
	x := w ^ lsb*uint64(c)
	return (x - lsb) &^ x
}

// below sets the high bit of each byte of w under n (n <= 0x80), with the
// same kind of false alarms.
func below(w uint64, n byte) uint64 { return (w - lsb*uint64(n)) &^ w }
