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
