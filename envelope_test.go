package dlq

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var envelopeTime = time.UnixMilli(1764200000000).UTC()

func encode(e Entry) string { return string(AppendEnvelope(nil, &e)) }

func TestEnvelopeVectors(t *testing.T) {
	for _, test := range []struct {
		name  string
		entry Entry
		want  string
	}{
		{
			name:  "payload base64 with padding",
			entry: Entry{Timestamp: envelopeTime, Service: "test", Reason: "reason", Payload: []byte("hello world")},
			want:  `{"timestamp":1764200000000,"service":"test","reason":"reason","attempts":0,"payload":"aGVsbG8gd29ybGQ="}`,
		},
		{
			name: "the documented example",
			entry: Entry{Timestamp: envelopeTime, Service: "loader", Reason: "parse_error", Attempts: 2,
				Payload: []byte("hello"), Destination: "acme.auth", Source: KafkaSource("events", 1, 42)},
			want: `{"timestamp":1764200000000,"service":"loader","reason":"parse_error","attempts":2,"payload":"aGVsbG8=","destination":"acme.auth","source":{"topic":"events","partition":1,"offset":42}}`,
		},
		{
			name:  "partition 0 and offset 0 are written",
			entry: Entry{Timestamp: envelopeTime, Service: "s", Reason: "r", Source: Source{Partition: 0, HasPartition: true, Offset: 0, HasOffset: true}},
			want:  `{"timestamp":1764200000000,"service":"s","reason":"r","attempts":0,"payload":"","source":{"partition":0,"offset":0}}`,
		},
		{
			name:  "a source with only a topic keeps only the topic",
			entry: Entry{Timestamp: envelopeTime, Service: "s", Reason: "r", Source: Source{Topic: "events"}},
			want:  `{"timestamp":1764200000000,"service":"s","reason":"r","attempts":0,"payload":"","source":{"topic":"events"}}`,
		},
		{
			name:  "a source with only an offset keeps only the offset",
			entry: Entry{Timestamp: envelopeTime, Service: "s", Reason: "r", Source: Source{Offset: 7, HasOffset: true}},
			want:  `{"timestamp":1764200000000,"service":"s","reason":"r","attempts":0,"payload":"","source":{"offset":7}}`,
		},
		{
			name: "extensions",
			entry: Entry{Timestamp: envelopeTime, Service: "s", Reason: "r", Error: "boom", ID: "0192-x",
				Metadata: map[string]string{"b": "2", "a": "1"}},
			want: `{"timestamp":1764200000000,"service":"s","reason":"r","attempts":0,"payload":"","error":"boom","metadata":{"a":"1","b":"2"},"id":"0192-x"}`,
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			got := encode(test.entry)
			assert.Equal(t, test.want, got)
			assert.True(t, json.Valid([]byte(got)))
			back, err := ParseEnvelope([]byte(got))
			require.NoError(t, err)
			assertSameEntry(t, test.entry, back)
		})
	}
}

func TestEnvelopeBinaryPayloadRoundTrips(t *testing.T) {
	e := Entry{Timestamp: envelopeTime, Service: "s", Reason: "r", Payload: []byte{0x00, 0x01, 0x02, 0xff}}
	got := encode(e)
	assert.Contains(t, got, `"payload":"AAEC/w=="`)
	back, err := ParseEnvelope([]byte(got))
	require.NoError(t, err)
	assert.Equal(t, []byte{0x00, 0x01, 0x02, 0xff}, back.Payload)
}

func TestEnvelopeEscapesWhatJSONForbids(t *testing.T) {
	reason := "bad \xff\xfe utf8 \x00\x01\x1f ctrl \"quote\" back\\slash\n\t\r ünï 😀 \u2028"
	got := encode(Entry{Timestamp: envelopeTime, Service: "s\x7f", Reason: reason, Error: "\xc3"})
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(got), &m), got)
	// Each invalid byte becomes U+FFFD, as encoding/json does.
	assert.Equal(t, strings.Replace(reason, "\xff\xfe", "\ufffd\ufffd", 1), m["reason"])
	assert.Equal(t, "\ufffd", m["error"])
	assert.Equal(t, "s\x7f", m["service"])
}

func TestEnvelopeMatchesEncodingJSON(t *testing.T) {
	// encoding/json, given the same fields, must agree byte for byte.
	e := Entry{Timestamp: envelopeTime, Service: "loader", Reason: "tab\tquote\"nul\x00", Attempts: 3,
		Payload: []byte("payload"), Destination: "acme.auth", Source: KafkaSource("events", 3, 12345)}
	want, err := json.Marshal(struct {
		Timestamp   int64  `json:"timestamp"`
		Service     string `json:"service"`
		Reason      string `json:"reason"`
		Attempts    int    `json:"attempts"`
		Payload     []byte `json:"payload"`
		Destination string `json:"destination"`
		Source      struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
		} `json:"source"`
	}{1764200000000, "loader", "tab\tquote\"nul\x00", 3, []byte("payload"), "acme.auth", struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	}{"events", 3, 12345}})
	require.NoError(t, err)
	assert.Equal(t, string(want), encode(e))
}

func TestParseEnvelopeReadsRustWriterOutput(t *testing.T) {
	f, err := os.Open("testdata/rust-envelopes.ndjson")
	require.NoError(t, err)
	defer f.Close()
	var got []Entry
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		e, err := ParseEnvelope(scanner.Bytes())
		require.NoError(t, err, scanner.Text())
		got = append(got, e)
		// Re-encoding gives the Rust writer's bytes: same fields, same order.
		assert.Equal(t, scanner.Text(), encode(e))
	}
	require.NoError(t, scanner.Err())
	require.Len(t, got, 7)
	assert.Equal(t, Entry{Timestamp: time.UnixMilli(1764200000001).UTC(), Service: "receiver", Reason: "parse_error",
		Attempts: 2, Payload: []byte("bad json"), Destination: "acme.auth", Source: KafkaSource("events", 3, 12345)}, got[1])
	assert.Equal(t, []byte{0, 1, 2, 0xff}, got[2].Payload)
	assert.Equal(t, "bad \"quote\"\n\ttab ünï 😀 back\\slash", got[4].Reason)
	assert.Equal(t, Source{Topic: "events"}, got[5].Source)
	assert.Equal(t, Source{Offset: 0, HasOffset: true}, got[6].Source)
}

func TestParseEnvelopeAcceptsAnyKeyOrderAndUnknownKeys(t *testing.T) {
	e, err := ParseEnvelope([]byte(`{"future":{"x":[1,2]},"payload":"eA==","attempts":1,"reason":"r","service":"s","timestamp":5,"id":"abc"}`))
	require.NoError(t, err)
	assert.Equal(t, Entry{Timestamp: time.UnixMilli(5).UTC(), Service: "s", Reason: "r", Attempts: 1, Payload: []byte("x"), ID: "abc"}, e)
}

func TestParseEnvelopeRejectsMalformedInput(t *testing.T) {
	for _, test := range []struct{ name, input string }{
		{"empty", ``},
		{"not json", `hello`},
		{"truncated", `{"timestamp":1,"service":"s"`},
		{"array", `[]`},
		{"missing payload", `{"timestamp":1,"service":"s","reason":"r","attempts":0}`},
		{"missing timestamp", `{"service":"s","reason":"r","attempts":0,"payload":""}`},
		{"bad base64", `{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"!!"}`},
		{"wrong type", `{"timestamp":"now","service":"s","reason":"r","attempts":0,"payload":""}`},
		{"partition overflow", `{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"","source":{"partition":4294967296}}`},
	} {
		t.Run(test.name, func(t *testing.T) {
			_, err := ParseEnvelope([]byte(test.input))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformedEnvelope)
		})
	}
}

func TestEntryImplementsJSONMarshalers(t *testing.T) {
	in := []Entry{{Timestamp: envelopeTime, Service: "s", Reason: "r", Payload: []byte("p")}}
	data, err := json.Marshal(in)
	require.NoError(t, err)
	var out []Entry
	require.NoError(t, json.Unmarshal(data, &out))
	require.Len(t, out, 1)
	assertSameEntry(t, in[0], out[0])
}

// assertSameEntry compares what survives the envelope: time to the
// millisecond, nil and empty alike.
func assertSameEntry(t *testing.T, want, got Entry) {
	t.Helper()
	assert.True(t, want.Timestamp.Truncate(time.Millisecond).Equal(got.Timestamp), "timestamp %v != %v", want.Timestamp, got.Timestamp)
	want.Timestamp, got.Timestamp = time.Time{}, time.Time{}
	if len(want.Payload) == 0 && len(got.Payload) == 0 {
		want.Payload, got.Payload = nil, nil
	}
	if len(want.Metadata) == 0 {
		want.Metadata = nil
	}
	want.Key, got.Key = emptyAsNil(want.Key), emptyAsNil(got.Key)
	want.Headers, got.Headers = sameHeaders(want.Headers), sameHeaders(got.Headers)
	assert.Equal(t, want, got)
}

func FuzzParseEnvelope(f *testing.F) {
	data, err := os.ReadFile("testdata/rust-envelopes.ndjson")
	require.NoError(f, err)
	for _, line := range bytes.Split(data, []byte("\n")) {
		f.Add(line)
	}
	f.Add([]byte(`{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"","metadata":{"k":"v"},"error":"e","id":"i"}`))
	f.Fuzz(func(t *testing.T, input []byte) {
		e, err := ParseEnvelope(input)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to JSON that parses to the same entry.
		again, err := ParseEnvelope(AppendEnvelope(nil, &e))
		require.NoError(t, err)
		if utf8Clean(e) {
			assertSameEntry(t, e, again)
		}
	})
}

func FuzzEnvelopeRoundTrip(f *testing.F) {
	f.Add(int64(1764200000000), "svc", "parse_error", "boom", 2, []byte("hello"), "acme.auth", "events", int32(1), int64(42), uint8(3), "k", "v", "id")
	f.Add(int64(-1), "", "\x00\xff", "", -5, []byte{}, "", "", int32(0), int64(0), uint8(0), "", "", "")
	f.Fuzz(func(t *testing.T, ms int64, service, reason, errText string, attempts int, payload []byte,
		dest, topic string, partition int32, offset int64, flags uint8, key, value, id string) {
		if ms < -1<<50 || ms > 1<<50 {
			return // beyond time.Time's millisecond range
		}
		e := Entry{Timestamp: time.UnixMilli(ms), Service: service, Reason: reason, Error: errText,
			Attempts: attempts, Payload: payload, Destination: dest, ID: id,
			Source: Source{Topic: topic, Partition: partition, Offset: offset, HasPartition: flags&1 != 0, HasOffset: flags&2 != 0}}
		if !e.Source.HasPartition {
			e.Source.Partition = 0
		}
		if !e.Source.HasOffset {
			e.Source.Offset = 0
		}
		if flags&4 != 0 {
			e.Metadata = map[string]string{key: value}
		}
		line := AppendEnvelope(nil, &e)
		require.True(t, json.Valid(line), "%s", line)
		var generic map[string]any
		require.NoError(t, json.Unmarshal(line, &generic))
		back, err := ParseEnvelope(line)
		require.NoError(t, err, "%s", line)
		if utf8Clean(e) {
			assertSameEntry(t, e, back)
		}
	})
}

// utf8Clean reports whether every string of e is valid UTF-8: only then is
// the round trip exact (invalid bytes become U+FFFD, as in encoding/json).
func utf8Clean(e Entry) bool {
	for _, s := range []string{e.Service, e.Reason, e.Error, e.Destination, e.Source.Topic, e.ID} {
		if !utf8.ValidString(s) {
			return false
		}
	}
	for k, v := range e.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	for _, h := range e.Headers {
		if !utf8.ValidString(h.Key) {
			return false
		}
	}
	return true
}

func emptyAsNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// sameHeaders returns a copy of hs with empty values nil and no headers nil,
// as they survive the envelope.
func sameHeaders(hs []Header) []Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]Header, len(hs))
	for i, h := range hs {
		out[i] = Header{Key: h.Key, Value: emptyAsNil(h.Value)}
	}
	return out
}

func TestEnvelopeKeyAndHeaders(t *testing.T) {
	for _, test := range []struct {
		name  string
		entry Entry
		want  string
	}{
		{
			name:  "key in standard base64",
			entry: Entry{Timestamp: envelopeTime, Service: "s", Reason: "r", Key: []byte{0xff, 0x00, 'k'}},
			want:  `{"timestamp":1764200000000,"service":"s","reason":"r","attempts":0,"payload":"","key":"/wBr"}`,
		},
		{
			name: "headers in order, repeated keys kept",
			entry: Entry{Timestamp: envelopeTime, Service: "s", Reason: "r", Headers: []Header{
				{Key: "z", Value: []byte("1")}, {Key: "a\"b", Value: []byte{0, 0xff}}, {Key: "z", Value: []byte("2")}}},
			want: `{"timestamp":1764200000000,"service":"s","reason":"r","attempts":0,"payload":"","headers":[{"key":"z","value":"MQ=="},{"key":"a\"b","value":"AP8="},{"key":"z","value":"Mg=="}]}`,
		},
		{
			name:  "empty key and headers are omitted",
			entry: Entry{Timestamp: envelopeTime, Service: "s", Reason: "r", Key: []byte{}, Headers: []Header{}},
			want:  `{"timestamp":1764200000000,"service":"s","reason":"r","attempts":0,"payload":""}`,
		},
		{
			name:  "a header with an empty value is kept",
			entry: Entry{Timestamp: envelopeTime, Service: "s", Reason: "r", Headers: []Header{{Key: "h"}}},
			want:  `{"timestamp":1764200000000,"service":"s","reason":"r","attempts":0,"payload":"","headers":[{"key":"h","value":""}]}`,
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			got := encode(test.entry)
			assert.Equal(t, test.want, got)
			require.True(t, json.Valid([]byte(got)))
			back, err := ParseEnvelope([]byte(got))
			require.NoError(t, err)
			assertSameEntry(t, test.entry, back)
		})
	}
}

func TestParseEnvelopeKeyAndHeaders(t *testing.T) {
	t.Run("any key order inside a header", func(t *testing.T) {
		e, err := ParseEnvelope([]byte(`{"headers":[{"value":"dg==","key":"k","x":1}],"key":"a2V5","timestamp":1,"service":"s","reason":"r","attempts":0,"payload":""}`))
		require.NoError(t, err)
		assert.Equal(t, []byte("key"), e.Key)
		assert.Equal(t, []Header{{Key: "k", Value: []byte("v")}}, e.Headers)
	})
	for _, test := range []struct{ name, input string }{
		{"bad key base64", `{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"","key":"!"}`},
		{"headers not an array", `{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"","headers":{"k":"v"}}`},
		{"header value not base64", `{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"","headers":[{"key":"k","value":"%"}]}`},
		{"header key not a string", `{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"","headers":[{"key":1,"value":""}]}`},
	} {
		t.Run(test.name, func(t *testing.T) {
			_, err := ParseEnvelope([]byte(test.input))
			assert.ErrorIs(t, err, ErrMalformedEnvelope)
		})
	}
}

// TestRustLinesUnchangedByExtensions: the Rust writer's lines have neither
// key nor headers, and still re-encode byte for byte; a Rust-style reader
// (encoding/json into the Rust fields, unknown keys ignored) reads a line
// that has them.
func TestRustLinesUnchangedByExtensions(t *testing.T) {
	f, err := os.Open("testdata/rust-envelopes.ndjson")
	require.NoError(t, err)
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		e, err := ParseEnvelope(scanner.Bytes())
		require.NoError(t, err)
		assert.Nil(t, e.Key)
		assert.Nil(t, e.Headers)
		assert.Equal(t, scanner.Text(), encode(e))

		e.Key, e.Headers = []byte("k"), []Header{{Key: "h", Value: []byte("v")}}
		var rust struct {
			Timestamp int64  `json:"timestamp"`
			Service   string `json:"service"`
			Reason    string `json:"reason"`
			Attempts  int    `json:"attempts"`
			Payload   []byte `json:"payload"`
		}
		dec := json.NewDecoder(bytes.NewReader(AppendEnvelope(nil, &e)))
		require.NoError(t, dec.Decode(&rust))
		assert.Equal(t, e.Payload, rust.Payload)
		assert.Equal(t, e.Reason, rust.Reason)
	}
	require.NoError(t, scanner.Err())
}

func FuzzEnvelopeKeyHeaders(f *testing.F) {
	f.Add([]byte("key"), "h1", []byte("v1"), "h2", []byte{0, 0xff, '\n'}, uint8(3))
	f.Add([]byte{}, "", []byte{}, "\xff", []byte(nil), uint8(1))
	f.Fuzz(func(t *testing.T, key []byte, k1 string, v1 []byte, k2 string, v2 []byte, n uint8) {
		e := Entry{Timestamp: envelopeTime, Service: "s", Reason: "r", Key: key}
		for i := range int(n % 4) {
			if i%2 == 0 {
				e.Headers = append(e.Headers, Header{Key: k1, Value: v1})
			} else {
				e.Headers = append(e.Headers, Header{Key: k2, Value: v2})
			}
		}
		line := AppendEnvelope(nil, &e)
		require.True(t, json.Valid(line), "%s", line)
		back, err := ParseEnvelope(line)
		require.NoError(t, err, "%s", line)
		if utf8.ValidString(k1) && utf8.ValidString(k2) {
			assertSameEntry(t, e, back)
		}
		require.Len(t, back.Headers, len(e.Headers))
		for i := range e.Headers {
			assert.True(t, bytes.Equal(e.Headers[i].Value, back.Headers[i].Value))
		}
		assert.True(t, bytes.Equal(e.Key, back.Key))
	})
}

func FuzzParseEnvelopeKeyHeaders(f *testing.F) {
	f.Add([]byte(`{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"","key":"a2V5","headers":[{"key":"k","value":"dg=="}]}`))
	f.Add([]byte(`{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"","headers":[{"key":"k"},{"value":null},{}]}`))
	f.Add([]byte(`{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"","headers":null,"key":null}`))
	f.Fuzz(func(t *testing.T, input []byte) {
		e, err := ParseEnvelope(input)
		if err != nil {
			return
		}
		again, err := ParseEnvelope(AppendEnvelope(nil, &e))
		require.NoError(t, err)
		if utf8Clean(e) {
			assertSameEntry(t, e, again)
		}
	})
}

func TestParseEnvelopeFast(t *testing.T) {
	t.Run("takes what the writer writes, as ParseEnvelope does", func(t *testing.T) {
		for _, e := range []Entry{
			{Timestamp: envelopeTime, Service: "loader", Reason: "parse_error", Attempts: 2, Payload: []byte("hello"),
				Destination: "acme.auth", Source: KafkaSource("events", 1, 42), Error: "boom ünï", ID: "id-1", Key: []byte{0, 0xff}},
			{Timestamp: envelopeTime, Service: "s", Reason: "r", Error: "field \"x\" \\ /\n\r\t end"},
			{Timestamp: time.UnixMilli(-5).UTC(), Service: "s", Reason: "r", Attempts: -3},
			{Timestamp: envelopeTime, Service: "s", Reason: "r", Source: Source{Offset: 0, HasOffset: true}},
		} {
			line := AppendEnvelope(nil, &e)
			fast, ok := parseEnvelopeFast(line)
			require.True(t, ok, "%s", line)
			slow, err := ParseEnvelope(line)
			require.NoError(t, err)
			assert.Equal(t, slow, fast)
		}
	})
	t.Run("leaves everything else to ParseEnvelope", func(t *testing.T) {
		for _, line := range []string{
			`{"timestamp":1,"service":"s\x","reason":"r","attempts":0,"payload":""}`,
			`{"timestamp":1,"service":"s\` + "\n" + `","reason":"r","attempts":0,"payload":""}`,
			`{"timestamp":1, "service":"s","reason":"r","attempts":0,"payload":""}`,
			`{"timestamp":1.0,"service":"s","reason":"r","attempts":0,"payload":""}`,
			`{"timestamp":01,"service":"s","reason":"r","attempts":0,"payload":""}`,
			`{"timestamp":1,"timestamp":2,"service":"s","reason":"r","attempts":0,"payload":""}`,
			`{"Timestamp":1,"service":"s","reason":"r","attempts":0,"payload":""}`,
			`{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"","destination":null}`,
			`{"timestamp":1,"service":"s","reason":"r","attempts":0}`,
			`{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":""} `,
			`{"timestamp":1,"service":"\xff","reason":"r","attempts":0,"payload":""}`,
			`{"timestamp":1,"service":"s","reason":"r","attempts":0,"payload":"","source":{"partition":2147483648}}`,
		} {
			_, ok := parseEnvelopeFast([]byte(line))
			assert.False(t, ok, line)
		}
	})
}

func FuzzParseEnvelopeFast(f *testing.F) {
	data, err := os.ReadFile("testdata/rust-envelopes.ndjson")
	require.NoError(f, err)
	for _, line := range bytes.Split(data, []byte("\n")) {
		f.Add(line)
	}
	f.Add([]byte(`{"timestamp":-0,"service":"","reason":"r","attempts":9223372036854775807,"payload":"AA==","key":"","source":{}}`))
	f.Add([]byte(strings.Repeat(`{"timestamp":1,`, 1)))
	f.Fuzz(func(t *testing.T, input []byte) {
		fast, ok := parseEnvelopeFast(input)
		if !ok {
			return
		}
		slow, err := ParseEnvelope(input)
		require.NoError(t, err, "%q", input)
		require.Equal(t, slow, fast, "%q", input)
	})
}

func FuzzParseEnvelopeFastEncoded(f *testing.F) {
	f.Add(int64(1764200000000), "svc", "parse_error", "boom", 2, []byte("hello"), "acme.auth", "events", int32(1), int64(42), uint8(3), "id", []byte("k"))
	f.Add(int64(-1), "", "\x00\xff", "", -5, []byte{}, "", "", int32(0), int64(0), uint8(0), "", []byte{})
	f.Fuzz(func(t *testing.T, ms int64, service, reason, errText string, attempts int, payload []byte,
		dest, topic string, partition int32, offset int64, flags uint8, id string, key []byte) {
		if ms < -1<<50 || ms > 1<<50 {
			return
		}
		e := Entry{Timestamp: time.UnixMilli(ms), Service: service, Reason: reason, Error: errText, Attempts: attempts,
			Payload: payload, Destination: dest, ID: id, Key: key, Source: Source{Topic: topic}}
		if flags&1 != 0 {
			e.Source.Partition, e.Source.HasPartition = partition, true
		}
		if flags&2 != 0 {
			e.Source.Offset, e.Source.HasOffset = offset, true
		}
		line := AppendEnvelope(nil, &e)
		slow, err := ParseEnvelope(line)
		require.NoError(t, err)
		if fast, ok := parseEnvelopeFast(line); ok {
			require.Equal(t, slow, fast, "%s", line)
		}
	})
}

// TestMetadataKeysNeverCollapse: keys that differ only in invalid UTF-8
// become distinct JSON keys, every pair kept, the same way every time.
func TestMetadataKeysNeverCollapse(t *testing.T) {
	e := Entry{Reason: "r", Metadata: map[string]string{
		"\xff":     "a",
		"\xfe":     "b",
		"\ufffd":   "c", // already the replacement character
		"k\xff":    "d",
		"k\ufffd":  "e",
		"\xff (2)": "f", // the suffix the first collision would take
		"plain":    "g",
	}}
	line := AppendEnvelope(nil, &e)
	var raw struct {
		Metadata map[string]string `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(line, &raw))
	assert.Len(t, raw.Metadata, len(e.Metadata), "no pair lost: %s", line)
	values := map[string]bool{}
	for _, v := range raw.Metadata {
		values[v] = true
	}
	assert.Len(t, values, len(e.Metadata), "every value kept")
	assert.Equal(t, "c", raw.Metadata["\ufffd"], "a valid key keeps its name")
	assert.Equal(t, "g", raw.Metadata["plain"])

	parsed, err := ParseEnvelope(line)
	require.NoError(t, err)
	assert.Len(t, parsed.Metadata, len(e.Metadata))
	assert.Equal(t, string(line), string(AppendEnvelope(nil, &e)), "deterministic")
}
