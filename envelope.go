package dlq

import (
	"encoding/base64"
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

// The fast path. Every line the library writes (and the Rust writer's)
// is read without reflection, in two steps: scanEnvelope walks the whole
// line and notes where each field lies, checking everything but the
// payload's base64, without allocating; then the Reader's filter looks at
// the fields as they are written, and only a line it selects is decoded
// into an Entry (its payload only when asked). A line the walk does not
// take (whitespace, null, unknown or repeated keys, a key in another case,
// base64 with escapes, a string that is not UTF-8) goes to ParseEnvelope,
// which has the last word: when the fast path takes a line, its Entry is
// exactly the one ParseEnvelope returns (FuzzParseEnvelopeFast,
// FuzzEnvelopeFields).

// envelopeFields is where the fields of one line lie, as scanEnvelope
// found them: slices of the line. One is reused line after line (reset),
// so that its slices grow once.
type envelopeFields struct {
	seen      uint16
	timestamp int64
	attempts  int64
	str       [5]fieldText // service, reason, error, destination, id: by strField
	payload   []byte       // base64 text, not checked yet: ValidBase64 decides
	key       []byte       // base64 text, checked
	source    Source       // its Topic is in topic
	topic     fieldText
	pairs     []fieldText  // metadata: key, value, key, value, ...
	headers   []headerText // checked
	binary    int          // bytes the key and the header values decode to, at most
}

// headerText is one header as scanEnvelope found it.
type headerText struct {
	key      fieldText
	value    []byte // base64 text, checked
	hasValue bool
}

// reset empties w for the next line, keeping its slices' room.
func (w *envelopeFields) reset() {
	pairs, headers := w.pairs[:0], w.headers[:0]
	*w = envelopeFields{pairs: pairs, headers: headers}
}

// fieldText is a string field's text between its quotes, escapes undecoded.
type fieldText struct {
	text    []byte
	escaped bool
}

// bytes returns the string's value: its text when it has no escape, else
// decoded into *scratch.
func (t fieldText) bytes(scratch *[]byte) []byte {
	if !t.escaped {
		return t.text
	}
	*scratch = wire.Unquote((*scratch)[:0], t.text)
	return *scratch
}

func (t fieldText) String() string {
	if !t.escaped {
		return string(t.text)
	}
	return string(wire.Unquote(make([]byte, 0, len(t.text)), t.text))
}

const (
	fTimestamp = iota
	fService
	fReason
	fError
	fDestination
	fID
	fAttempts
	fPayload
	fSource
	fKey
	fMetadata
	fHeaders
)

// strField is the index in envelopeFields.str of a string field.
func strField(f int) int { return f - fService }

const requiredFields = 1<<fTimestamp | 1<<fService | 1<<fReason | 1<<fAttempts | 1<<fPayload

func fieldOf(key []byte) int {
	switch string(key) {
	case "timestamp":
		return fTimestamp
	case "service":
		return fService
	case "reason":
		return fReason
	case "error":
		return fError
	case "destination":
		return fDestination
	case "id":
		return fID
	case "attempts":
		return fAttempts
	case "payload":
		return fPayload
	case "source":
		return fSource
	case "key":
		return fKey
	case "metadata":
		return fMetadata
	case "headers":
		return fHeaders
	default:
		return -1 // unknown keys, or known ones in another case: the slow path
	}
}

// scanEnvelope walks one line and fills w. It reports false when the line
// is not one the fast path takes; ParseEnvelope then decides.
func scanEnvelope(data []byte, w *envelopeFields) bool {
	p := wire.NewScanner(data)
	if !p.Byte('{') {
		return false
	}
	for first := true; ; first = false {
		if p.Byte('}') {
			break
		}
		if !first && !p.Byte(',') {
			return false
		}
		key, escaped, ok := p.Span()
		if !ok || escaped || !p.Byte(':') {
			return false
		}
		f := fieldOf(key)
		if f < 0 || w.seen&(1<<f) != 0 {
			return false
		}
		w.seen |= 1 << f
		switch f {
		case fTimestamp:
			w.timestamp, ok = p.Int(64)
		case fAttempts:
			w.attempts, ok = p.Int(strconv.IntSize)
		case fService, fReason, fError, fDestination, fID:
			t := &w.str[strField(f)]
			t.text, t.escaped, ok = p.Span()
		case fPayload:
			w.payload, ok = p.Base64Span()
		case fKey:
			w.key, ok = p.Base64Text()
			w.binary += base64.StdEncoding.DecodedLen(len(w.key))
		case fSource:
			ok = scanSource(&p, w)
		case fMetadata:
			ok = scanMetadata(&p, w)
		case fHeaders:
			ok = scanHeaders(&p, w)
		}
		if !ok {
			return false
		}
	}
	return p.Done() && w.seen&requiredFields == requiredFields
}

// entry decodes the fields into an Entry; the payload only when payload
// is set, and then it must have been checked.
func (w *envelopeFields) entry(payload bool) Entry {
	e := Entry{
		Timestamp:   time.UnixMilli(w.timestamp).UTC(),
		Service:     w.str[strField(fService)].String(),
		Reason:      w.str[strField(fReason)].String(),
		Error:       w.str[strField(fError)].String(),
		Attempts:    int(w.attempts),
		Destination: w.str[strField(fDestination)].String(),
		Source:      w.source,
		ID:          w.str[strField(fID)].String(),
	}
	e.Source.Topic = w.topic.String()
	if payload {
		e.Payload = wire.DecodeBase64(w.payload)
	}
	// The key and the header values share one allocation, each capped at
	// its length so that an append to one cannot write over the next.
	block := make([]byte, 0, w.binary)
	decode := func(text []byte) []byte {
		start := len(block)
		block = wire.AppendDecodedBase64(block, text)
		return block[start:len(block):len(block)]
	}
	if len(w.key) > 0 {
		e.Key = decode(w.key)
	}
	if len(w.pairs) > 0 {
		// A key may repeat: the last one wins, as in encoding/json.
		e.Metadata = make(map[string]string, len(w.pairs)/2)
		for i := 0; i < len(w.pairs); i += 2 {
			e.Metadata[w.pairs[i].String()] = w.pairs[i+1].String()
		}
	}
	if len(w.headers) > 0 {
		e.Headers = make([]Header, len(w.headers))
		for i, h := range w.headers {
			e.Headers[i].Key = h.key.String()
			if h.hasValue {
				e.Headers[i].Value = decode(h.value)
			}
		}
	}
	return e
}

// parseEnvelopeFast decodes a line the fast path takes, payload included,
// and reports false for any other; the Entry is then exactly the one
// ParseEnvelope returns.
func parseEnvelopeFast(data []byte) (Entry, bool) {
	var w envelopeFields
	if !scanEnvelope(data, &w) || !wire.ValidBase64(w.payload) {
		return Entry{}, false
	}
	return w.entry(true), true
}

// scanSource reads the source object into w.source and w.topic.
func scanSource(p *wire.Scanner, w *envelopeFields) bool {
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
		key, ok := p.RawText()
		if !ok || !p.Byte(':') {
			return false
		}
		switch {
		case string(key) == "topic" && seen&1 == 0:
			seen |= 1
			if w.topic.text, w.topic.escaped, ok = p.Span(); !ok {
				return false
			}
		case string(key) == "partition" && seen&2 == 0:
			seen |= 2
			v, ok := p.Int(32)
			if !ok {
				return false
			}
			w.source.Partition, w.source.HasPartition = int32(v), true
		case string(key) == "offset" && seen&4 == 0:
			seen |= 4
			v, ok := p.Int(64)
			if !ok {
				return false
			}
			w.source.Offset, w.source.HasOffset = v, true
		default:
			return false
		}
	}
}

// scanMetadata reads the metadata object, string values only, into
// w.pairs.
func scanMetadata(p *wire.Scanner, w *envelopeFields) bool {
	if !p.Byte('{') {
		return false
	}
	for first := true; ; first = false {
		if p.Byte('}') {
			return true
		}
		if !first && !p.Byte(',') {
			return false
		}
		var k, v fieldText
		var ok bool
		if k.text, k.escaped, ok = p.Span(); !ok || !p.Byte(':') {
			return false
		}
		if v.text, v.escaped, ok = p.Span(); !ok {
			return false
		}
		w.pairs = append(w.pairs, k, v)
	}
}

// scanHeaders reads the headers array, [{"key":"k","value":"<base64>"}],
// each member optional and once, into w.headers, each value checked.
func scanHeaders(p *wire.Scanner, w *envelopeFields) bool {
	if !p.Byte('[') {
		return false
	}
	for first := true; ; first = false {
		if p.Byte(']') {
			return true
		}
		if !first && !p.Byte(',') {
			return false
		}
		if !p.Byte('{') {
			return false
		}
		var h headerText
		var seen uint8
		for firstMember := true; ; firstMember = false {
			if p.Byte('}') {
				break
			}
			if !firstMember && !p.Byte(',') {
				return false
			}
			name, ok := p.RawText()
			if !ok || !p.Byte(':') {
				return false
			}
			switch {
			case string(name) == "key" && seen&1 == 0:
				seen |= 1
				h.key.text, h.key.escaped, ok = p.Span()
			case string(name) == "value" && seen&2 == 0:
				seen |= 2
				h.value, ok = p.Base64Text()
				h.hasValue = true
				w.binary += base64.StdEncoding.DecodedLen(len(h.value))
			default:
				return false
			}
			if !ok {
				return false
			}
		}
		w.headers = append(w.headers, h)
	}
}
