package dlq

import (
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
