package dlq

import (
	"strconv"
	"time"

	"github.com/dlqkit/dlq/internal/wire"
)

// parseEnvelopeFast decodes the common shape of an envelope — compact,
// no \u escapes, no metadata or headers, no null — without
// reflection, for readers that decode millions of lines. It reports false
// whenever the line is anything else, and the caller falls back to
// [ParseEnvelope]; when it reports true, the entry is exactly the one
// ParseEnvelope returns (FuzzParseEnvelopeFast checks that).
func parseEnvelopeFast(data []byte) (Entry, bool) {
	p := wire.NewScanner(data)
	var e Entry
	var seen uint16
	const required = 1<<fTimestamp | 1<<fService | 1<<fReason | 1<<fAttempts | 1<<fPayload
	if !p.Byte('{') {
		return Entry{}, false
	}
	for first := true; ; first = false {
		if p.Byte('}') {
			break
		}
		if !first && !p.Byte(',') {
			return Entry{}, false
		}
		key, ok := p.Str()
		if !ok || !p.Byte(':') {
			return Entry{}, false
		}
		f := fastField(key)
		if f < 0 || seen&(1<<f) != 0 {
			return Entry{}, false
		}
		seen |= 1 << f
		switch f {
		case fTimestamp:
			ms, ok := p.Int(64)
			if !ok {
				return Entry{}, false
			}
			e.Timestamp = time.UnixMilli(ms).UTC()
		case fAttempts:
			n, ok := p.Int(strconv.IntSize)
			if !ok {
				return Entry{}, false
			}
			e.Attempts = int(n)
		case fService, fReason, fError, fDestination, fID:
			s, ok := p.Str()
			if !ok {
				return Entry{}, false
			}
			*[...]*string{fService: &e.Service, fReason: &e.Reason, fError: &e.Error, fDestination: &e.Destination, fID: &e.ID}[f] = s
		case fPayload, fKey:
			b, ok := p.Base64()
			if !ok {
				return Entry{}, false
			}
			if f == fPayload {
				e.Payload = b
			} else if len(b) > 0 {
				e.Key = b
			}
		case fSource:
			if !scanSource(&p, &e.Source) {
				return Entry{}, false
			}
		}
	}
	if !p.Done() || seen&required != required {
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

// scanSource reads the source object into s.
func scanSource(p *wire.Scanner, s *Source) bool {
	if !p.Byte('{') {
		return false
	}
	var seen uint8
	for first := true; ; first = false {
		if p.Byte('}') {
			return true
		}
		if !first && !p.Byte(',') {
			return false
		}
		key, ok := p.Str()
		if !ok || !p.Byte(':') {
			return false
		}
		switch {
		case key == "topic" && seen&1 == 0:
			seen |= 1
			if s.Topic, ok = p.Str(); !ok {
				return false
			}
		case key == "partition" && seen&2 == 0:
			seen |= 2
			v, ok := p.Int(32)
			if !ok {
				return false
			}
			s.Partition, s.HasPartition = int32(v), true
		case key == "offset" && seen&4 == 0:
			seen |= 4
			v, ok := p.Int(64)
			if !ok {
				return false
			}
			s.Offset, s.HasOffset = v, true
		default:
			return false
		}
	}
}
