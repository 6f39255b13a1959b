package dlq

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"
)

// parseEnvelopeFast decodes the common shape of an envelope — compact,
// no \u escapes, no metadata or headers, no null — without
// reflection, for readers that decode millions of lines. It reports false
// whenever the line is anything else, and the caller falls back to
// [ParseEnvelope]; when it reports true, the entry is exactly the one
// ParseEnvelope returns (FuzzParseEnvelopeFast checks that).
func parseEnvelopeFast(data []byte) (Entry, bool) {
	p := fastParser{data: data}
	var e Entry
	var seen uint16
	const required = 1<<fTimestamp | 1<<fService | 1<<fReason | 1<<fAttempts | 1<<fPayload
	if !p.byte('{') {
		return Entry{}, false
	}
	for first := true; ; first = false {
		if p.byte('}') {
			break
		}
		if !first && !p.byte(',') {
			return Entry{}, false
		}
		key, ok := p.str()
		if !ok || !p.byte(':') {
			return Entry{}, false
		}
		f := fastField(key)
		if f < 0 || seen&(1<<f) != 0 {
			return Entry{}, false
		}
		seen |= 1 << f
		switch f {
		case fTimestamp:
			ms, ok := p.int(64)
			if !ok {
				return Entry{}, false
			}
			e.Timestamp = time.UnixMilli(ms).UTC()
		case fAttempts:
			n, ok := p.int(strconv.IntSize)
			if !ok {
				return Entry{}, false
			}
			e.Attempts = int(n)
		case fService, fReason, fError, fDestination, fID:
			s, ok := p.str()
			if !ok {
				return Entry{}, false
			}
			*[...]*string{fService: &e.Service, fReason: &e.Reason, fError: &e.Error, fDestination: &e.Destination, fID: &e.ID}[f] = s
		case fPayload, fKey:
			b, ok := p.base64()
			if !ok {
				return Entry{}, false
			}
			if f == fPayload {
				e.Payload = b
			} else if len(b) > 0 {
				e.Key = b
			}
		case fSource:
			if !p.source(&e.Source) {
				return Entry{}, false
			}
		}
	}
	if p.i != len(p.data) || seen&required != required {
		return Entry{}, false
	}
	return e, true
}

const (
	fTimestamp = iota
	fService
	fReason
	fError
	fAttempts
	fPayload
	fDestination
	fSource
	fID
	fKey
)

func fastField(key string) int {
	switch key {
	case "timestamp":
		return fTimestamp
	case "service":
		return fService
	case "reason":
		return fReason
	case "error":
		return fError
	case "attempts":
		return fAttempts
	case "payload":
		return fPayload
	case "destination":
		return fDestination
	case "source":
		return fSource
	case "id":
		return fID
	case "key":
		return fKey
	default:
		return -1 // metadata, headers, unknown keys: the slow path
	}
}

type fastParser struct {
	data []byte
	i    int
}

func (p *fastParser) byte(c byte) bool {
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

// raw returns the bytes of a string without escapes or control bytes.
func (p *fastParser) raw() ([]byte, bool) {
	if !p.byte('"') {
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

// str reads a string; of the escapes it takes the two-character ones, and
// leaves \u (surrogates, replacement rules) to the slow path.
func (p *fastParser) str() (string, bool) {
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

func (p *fastParser) base64() ([]byte, bool) {
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

// int reads a JSON integer that fits in bits.
func (p *fastParser) int(bits int) (int64, bool) {
	start := p.i
	p.byte('-')
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

func (p *fastParser) source(s *Source) bool {
	if !p.byte('{') {
		return false
	}
	var seen uint8
	for first := true; ; first = false {
		if p.byte('}') {
			return true
		}
		if !first && !p.byte(',') {
			return false
		}
		key, ok := p.str()
		if !ok || !p.byte(':') {
			return false
		}
		switch {
		case key == "topic" && seen&1 == 0:
			seen |= 1
			if s.Topic, ok = p.str(); !ok {
				return false
			}
		case key == "partition" && seen&2 == 0:
			seen |= 2
			v, ok := p.int(32)
			if !ok {
				return false
			}
			s.Partition, s.HasPartition = int32(v), true
		case key == "offset" && seen&4 == 0:
			seen |= 4
			v, ok := p.int(64)
			if !ok {
				return false
			}
			s.Offset, s.HasOffset = v, true
		default:
			return false
		}
	}
}
