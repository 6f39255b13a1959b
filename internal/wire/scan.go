package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// Scanner reads the tokens of compact JSON from the front of a byte slice,
// for a decoder that takes the shapes it knows and leaves everything else
// to encoding/json: each method reads one token and reports false,
// without a reason, when the input is not the token it takes; the Scanner
// is then at no useful place, and the caller gives the input up.
//
// What a method takes, it reads as encoding/json does: a string's escapes
// (\uXXXX too, surrogate pairs joined and a lone surrogate read as U+FFFD),
// an integer's digits, base64 with padding. It refuses what encoding/json
// would read differently or refuse: whitespace between tokens, null, a
// string with a byte that is not UTF-8 (encoding/json replaces it).
type Scanner struct {
	data []byte
	i    int
}

// NewScanner returns a Scanner at the start of data.
func NewScanner(data []byte) Scanner { return Scanner{data: data} }

// Done reports whether every byte has been read.
func (p *Scanner) Done() bool { return p.i == len(p.data) }

// Pos returns how many bytes have been read.
func (p *Scanner) Pos() int { return p.i }

// Byte reads c, and reports whether it was next.
func (p *Scanner) Byte(c byte) bool {
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

// RawText reads a string without escapes or control bytes and returns its
// text between the quotes.
func (p *Scanner) RawText() ([]byte, bool) {
	if !p.Byte('"') {
		return nil, false
	}
	start := p.i
	for p.i+8 <= len(p.data) && plainWord(binary.LittleEndian.Uint64(p.data[p.i:])) {
		p.i += 8
	}
	for ; p.i < len(p.data); p.i++ {
		switch c := p.data[p.i]; {
		case c == '"':
			s := p.data[start:p.i]
			p.i++
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// Span reads a string and returns its text between the quotes as written,
// escapes undecoded, and whether it holds an escape; Unquote decodes it.
// The text is checked: every escape is one JSON allows and every byte
// outside them is UTF-8, so Unquote cannot fail on it.
func (p *Scanner) Span() (text []byte, escaped, ok bool) {
	if !p.Byte('"') {
		return nil, false, false
	}
	start, d := p.i, p.data
	i := start
	for {
		// Eight bytes at a time while none needs a look: no quote,
		// backslash, control or non-ASCII byte.
		for i+8 <= len(d) && plainWord(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		if i >= len(d) {
			return nil, false, false
		}
		switch c := d[i]; {
		case c == '"':
			p.i = i + 1
			return d[start:i], escaped, true
		case c == '\\':
			n := escapeLen(d[i:])
			if n == 0 {
				return nil, false, false
			}
			escaped = true
			i += n
		case c < 0x20:
			return nil, false, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, false
			}
			i += size
		}
	}
}

// escapeLen returns the length of the escape at the start of s (a
// backslash, then a character JSON allows after one, or u and four hex
// digits), 0 when there is none.
func escapeLen(s []byte) int {
	if len(s) < 2 {
		return 0
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if hex4(s[1:]) >= 0 {
			return 6
		}
	}
	return 0
}

// hex4 returns the value of the four hex digits after the u that starts
// s, or -1.
func hex4(s []byte) rune {
	if len(s) < 5 || s[0] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[1:5] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// Unquote appends the decoded value of a string's text that Span
// returned with escaped true, as encoding/json decodes it.
func Unquote(dst, text []byte) []byte {
	for i := 0; i < len(text); {
		c := text[i]
		if c != '\\' {
			j := i + 1
			for j < len(text) && text[j] != '\\' {
				j++
			}
			dst = append(dst, text[i:j]...)
			i = j
			continue
		}
		switch e := text[i+1]; e {
		case 'u':
			r := hex4(text[i+1:])
			i += 6
			if utf16.IsSurrogate(r) {
				// A pair when the next escape is its other half; else
				// U+FFFD, and the next escape is read on its own.
				if i+1 < len(text) && text[i] == '\\' {
					if dec := utf16.DecodeRune(r, hex4(text[i+1:])); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		default: // " \ /
			dst = append(dst, e)
		}
		i += 2
	}
	return dst
}

// Str reads a string and returns its value.
func (p *Scanner) Str() (string, bool) {
	text, escaped, ok := p.Span()
	if !ok {
		return "", false
	}
	if !escaped {
		return string(text), true
	}
	return string(Unquote(make([]byte, 0, len(text)), text)), true
}

// Base64Text reads a string of standard base64 with padding, without
// escapes, and returns its text, checked as base64.StdEncoding decodes:
// decoding it cannot fail.
func (p *Scanner) Base64Text() ([]byte, bool) {
	s, ok := p.RawText()
	if !ok || !ValidBase64(s) {
		return nil, false
	}
	return s, true
}

// Base64 reads a string of standard base64 with padding, without escapes,
// and returns the bytes it encodes (empty, not nil, for "").
func (p *Scanner) Base64() ([]byte, bool) {
	s, ok := p.RawText()
	if !ok {
		return nil, false
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, s)
	if err != nil {
		return nil, false
	}
	return b[:n], true
}

// Int reads a JSON integer that fits in bits.
func (p *Scanner) Int(bits int) (int64, bool) {
	d := p.data
	neg := p.Byte('-')
	start := p.i
	var u uint64
	for p.i < len(d) && d[p.i] >= '0' && d[p.i] <= '9' {
		if p.i-start >= 19 { // more digits than any int64 has
			return 0, false
		}
		u = u*10 + uint64(d[p.i]-'0')
		p.i++
	}
	n := p.i - start
	if n == 0 || n > 1 && d[start] == '0' {
		return 0, false // no digits, or a leading zero JSON forbids
	}
	limit := uint64(1) << (bits - 1) // |min|; max is one less
	if !neg && u >= limit || neg && u > limit {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// ValidBase64 reports whether base64.StdEncoding decodes s without error,
// for s without CR or LF (which it skips): whole quanta of four, at most
// two '=' and only at the end, every other byte in the alphabet.
func ValidBase64(s []byte) bool {
	if len(s)%4 != 0 {
		return false
	}
	n := len(s)
	if n > 0 && s[n-1] == '=' {
		n--
		if s[n-1] == '=' {
			n--
		}
	}
	// Eight lookups a step, or-ed together: no branch until the end.
	t := &notBase64
	var bad byte
	s = s[:n]
	for len(s) >= 8 {
		bad |= t[s[0]] | t[s[1]] | t[s[2]] | t[s[3]] | t[s[4]] | t[s[5]] | t[s[6]] | t[s[7]]
		s = s[8:]
	}
	for _, c := range s {
		bad |= t[c]
	}
	return bad == 0
}

// notBase64 is 1 for each byte outside the standard base64 alphabet.
var notBase64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 1
	}
	for i := range len(base64Std) {
		t[base64Std[i]] = 0
	}
	return t
}()

// Base64Span reads a string meant to hold base64 and returns its text up
// to the next quote, unchecked: the caller checks it with ValidBase64 and
// gives the input up when it is not (a string with an escape never is).
func (p *Scanner) Base64Span() ([]byte, bool) {
	if !p.Byte('"') {
		return nil, false
	}
	end := bytes.IndexByte(p.data[p.i:], '"')
	if end < 0 {
		return nil, false
	}
	s := p.data[p.i : p.i+end]
	p.i += end + 1
	return s, true
}

// AppendDecodedBase64 appends the bytes a text ValidBase64 checked
// encodes.
func AppendDecodedBase64(dst, text []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, base64.StdEncoding.DecodedLen(len(text)))
	m, _ := base64.StdEncoding.Decode(dst[n:n+base64.StdEncoding.DecodedLen(len(text))], text)
	return dst[:n+m]
}

// DecodeBase64 returns the bytes a text checked by Base64Text encodes
// (empty, not nil, for "").
func DecodeBase64(text []byte) []byte {
	b := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, _ := base64.StdEncoding.Decode(b, text)
	return b[:n]
}
