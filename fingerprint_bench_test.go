package dlq

import (
	"strings"
	"testing"
)

// fingerprintBenchTexts are error texts as DLQs hold them: one with
// nothing to mask, and some with ids, addresses, times and numbers.
var fingerprintBenchTexts = []struct{ name, text string }{
	{"nothing to mask", "rpc error: code = Unavailable desc = connection refused by upstream"},
	{"http", "POST https://payments.internal:8443/v1/charges/ch_3PqX9a2bZ7Kd: context deadline exceeded after 30s (request id req_8f3a2b9c1d)"},
	{"json", `json: invalid character 'x' looking for beginning of value at offset 1042 in message 0192f3c4-7d3e-7abc-8def-0123456789ab`},
	{"kafka", "kafka: produce to shipments.v2 partition 7 timed out after 1.5s: broker 10.0.3.17:9092 (leader epoch 42) did not answer"},
	{"jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U rejected: jwt expired at 2026-01-15T08:30:00Z"},
}

// BenchmarkFingerprint fingerprints typical error texts; a text with
// nothing to mask allocates nothing, one with something to mask only its
// result.
func BenchmarkFingerprint(b *testing.B) {
	for _, bench := range fingerprintBenchTexts {
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bench.text)))
			for b.Loop() {
				_ = Fingerprint(bench.text)
			}
		})
	}
}

// BenchmarkFingerprintLong fingerprints a 4 KiB text (a stack trace with
// addresses and line numbers): the cost grows with the length, once.
func BenchmarkFingerprintLong(b *testing.B) {
	s := strings.Repeat("at com.acme.orders.Handler.process(Handler.java:142) 0x7f3a9c2e10 ", 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		_ = Fingerprint(s)
	}
}
