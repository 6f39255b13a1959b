package wire

import (
	"encoding/base64"
	"encoding/binary"
	"slices"
)

const base64Std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// base64Pairs maps twelve bits to their two base64 characters, the first
// in the low byte, so that a little-endian store writes them in order: a
// read-only table of 8 KiB, built once.
var base64Pairs = func() (t [4096]uint16) {
	for i := range t {
		t[i] = uint16(base64Std[i>>6]) | uint16(base64Std[i&0x3f])<<8
	}
	return t
}()

// base64Word returns the eight base64 characters of the top 48 bits of v,
// the first in the low byte.
func base64Word(v uint64) uint64 {
	t := &base64Pairs
	return uint64(t[v>>52&0xfff]) | uint64(t[v>>40&0xfff])<<16 | uint64(t[v>>28&0xfff])<<32 | uint64(t[v>>16&0xfff])<<48
}

// AppendBase64 appends src in standard base64 with padding, as
// base64.StdEncoding does: 24 input bytes per step (four 8-byte loads, of
// which six bytes each are used), then 6, then 3, then the padded end.
func AppendBase64(dst, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	for len(src) >= 26 && len(out) >= 32 {
		binary.LittleEndian.PutUint64(out[0:], base64Word(binary.BigEndian.Uint64(src[0:])))
		binary.LittleEndian.PutUint64(out[8:], base64Word(binary.BigEndian.Uint64(src[6:])))
		binary.LittleEndian.PutUint64(out[16:], base64Word(binary.BigEndian.Uint64(src[12:])))
		binary.LittleEndian.PutUint64(out[24:], base64Word(binary.BigEndian.Uint64(src[18:])))
		src, out = src[24:], out[32:]
	}
	for len(src) >= 8 && len(out) >= 8 {
		binary.LittleEndian.PutUint64(out, base64Word(binary.BigEndian.Uint64(src)))
		src, out = src[6:], out[8:]
	}
	t := &base64Pairs
	for len(src) >= 3 && len(out) >= 4 {
		v := uint(src[0])<<16 | uint(src[1])<<8 | uint(src[2])
		binary.LittleEndian.PutUint32(out, uint32(t[v>>12])|uint32(t[v&0xfff])<<16)
		src, out = src[3:], out[4:]
	}
	if len(out) >= 4 { // always, when src is left with 1 or 2 bytes
		switch len(src) {
		case 1:
			v := uint(src[0])
			out[0], out[1], out[2], out[3] = base64Std[v>>2], base64Std[v<<4&0x3f], '=', '='
		case 2:
			v := uint(src[0])<<8 | uint(src[1])
			out[0], out[1], out[2], out[3] = base64Std[v>>10], base64Std[v>>4&0x3f], base64Std[v<<2&0x3f], '='
		}
	}
	return dst[:len(dst)+n]
}
