package dlq

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dlqkit/dlq/internal/wire"
)

// AppendEnvelope appends the wire envelope of e, one JSON object without a
// trailing newline, to dst and returns the extended buffer. The same bytes are
// the NDJSON line in files, the Kafka message value, the HTTP body line and
// the Redis stream field "data".
//
// It allocates only when dst must grow. Strings that are not valid UTF-8 have
// each bad byte replaced by U+FFFD, as encoding/json does; the payload is
// base64 and so kept exactly.
func AppendEnvelope(dst []byte, e *Entry) []byte {
	dst = append(dst, `{"timestamp":`...)
	dst = strconv.AppendInt(dst, e.Timestamp.UnixMilli(), 10)
	dst = append(dst, `,"service":`...)
	dst = wire.AppendString(dst, e.Service)
	dst = append(dst, `,"reason":`...)
	dst = wire.AppendString(dst, e.Reason)
	dst = append(dst, `,"attempts":`...)
	dst = strconv.AppendInt(dst, int64(e.Attempts), 10)
	dst = append(dst, `,"payload":"`...)
	dst = wire.AppendBase64(dst, e.Payload)
	dst = append(dst, '"')
	if e.Destination != "" {
		dst = append(dst, `,"destination":`...)
		dst = wire.AppendString(dst, e.Destination)
	}
	if !e.Source.IsZero() {
		dst = appendSource(dst, &e.Source)
	}
	if e.Error != "" {
		dst = append(dst, `,"error":`...)
		dst = wire.AppendString(dst, e.Error)
	}
	if len(e.Metadata) > 0 {
		dst = appendMetadata(dst, e.Metadata)
	}
	if e.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = wire.AppendString(dst, e.ID)
	}
	dst = appendOriginal(dst, e)
	return append(dst, '}')
}

// appendOriginal appends the extensions that keep the original message
// whole, each omitted when empty: "key" (standard base64) and "headers"
// ([{"key":"k","value":"<base64>"}], in order).
func appendOriginal(dst []byte, e *Entry) []byte {
	if len(e.Key) > 0 {
		dst = append(dst, `,"key":"`...)
		dst = wire.AppendBase64(dst, e.Key)
		dst = append(dst, '"')
	}
	if len(e.Headers) > 0 {
		dst = append(dst, `,"headers":[`...)
		for i := range e.Headers {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"key":`...)
			dst = wire.AppendString(dst, e.Headers[i].Key)
			dst = append(dst, `,"value":"`...)
			dst = wire.AppendBase64(dst, e.Headers[i].Value)
			dst = append(dst, `"}`...)
		}
		dst = append(dst, ']')
	}
	return dst
}

func appendSource(dst []byte, s *Source) []byte {
	dst = append(dst, `,"source":{`...)
	sep := false
	if s.Topic != "" {
		dst = append(dst, `"topic":`...)
		dst = wire.AppendString(dst, s.Topic)
		sep = true
	}
	if s.HasPartition {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"partition":`...)
		dst = strconv.AppendInt(dst, int64(s.Partition), 10)
		sep = true
	}
	if s.HasOffset {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"offset":`...)
		dst = strconv.AppendInt(dst, s.Offset, 10)
	}
	return append(dst, '}')
}

// appendMetadata writes the pairs sorted by key, so equal entries encode to
// equal bytes. Metadata is rare and off the hot path; sorting allocates.
//
// A key that is not valid UTF-8 is written with U+FFFD for each invalid
// byte, so two keys can come out the same ("\xff" and "\xfe"). No pair is
// dropped and no JSON key repeats: in byte order of the original keys, a
// key whose written form is taken gets " (2)", " (3)", ... appended, the
// first free one.
func appendMetadata(dst []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	sanitized := false
	for k := range m {
		keys = append(keys, k)
		sanitized = sanitized || !utf8.ValidString(k)
	}
	slices.Sort(keys)
	var names map[string]string // original key -> name written, when one was sanitized
	if sanitized {
		names = metadataNames(keys)
	}
	dst = append(dst, `,"metadata":{`...)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		if name, ok := names[k]; ok {
			dst = wire.AppendString(dst, name)
		} else {
			dst = wire.AppendString(dst, k)
		}
		dst = append(dst, ':')
		dst = wire.AppendString(dst, m[k])
	}
	return append(dst, '}')
}

// metadataNames gives each of the sorted keys a distinct name, valid
// UTF-8: the key with each invalid byte replaced by U+FFFD, and a suffix
// when that name is taken.
func metadataNames(keys []string) map[string]string {
	taken := make(map[string]bool, len(keys))
	for _, k := range keys {
		if utf8.ValidString(k) {
			taken[k] = true
		}
	}
	names := map[string]string{}
	for _, k := range keys {
		if utf8.ValidString(k) {
			continue
		}
		var b []byte
		for i := 0; i < len(k); {
			r, size := utf8.DecodeRuneInString(k[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\ufffd"...)
			} else {
				b = append(b, k[i:i+size]...)
			}
			i += size
		}
		name := string(b)
		for n := 2; taken[name]; n++ {
			name = fmt.Sprintf("%s (%d)", b, n)
		}
		taken[name] = true
		names[k] = name
	}
	return names
}

// wireEnvelope is the decoding shape of the envelope. Pointers tell absent
// keys from zero values.
type wireEnvelope struct {
	Timestamp   *int64            `json:"timestamp"`
	Service     *string           `json:"service"`
	Reason      *string           `json:"reason"`
	Error       string            `json:"error"`
	Attempts    *int              `json:"attempts"`
	Payload     *[]byte           `json:"payload"`
	Destination string            `json:"destination"`
	Source      *wireSource       `json:"source"`
	Metadata    map[string]string `json:"metadata"`
	ID          string            `json:"id"`
	Key         []byte            `json:"key"`
	Headers     []wireHeader      `json:"headers"`
}

type wireHeader struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

type wireSource struct {
	Topic     string `json:"topic"`
	Partition *int32 `json:"partition"`
	Offset    *int64 `json:"offset"`
}

// ParseEnvelope decodes one envelope, as written by [AppendEnvelope] or by
// the hyperi-rustlib DLQ writer. Keys may come in any order and unknown keys
// are ignored. Malformed JSON, a wrong type, or a missing timestamp, service,
// reason, attempts or payload is an error wrapping [ErrMalformedEnvelope].
// The timestamp is returned in UTC.
func ParseEnvelope(data []byte) (Entry, error) {
	var w wireEnvelope
	if err := json.Unmarshal(data, &w); err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrMalformedEnvelope, err)
	}
	for _, required := range []struct {
		name    string
		present bool
	}{
		{"timestamp", w.Timestamp != nil},
		{"service", w.Service != nil},
		{"reason", w.Reason != nil},
		{"attempts", w.Attempts != nil},
		{"payload", w.Payload != nil},
	} {
		if !required.present {
			return Entry{}, fmt.Errorf("%w: missing %q", ErrMalformedEnvelope, required.name)
		}
	}
	e := Entry{
		Timestamp:   time.UnixMilli(*w.Timestamp).UTC(),
		Service:     *w.Service,
		Reason:      *w.Reason,
		Error:       w.Error,
		Attempts:    *w.Attempts,
		Payload:     *w.Payload,
		Destination: w.Destination,
		ID:          w.ID,
	}
	if len(w.Metadata) > 0 {
		e.Metadata = w.Metadata
	}
	parseOriginal(&e, &w)
	if s := w.Source; s != nil {
		e.Source.Topic = s.Topic
		if s.Partition != nil {
			e.Source.Partition, e.Source.HasPartition = *s.Partition, true
		}
		if s.Offset != nil {
			e.Source.Offset, e.Source.HasOffset = *s.Offset, true
		}
	}
	return e, nil
}

// parseOriginal moves the original message's key and headers from w into
// e, leaving them nil when empty.
func parseOriginal(e *Entry, w *wireEnvelope) {
	if len(w.Key) > 0 {
		e.Key = w.Key
	}
	if len(w.Headers) > 0 {
		e.Headers = make([]Header, len(w.Headers))
		for i, h := range w.Headers {
			e.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
}

// MarshalJSON returns the wire envelope of e.
func (e Entry) MarshalJSON() ([]byte, error) {
	return AppendEnvelope(nil, &e), nil
}

// UnmarshalJSON decodes a wire envelope into e, as [ParseEnvelope] does.
func (e *Entry) UnmarshalJSON(data []byte) error {
	parsed, err := ParseEnvelope(data)
	if err != nil {
		return err
	}
	*e = parsed
	return nil
}

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
