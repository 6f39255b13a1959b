package dlq

import (
	"regexp"
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

// regexpFingerprint is the peer: the chain of regular expressions a
// service would write for the same masks, one pass each.
func regexpFingerprint(s string) string {
	for _, m := range regexpMasks {
		s = m.re.ReplaceAllString(s, m.mask)
	}
	return s
}

var regexpMasks = []struct {
	re   *regexp.Regexp
	mask string
}{
	{regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`), "<str>"},
	{regexp.MustCompile(`\beyJ[\w-]*\.[\w-]+\.[\w-]+`), "<jwt>"},
	{regexp.MustCompile(`\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b`), "<uuid>"},
	{regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})`), "<time>"},
	{regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b`), "<ip>"},
	{regexp.MustCompile(`\b0[xX][0-9a-fA-F]+\b`), "<hex>"},
	{regexp.MustCompile(`\b\w*(?:[A-Za-z]\d|\d[A-Za-z])\w*\b`), "<id>"},
	{regexp.MustCompile(`-?\b\d+(?:\.\d+)*\b`), "<n>"},
}

// BenchmarkFingerprintRegexpPeer runs the peer on the same texts, in the
// same run: compare its ns/op with BenchmarkFingerprint's.
func BenchmarkFingerprintRegexpPeer(b *testing.B) {
	for _, bench := range fingerprintBenchTexts {
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bench.text)))
			for b.Loop() {
				_ = regexpFingerprint(bench.text)
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
