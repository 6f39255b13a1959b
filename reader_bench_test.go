package dlq

import (
	"bytes"
	"testing"
	"time"
)

// benchLine is a line as the library writes it for a Kafka consumer's
// entry: a 1 KiB JSON payload, a key, two headers and metadata.
var benchLine = func() []byte {
	e := Entry{Timestamp: time.UnixMilli(1764200000000), Service: "orders-consumer", Reason: "schema_mismatch",
		Error:   `field "amount" is not a number: "12.50 EUR" (offset 88123, order ord_3PqX9a2b)`,
		Payload: bytes.Repeat([]byte(`{"sku":123456,"qty":2},`), 45), Attempts: 3, Destination: "acme.orders",
		Source: KafkaSource("orders", 7, 88123), ID: "019ac3f2-5a10-7c3e-9a4b-2f6d8e1c0b7a", Key: []byte("user-42"),
		Headers:  []Header{{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}, {Key: "content-type", Value: []byte("application/json")}},
		Metadata: map[string]string{"consumer_group": "orders", "host": "orders-7"}}
	return AppendEnvelope(nil, &e)
}()

// BenchmarkJudge times how a Reader takes one line: decoded whole by
// encoding/json (ParseEnvelope, every line before issue 21), by the fast
// path, without its payload (inspect), and ruled out by a filter before
// any decoding (show ID); each path reports its speed-up over
// encoding/json, timed first in the same run.
func BenchmarkJudge(b *testing.B) {
	var jsonNs float64
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchLine)))
		for b.Loop() {
			if _, err := ParseEnvelope(benchLine); err != nil {
				b.Fatal(err)
			}
		}
		jsonNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	flt := Filter{IDs: []string{"019ac3f2-0000-7000-8000-000000000000"}}
	for _, p := range []struct {
		name string
		j    lineJudge
	}{
		{"fast", lineJudge{filter: &Filter{}, payload: true}},
		{"fast-no-payload", lineJudge{filter: &Filter{}}},
		{"ruled-out", lineJudge{filter: &flt, payload: true}},
	} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(benchLine)))
			var e Entry
			for b.Loop() {
				if p.j.judge(benchLine, &e) == unreadableLine {
					b.Fatal("unreadable")
				}
			}
			b.ReportMetric(jsonNs/(float64(b.Elapsed().Nanoseconds())/float64(b.N)), "x-vs-encoding-json")
		})
	}
}
