package dlq

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
