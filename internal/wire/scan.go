package wire

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"
)

// Scanner reads the tokens of compact JSON from the front of a byte slice,
// for a decoder that takes only the common shape and leaves everything
// else to encoding/json: each method reads one token and reports false,
// without a reason, when the input is not the token it takes; the Scanner
// is then at no useful place, and the caller gives the input up.
type Scanner struct {
	data []byte
	i    int
}

// NewScanner returns a Scanner at the start of data.
func NewScanner(data []byte) Scanner { return Scanner{data: data} }

// Done reports whether every byte has been read.
func (p *Scanner) Done() bool { return p.i == len(p.data) }

// Byte reads c, and reports whether it was next.
func (p *Scanner) Byte(c byte) bool {
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

// raw returns the bytes of a string without escapes or control bytes.
func (p *Scanner) raw() ([]byte, bool) {
	if !p.Byte('"') {
		return nil, false
	}
	start := p.i
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

// Str reads a string of valid UTF-8; of the escapes it takes the
// two-character ones, and leaves \u (surrogates, replacement rules) to the
// slow path.
func (p *Scanner) Str() (string, bool) {
	if p.i >= len(p.data) || p.data[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	var buf []byte // only when the string has escapes
	for j := start; j < len(p.data); j++ {
		c := p.data[j]
		switch {
		case c == '"':
			s := p.data[start:j]
			if buf != nil {
				s = append(buf, s...)
			}
			if !utf8.Valid(s) {
				return "", false
			}
			p.i = j + 1
			return string(s), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if j+1 >= len(p.data) {
				return "", false
			}
			r, ok := unescapes[p.data[j+1]]
			if !ok {
				return "", false
			}
			buf = append(append(buf, p.data[start:j]...), r)
			j++
			start = j + 1
		}
	}
	return "", false
}

var unescapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// Base64 reads a string of standard base64 with padding, without escapes,
// and returns the bytes it encodes (empty, not nil, for "").
func (p *Scanner) Base64() ([]byte, bool) {
	s, ok := p.raw()
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
	start := p.i
	p.Byte('-')
	digits := p.i
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || p.i-digits > 1 && p.data[digits] == '0' {
		return 0, false // no digits, or a leading zero JSON forbids
	}
	v, err := strconv.ParseInt(string(p.data[start:p.i]), 10, bits)
	return v, err == nil
}
