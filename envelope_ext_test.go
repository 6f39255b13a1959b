package dlq

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
