package dlq

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAll collects what a Reader over src yields.
func readAll(t *testing.T, src string, opts ReaderOptions) ([]Record, ReadStats) {
	t.Helper()
	r, err := OpenReader(src, opts)
	require.NoError(t, err)
	var out []Record
	for rec, err := range r.All(t.Context()) {
		require.NoError(t, err)
		out = append(out, rec)
	}
	return out, r.Stats()
}

func recPayloads(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Entry.Payload)
	}
	return out
}

func TestReaderFilters(t *testing.T) {
	dir := serviceFolder(t)
	for _, test := range []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"none", Filter{}, []string{"a", "b", "c", "d", "e", "f"}},
		{"reason", Filter{Reasons: []string{"timeout"}}, []string{"b", "f"}},
		{"reason globs, any", Filter{Reasons: []string{"parse_*", "sch?ma"}}, []string{"a", "c", "d", "e"}},
		{"service", Filter{Service: "other"}, nil},
		{"since inclusive, until exclusive", Filter{Since: time.UnixMilli(2000), Until: time.UnixMilli(5000)}, []string{"b", "c", "d"}},
		{"ids", Filter{IDs: []string{"id-d", "id-a"}}, []string{"a", "d"}},
		{"together", Filter{Reasons: []string{"parse_error"}, Since: time.UnixMilli(3000)}, []string{"c", "e"}},
	} {
		t.Run(test.name, func(t *testing.T) {
			recs, stats := readAll(t, dir, ReaderOptions{Filter: test.filter})
			assert.Equal(t, test.want, nilIfEmpty(recPayloads(recs)))
			assert.Equal(t, uint64(6), stats.Read)
			assert.Equal(t, uint64(len(test.want)), stats.Matched)
		})
	}
	t.Run("destination", func(t *testing.T) {
		f := Filter{Destination: "acme.*"}
		assert.True(t, f.Match(&Entry{Destination: "acme.auth"}))
		assert.False(t, f.Match(&Entry{Destination: "other"}))
	})
	t.Run("a bad pattern is refused at open", func(t *testing.T) {
		_, err := OpenReader(dir, ReaderOptions{Filter: Filter{Reasons: []string{"[a-"}}})
		assert.ErrorContains(t, err, `pattern "[a-"`)
	})
	t.Run("until before since is refused", func(t *testing.T) {
		_, err := OpenReader(dir, ReaderOptions{Filter: Filter{Since: time.UnixMilli(2), Until: time.UnixMilli(1)}})
		assert.ErrorContains(t, err, "before since")
	})
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestParseTimeBound(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, test := range []struct {
		in   string
		want time.Time
	}{
		{"2026-11-27T08:00:00Z", time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)},
		{"2026-11-27T08:00:00.5+01:00", time.Date(2026, 11, 27, 7, 0, 0, 500e6, time.UTC)},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
	} {
		t.Run(test.in, func(t *testing.T) {
			got, err := ParseTimeBound(test.in, now)
			require.NoError(t, err)
			assert.True(t, test.want.Equal(got), "%v != %v", test.want, got)
		})
	}
	for _, bad := range []string{"yesterday", "-2h", "", "2026-11-27"} {
		_, err := ParseTimeBound(bad, now)
		assert.Error(t, err, bad)
	}
}

func TestOpenReaderSources(t *testing.T) {
	for _, test := range []struct{ src, err string }{
		{"", "empty source"},
		{"ftp://x/y", `scheme "ftp"`},
		{"file://", "names no path"},
	} {
		t.Run(test.src, func(t *testing.T) {
			_, err := OpenReader(test.src, ReaderOptions{})
			assert.ErrorContains(t, err, test.err)
		})
	}
}

// judgeByDecoding is what a Reader did before it judged lines by their
// fields: decode with ParseEnvelope, then match the Entry.
func judgeByDecoding(line []byte, f *Filter, payload bool) (verdict, Entry) {
	e, err := ParseEnvelope(line)
	switch {
	case err != nil:
		return unreadableLine, Entry{}
	case !f.Match(&e):
		return ruledOut, Entry{}
	}
	if !payload {
		e.Payload = nil
	}
	return selected, e
}

// trickyLines are lines where a filter looking at bytes could be fooled:
// the id or reason inside an error, a payload or metadata, escaped
// quotes, escapes standing for plain letters, keys in another case or
// repeated, whitespace, a payload with an escape.
var trickyLines = []string{
	`{"timestamp":1000,"service":"svc","reason":"timeout","attempts":1,"payload":"aWQtNw==","error":"retry of \"id\":\"id-7\" and reason \"parse_error\"","id":"id-8"}`,
	`{"timestamp":1000,"service":"svc","reason":"time\u006fut","attempts":1,"payload":"","id":"id-\u0037"}`,
	`{"timestamp":1000,"service":"svc","reason":"parse_error","attempts":1,"payload":"","metadata":{"id":"id-7","reason":"timeout"},"id":"x"}`,
	`{"timestamp":1000,"service":"svc","reason":"parse_error","attempts":1,"payload":"","Reason":"timeout","id":"id-7"}`,
	`{"timestamp":1000,"service":"svc","reason":"parse_error","attempts":1,"payload":"","reason":"timeout","id":"id-7"}`,
	`{"timestamp":1000, "service":"svc","reason":"timeout","attempts":1,"payload":"","id":"id-7"}`,
	`{"timestamp":1000,"service":"svc","reason":"timeout","attempts":1,"payload":"e\/A=","id":"id-7"}`,
	`{"timestamp":1000,"service":"svc","reason":"timeout","attempts":1,"payload":"eA=\"","id":"id-7"}`,
	`{"timestamp":1000,"service":"svc","reason":"timeout","attempts":1,"payload":"!!!!","id":"id-7"}`,
	`{"timestamp":1000,"service":"svc","reason":"timeout","attempts":1,"payload":"","timestamp":5000,"id":"id-7"}`,
	`{"timestamp":5000,"service":"svc","reason":"timeout","attempts":1,"payload":"","id":"id-7","headers":[{"key":"id","value":"aWQtNw=="}]}`,
	`{"timestamp":5000,"service":"svc","reason":"time\"out","attempts":1,"payload":"","error":"\\","id":"id-7\\"}`,
	`{"timestamp":5000,"service":"svc","reason":"\ud83d\ude00","attempts":1,"payload":"","id":"\ud83d"}`,
	`{"timestamp":5000,"service":"svc","reason":"timeout","attempts":1,"payload":"","destination":null,"id":"id-7"}`,
	`{"timestamp":5000,"service":"svc","reason":"timeout","attempts":1,"payload":"","id":"id-7"`,
	`{"timestamp":"5000","service":"svc","reason":"timeout","attempts":1,"payload":"","id":"id-7"}`,
}

func TestJudgeSelectsAsDecodingDoes(t *testing.T) {
	filters := []Filter{
		{},
		{IDs: []string{"id-7"}},
		{IDs: []string{"id-8", "\U0001F600", "\ufffd"}},
		{Reasons: []string{"timeout"}},
		{Reasons: []string{"time*", "\U0001F600"}},
		{Reasons: []string{"parse_error"}, Service: "s*"},
		{Destination: "x"},
		{Since: time.UnixMilli(2000)},
		{Until: time.UnixMilli(2000)},
		{Fingerprints: []string{"retry of <str>:<str> and reason <str>"}},
		{Fingerprints: []string{`\`, "x"}},
		{Fingerprints: []string{""}, IDs: []string{"id-7"}},
	}
	for _, line := range trickyLines {
		for _, f := range filters {
			for _, payload := range []bool{true, false} {
				j := lineJudge{filter: &f, payload: payload}
				var got Entry
				v := j.judge([]byte(line), &got)
				wantV, want := judgeByDecoding([]byte(line), &f, payload)
				require.Equal(t, wantV, v, "%s with %+v", line, f)
				if v == selected {
					assert.Equal(t, want, got, "%s with %+v", line, f)
				}
			}
		}
	}
}

// FuzzJudge: a line judged by its fields gets the verdict, and the
// entry, that decoding it and matching the Entry gives.
func FuzzJudge(f *testing.F) {
	data, err := os.ReadFile("testdata/rust-envelopes.ndjson")
	require.NoError(f, err)
	for _, line := range bytes.Split(data, []byte("\n")) {
		f.Add(line, "*", "", "", int64(0), int64(0), "", "", false)
	}
	for _, line := range trickyLines {
		f.Add([]byte(line), "time*", "svc", "", int64(2000), int64(0), "id-7", "", true)
		f.Add([]byte(line), "", "", "", int64(0), int64(0), "", "retry of <str>:<str> and reason <str>", true)
	}
	e := Entry{Timestamp: envelopeTime, Service: "loader", Reason: "parse_error", Payload: []byte("hi"), ID: "id-1", Key: []byte("k"),
		Headers: []Header{{Key: "h", Value: []byte("v")}}, Metadata: map[string]string{"k": "v\u00e9"}, Source: KafkaSource("t", 1, 2)}
	f.Add(AppendEnvelope(nil, &e), "parse_*", "load?r", "", envelopeTime.UnixMilli(), envelopeTime.UnixMilli()+1, "id-1", "", false)
	f.Fuzz(func(t *testing.T, line []byte, reason, service, destination string, since, until int64, id, fingerprint string, skipPayload bool) {
		flt := Filter{Service: service, Destination: destination}
		if reason != "" {
			flt.Reasons = []string{reason, "x" + reason}
		}
		if since != 0 {
			flt.Since = time.UnixMilli(since)
		}
		if until != 0 {
			flt.Until = time.UnixMilli(until)
		}
		if id != "" {
			flt.IDs = []string{id}
		}
		if fingerprint != "" {
			flt.Fingerprints = []string{fingerprint, ""}
		}
		if flt.validate() != nil {
			return
		}
		j := lineJudge{filter: &flt, payload: !skipPayload}
		var got Entry
		v := j.judge(line, &got)
		wantV, want := judgeByDecoding(line, &flt, !skipPayload)
		require.Equal(t, wantV, v, "%q", line)
		require.Equal(t, want, got, "%q", line)
	})
}

// FuzzEnvelopeFields: every envelope the library writes, whatever its
// fields (metadata, headers, escapes, text that is not UTF-8), takes the
// fast path, and decodes there to what ParseEnvelope returns.
func FuzzEnvelopeFields(f *testing.F) {
	f.Add(int64(1764200000000), "svc", "parse_error", "boom \"x\" \x01", 2, []byte("hello"), "acme.auth", "events", uint8(7), "id", []byte("k"),
		"mk", "mv\u2028", "hk", []byte("hv"), uint8(3))
	f.Add(int64(-1), "", "\xff\xfe", "\U0001F600", -5, []byte{}, "", "", uint8(0), "", []byte{}, "\xff", "\xfe", "", []byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, ms int64, service, reason, errText string, attempts int, payload []byte,
		dest, topic string, flags uint8, id string, key []byte, mk, mv, hk string, hv []byte, n uint8) {
		if ms < -1<<50 || ms > 1<<50 {
			return
		}
		e := Entry{Timestamp: time.UnixMilli(ms), Service: service, Reason: reason, Error: errText, Attempts: attempts,
			Payload: payload, Destination: dest, ID: id, Key: key, Source: Source{Topic: topic}}
		if flags&1 != 0 {
			e.Source.Partition, e.Source.HasPartition = int32(ms), true
		}
		if flags&2 != 0 {
			e.Source.Offset, e.Source.HasOffset = ms, true
		}
		if flags&4 != 0 {
			e.Metadata = map[string]string{mk: mv, mv: mk, "k": reason}
		}
		for i := range int(n % 4) {
			e.Headers = append(e.Headers, Header{Key: hk, Value: hv[:min(i, len(hv))]})
		}
		line := AppendEnvelope(nil, &e)
		slow, err := ParseEnvelope(line)
		require.NoError(t, err)
		fast, ok := parseEnvelopeFast(line)
		require.True(t, ok, "the fast path leaves %s", line)
		require.Equal(t, slow, fast, "%s", line)
	})
}
