package dlq

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fingerprintCases are error texts and their fingerprints, by the kind of
// token they mask or keep.
var fingerprintCases = []struct {
	kind      string
	in, want  string
	unchanged bool // want is in: nothing to mask
}{
	{kind: "empty", in: "", unchanged: true},

	{"quoted", `field "email" missing`, `field <str> missing`, false},
	{"quoted", `unexpected token 'a' at offset 7 in "doc-1"`, `unexpected token <str> at offset <n> in <str>`, false},
	{"quoted", `escaped "a \" b" end`, `escaped <str> end`, false},
	{"quoted", "key `user_id` in `C:\\tmp\\` taken", "key <str> in <str> taken", false}, // no escapes between backticks
	{"quoted", `{"amount":"12.50","currency":"EUR"}`, `{<str>:<str>,<str>:<str>}`, false},
	{"quoted: an apostrophe opens none", "can't parse 'x' at -1.5; it's the users' 'data'", "can't parse <str> at <n>; it's the users' <str>", false},
	{"quoted: a single quote before a letter closes none", "'don't stop' now", "<str> now", false},
	{kind: "quoted: unterminated", in: `"unterminated value`, unchanged: true},

	{"uuid", "request 0192f3c4-7d3e-7abc-8def-0123456789ab failed", "request <uuid> failed", false},
	{"uuid", "UUID 0192F3C4-7D3E-7ABC-8DEF-0123456789AB.", "UUID <uuid>.", false},
	{"uuid: too long is not one", "id 0192f3c4-7d3e-7abc-8def-0123456789abcdef gone", "id <hex>-<hex>-<hex>-<hex>-<hex> gone", false},

	{"ip", "call to 10.0.0.7:5432 timed out", "call to <ip> timed out", false},
	{"ip", "dial tcp 192.168.1.254: i/o timeout", "dial tcp <ip>: i/o timeout", false},
	{"ip", "dial tcp [::1]:6379: connect: connection refused", "dial tcp <ip>: connect: connection refused", false},
	{"ip", "dial tcp [2001:db8::7]:443: refused", "dial tcp <ip>: refused", false},
	{"ip", "route to fe80::1 and ::1 down", "route to <ip> and <ip> down", false},
	{"ip: not an address", "version 1.2.3.4.5, value 300.1.1.1", "version <n>, value <n>", false},
	{kind: "ip: a Rust path is no address", in: "std::io::Error: broken pipe", unchanged: true},

	{"time", "expired at 2026-01-15T08:30:00.123Z (now 2026-01-15T09:00:00+01:00)", "expired at <time> (now <time>)", false},
	{"time", "batch of 2026-01-15 08:30:00 at 12:30:45.5, day 2026-03-02", "batch of <time> at <time>, day <time>", false},

	{"email", "user bob.smith+dlq@mail.example.com not found", "user <email> not found", false},
	{"email glued to an id", "user aob.smith+dlq@mail.example.c_mMMMMMfound", "user aob.smith+dlq@mail.example.<id>", false},
	{"jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U expired",
		"token <jwt> expired", false},

	{"hex", "ptr 0xDEADbeef, hash a3f9c2e1", "ptr <hex>, hash <hex>", false},
	{"hex", "ptr 0XFF00 freed, crc DEADBEEF", "ptr <hex> freed, crc <hex>", false},
	{"hex: eight letters a-f", "magic deadbeef", "magic <hex>", false},
	{"hex: starting with digits", "sha 1234567b", "sha <hex>", false},
	{kind: "hex: six letters are a word", in: "a decade of facade", unchanged: true},

	{"id: letters and digits", "charge ch_3PqX9a2b failed", "charge <id> failed", false},
	{"id: letters and digits", "order ord_01HX3K9QW8ZJ5V2N7M4R6T0Y1P, token aZ3kP9qW2x", "order <id>, token <id>", false},
	{"id: not piecewise", "0xZZ and 3PqX9a2b", "<id> and <id>", false},
	{"id: a prefixed id in letters only", "customer cus_AbCdEfGh and req_POUZYCCXC and pi_Jzotfrqnyep", "customer <id> and <id> and <id>", false},
	{"id: random letters", "from https://hooks.example.com/t/BJDkgqFWKTGzrtePWgbLkb: 429", "from https://hooks.example.com/t/<id>: <n>", false},
	{"id: base64 padding", "nonce bm90aGluZw== and dGVzdDEy=", "nonce <id> and <id>", false},

	{"name and number", "v1.2.3 utf8 int64 sha256 user42 HTTP2", "v<n> utf<n> int<n> sha<n> user<n> HTTP<n>", false},

	{"number", "row 42 of 1000", "row <n> of <n>", false},
	{"number", "at -1.5 and +42, then 3.14 and 1,000", "at <n> and <n>, then <n> and <n>,<n>", false},
	{"number: a unit kept", "payload 10MB over 2xx, 5xx, 3rd try, 64b", "payload <n>MB over <n>xx, <n>xx, <n>rd try, <n>b", false},
	{"duration", "timed out after 30s, 1.5ms, 1h30m, 250us, 7d", "timed out after <dur>, <dur>, <dur>, <dur>, <dur>", false},

	{kind: "kept: words", in: "plain words stay: connection refused", unchanged: true},
	{kind: "kept: codes", in: "ECONNREFUSED ERR_TIMEOUT SQLSTATE ENOENT", unchanged: true},
	{kind: "kept: field names", in: "user_id max_connections shipping_address created_at", unchanged: true},
	{kind: "kept: identifiers", in: "java.lang.NullPointerException in getHTTPResponse via findUserById on GraphQL, XMLHttpRequest", unchanged: true},
	{kind: "kept: names", in: "acme.auth on orders-consumer: Service Unavailable", unchanged: true},
	{kind: "kept: placeholders", in: "<id> <n> <str> <uuid> <ip> <time> <email> <jwt> <hex> <dur>", unchanged: true},
	{kind: "kept: a number in a placeholder's place", in: "count>100 <n>5", want: "count><n> <n>5"},

	{"utf-8", "naïve 42 ünïcode «7»", "naïve <n> ünïcode «<n>»", false},
	{"terminal escapes kept", "\x1b[2J\x1b]0;owned\x07", "\x1b[<id>\x1b]<n>;owned\x07", false},
}

func TestFingerprint(t *testing.T) {
	for _, test := range fingerprintCases {
		t.Run(test.kind+": "+test.in, func(t *testing.T) {
			want := test.want
			if test.unchanged {
				want = test.in
			}
			got := Fingerprint(test.in)
			assert.Equal(t, want, got)
			assert.Equal(t, got, Fingerprint(got), "a fingerprint is its own fingerprint")
		})
	}
}

// TestFingerprintGroupsRandomIDs draws ids the way services make them and
// counts the fingerprints of one error text carrying them: an id kind
// that could read as a word now and then gives a few fingerprints in a
// hundred thousand, never one each.
func TestFingerprintGroupsRandomIDs(t *testing.T) {
	const n = 100_000
	const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	r := rand.New(rand.NewPCG(21, 1))
	draw := func(alphabet string, k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for _, test := range []struct {
		kind string
		id   func() string
		max  int // distinct fingerprints at most
	}{
		{"uuid", func() string {
			return fmt.Sprintf("%08x-%04x-7%03x-%04x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), 0x8000|r.IntN(1<<14), r.Uint64()>>16)
		}, 1},
		{"prefixed base62, 14 to 24 characters", func() string { return "ch_" + draw(b62, 14+r.IntN(11)) }, 1},
		{"prefixed base62, 8 characters", func() string { return "ord_" + draw(b62, 8) }, 40},
		{"base62, 22 characters", func() string { return draw(b62, 22) }, 20},
		{"hex, 16 characters", func() string { return draw("0123456789abcdef", 16) }, 2}, // <hex>, or <n> when all digits
		{"ip:port", func() string {
			return fmt.Sprintf("10.%d.%d.%d:%d", r.IntN(256), r.IntN(256), r.IntN(256), 1024+r.IntN(60000))
		}, 1},
		{"JWT", func() string {
			return "eyJhbGciOiJIUzI1NiJ9." + draw(b62+"-_", 40) + "." + draw(b62+"-_", 43)
		}, 1},
		{"quoted", func() string { return `"` + draw(b62+" ,:", r.IntN(30)) + `"` }, 1},
		{"number", func() string { return fmt.Sprint(r.Int64N(1 << 40)) }, 1},
	} {
		t.Run(test.kind, func(t *testing.T) {
			seen := map[string]int{}
			for range n {
				seen[Fingerprint("charge "+test.id()+" failed after 3 attempts")]++
			}
			t.Logf("%d fingerprints in %d", len(seen), n)
			assert.LessOrEqual(t, len(seen), test.max)
		})
	}
}

func TestFingerprintAllocatesNothingWhenNothingIsMasked(t *testing.T) {
	if testenv.RaceEnabled {
		t.Skip("the race detector allocates")
	}
	plain := "rpc error: code = Unavailable desc = connection refused by upstream user_id"
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = Fingerprint(plain) }), "the text itself is returned")
	masked := "charge ch_3PqX9a2b failed after 3 attempts at 2026-01-15T08:30:00Z from 10.0.0.7:5432"
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = Fingerprint(masked) }), "only the result")
}

func FuzzFingerprint(f *testing.F) {
	for _, test := range fingerprintCases {
		f.Add(test.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fp := Fingerprint(s)
		require.Equal(t, fp, Fingerprint(fp), "not idempotent: %q gives %q", s, fp)
		if utf8.ValidString(s) {
			require.True(t, utf8.ValidString(fp), "%q gives invalid UTF-8 %q", s, fp)
		}
		if !strings.ContainsAny(s, "0123456789\"'`@_<>") && !strings.Contains(s, "eyJ") && fp != s {
			// Only letters could have been masked: as an id, or as hex.
			require.Regexp(t, `<(id|hex)>`, fp, "%q gives %q", s, fp)
		}
	})
}

// TestFingerprintScansOnce runs texts made to rescan: quotes that never
// close, escaped quotes, dotted runs, colons, at-signs. Each is read in
// one pass; a fingerprinter that scanned again from every quote would take
// minutes here, and the test's deadline ends it.
func TestFingerprintScansOnce(t *testing.T) {
	const size = 400_000
	for _, unit := range []string{"'a ", `\"`, `\\\"`, "` x", "1.", "a.", "eyJ.", "a:", "[1:", "v1.", "a@", "<n>"} {
		t.Run(unit, func(t *testing.T) {
			s := strings.Repeat(unit, size/len(unit))
			fp := Fingerprint(s)
			assert.Equal(t, fp, Fingerprint(fp))
		})
	}
}
