package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	loader := writeFixture(t, dir)
	jsonOf := func(t *testing.T, args ...string) inspectResult {
		t.Helper()
		out, err := run(t, append([]string{"inspect", "--json"}, args...)...)
		require.NoError(t, err)
		var res inspectResult
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		return res
	}
	t.Run("json shape", func(t *testing.T) {
		out, err := run(t, "inspect", loader, "--json")
		require.NoError(t, err)
		ms := fixtureTime.UnixMilli()
		assert.JSONEq(t, `{"total":8,"unreadable":0,"groups":[
			{"key":"parse_error","count":6,"first":`+itoa(ms)+`,"last":`+itoa(ms+5*60000)+`},
			{"key":"timeout","count":2,"first":`+itoa(ms+90*60000)+`,"last":`+itoa(ms+95*60000)+`}]}`, out)
	})
	t.Run("a folder of services", func(t *testing.T) {
		res := jsonOf(t, dir, "--group-by", "service")
		assert.Equal(t, []group{{Key: "loader", Count: 8, First: res.Groups[0].First, Last: res.Groups[0].Last},
			{Key: "ingest", Count: 1, First: res.Groups[1].First, Last: res.Groups[1].First}}, res.Groups)
	})
	t.Run("group by", func(t *testing.T) {
		for _, test := range []struct {
			by   string
			keys []string
		}{
			{"destination", []string{"acme.auth", "acme.billing"}},
			{"source", []string{"", "events/0", "events/1"}},
			{"hour", []string{"2026-01-15T08:00Z", "2026-01-15T10:00Z"}},
			{"fingerprint", []string{
				`unexpected token <str> at offset <n> in <str>`,
				`call to <ip> timed out after <dur> (request <uuid>)`}},
		} {
			t.Run(test.by, func(t *testing.T) {
				res := jsonOf(t, loader, "--group-by", test.by)
				var keys []string
				for _, g := range res.Groups {
					keys = append(keys, g.Key)
				}
				assert.ElementsMatch(t, test.keys, keys)
				assert.Equal(t, uint64(8), res.Total)
			})
		}
	})
	t.Run("filters", func(t *testing.T) {
		assert.Equal(t, uint64(2), jsonOf(t, loader, "--reason", "time*").Total)
		assert.Equal(t, uint64(8), jsonOf(t, loader, "--reason", "time*", "--reason", "parse_error").Total)
		assert.Equal(t, uint64(1), jsonOf(t, dir, "--service", "ingest").Total)
		assert.Equal(t, uint64(2), jsonOf(t, loader, "--destination", "acme.billing").Total)
		assert.Equal(t, uint64(3), jsonOf(t, loader, "--since", "2026-01-15T08:33:00Z", "--until", "2026-01-15T10:00:00Z").Total)
		assert.Equal(t, uint64(1), jsonOf(t, loader, "--id", "id-parse-3").Total)
		assert.Equal(t, uint64(0), jsonOf(t, loader, "--since", "1h").Total, "fixtures are older than an hour ago")
	})
	t.Run("table", func(t *testing.T) {
		out, err := run(t, "inspect", loader)
		require.NoError(t, err)
		assert.Equal(t, "REASON       COUNT  FIRST                     LAST\n"+
			"parse_error  6      2026-01-15T08:30:00.000Z  2026-01-15T08:35:00.000Z\n"+
			"timeout      2      2026-01-15T10:00:00.000Z  2026-01-15T10:05:00.000Z\n"+
			"\ntotal 8, unreadable 0\n", out)
	})
	t.Run("unreadable lines are counted", func(t *testing.T) {
		appendText(t, filepath.Join(loader, "dlq.ndjson"), "garbage\n{\"torn\":")
		res := jsonOf(t, loader)
		assert.Equal(t, uint64(2), res.Unreadable)
		assert.Equal(t, uint64(8), res.Total)
	})
	t.Run("usage errors", func(t *testing.T) {
		_, err := run(t, "inspect", loader, "--group-by", "colour")
		assert.ErrorContains(t, err, `--group-by "colour"`)
		_, err = run(t, "inspect")
		assert.ErrorContains(t, err, "takes one SRC")
		_, err = run(t, "inspect", loader, "--since", "yesterday")
		assert.ErrorContains(t, err, "--since")
	})
}

// writeEntries writes entries through the library's file backend into
// a service folder of dir and returns the folder.
func writeEntries(t *testing.T, dir string, entries []dlq.Entry) string {
	t.Helper()
	o, err := dlq.New(dlq.Config{Service: "svc", File: dlq.FileConfig{Dir: dir, Rotation: dlq.RotateNone}})
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, o.SendContext(t.Context(), e))
	}
	require.NoError(t, o.Close(t.Context()))
	return filepath.Join(dir, "svc")
}

func TestInspectTop(t *testing.T) {
	// 25 reasons: r00 has 25 entries, r01 24, ... r24 one.
	var entries []dlq.Entry
	for r := range 25 {
		for range 25 - r {
			entries = append(entries, dlq.Entry{Timestamp: fixtureTime, Reason: fmt.Sprintf("r%02d", r), Payload: []byte("p")})
		}
	}
	src := writeEntries(t, t.TempDir(), entries)
	rows := func(out string) []string {
		var keys []string
		for _, line := range strings.Split(out, "\n")[1:] {
			if strings.HasPrefix(line, "r") {
				keys = append(keys, strings.Fields(line)[0])
			}
		}
		return keys
	}
	t.Run("20 by default, and a line for the others", func(t *testing.T) {
		out, err := run(t, "inspect", src)
		require.NoError(t, err)
		assert.Len(t, rows(out), 20)
		assert.Equal(t, "r00", rows(out)[0], "largest first")
		assert.Contains(t, out, "\n… and 5 more groups (15 entries)\n\ntotal 325, unreadable 0\n")
	})
	t.Run("--top N", func(t *testing.T) {
		out, err := run(t, "inspect", "--top", "3", src)
		require.NoError(t, err)
		assert.Equal(t, []string{"r00", "r01", "r02"}, rows(out))
		assert.Contains(t, out, "… and 22 more groups (253 entries)\n")
	})
	t.Run("--top 0 prints all", func(t *testing.T) {
		out, err := run(t, "inspect", "--top", "0", src)
		require.NoError(t, err)
		assert.Len(t, rows(out), 25)
		assert.NotContains(t, out, "more groups")
	})
	t.Run("--json has every group unless --top is given", func(t *testing.T) {
		out, err := run(t, "inspect", "--json", src)
		require.NoError(t, err)
		var res inspectResult
		require.NoError(t, json.Unmarshal([]byte(out), &res))
		assert.Len(t, res.Groups, 25)
		assert.NotContains(t, out, "more_groups")

		out, err = run(t, "inspect", "--json", "--top", "2", src)
		require.NoError(t, err)
		res = inspectResult{}
		require.NoError(t, json.Unmarshal([]byte(out), &res))
		assert.Len(t, res.Groups, 2)
		assert.Equal(t, 23, res.MoreGroups)
		assert.Equal(t, uint64(325-25-24), res.MoreEntries)
	})
	t.Run("a negative --top", func(t *testing.T) {
		_, err := run(t, "inspect", "--top", "-1", src)
		assert.ErrorContains(t, err, "--top -1 is negative")
	})
}

func TestInspectTimeline(t *testing.T) {
	// 30 hours over two days; the counts go up and down, so that an order
	// by count is not the order by time.
	var entries []dlq.Entry
	counts := map[string]int{}
	start := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	for h := range 30 {
		at := start.Add(time.Duration(h)*time.Hour + 17*time.Minute)
		for range 1 + (h*7)%5 {
			entries = append(entries, dlq.Entry{Timestamp: at, Reason: "r", Payload: []byte("p")})
			counts[at.Format("2006-01-02T15:00Z")]++
		}
	}
	src := writeEntries(t, t.TempDir(), entries)
	keysOf := func(t *testing.T, by string, args ...string) (keys []string, res inspectResult) {
		out, err := run(t, append([]string{"inspect", "--json", "--group-by", by, src}, args...)...)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal([]byte(out), &res))
		for _, g := range res.Groups {
			keys = append(keys, g.Key)
		}
		return keys, res
	}
	t.Run("by hour, in time order", func(t *testing.T) {
		keys, res := keysOf(t, "hour")
		require.Len(t, keys, 30)
		assert.True(t, slices.IsSorted(keys), "%v", keys)
		assert.Equal(t, "2026-01-15T00:00Z", keys[0])
		for _, g := range res.Groups {
			assert.Equal(t, uint64(counts[g.Key]), g.Count, g.Key)
		}
	})
	t.Run("by day, in time order", func(t *testing.T) {
		keys, res := keysOf(t, "day")
		assert.Equal(t, []string{"2026-01-15", "2026-01-16"}, keys)
		assert.Equal(t, uint64(len(entries)), res.Groups[0].Count+res.Groups[1].Count)
	})
	t.Run("--top keeps the newest", func(t *testing.T) {
		keys, res := keysOf(t, "hour", "--top", "4")
		assert.Equal(t, []string{"2026-01-16T02:00Z", "2026-01-16T03:00Z", "2026-01-16T04:00Z", "2026-01-16T05:00Z"}, keys)
		assert.Equal(t, 26, res.MoreGroups)
		out, err := run(t, "inspect", "--group-by", "hour", src)
		require.NoError(t, err)
		lines := strings.Split(out, "\n")
		assert.True(t, strings.HasPrefix(lines[1], "2026-01-15T10:00Z"), "the 20 newest, oldest first: %q", lines[1])
		assert.Contains(t, out, "… and 10 earlier groups (")
	})
}

func TestInspectGroupsByTwoKeys(t *testing.T) {
	dir := t.TempDir()
	loader := writeFixture(t, dir)
	out, err := run(t, "inspect", "--json", "--group-by", "reason,fingerprint", loader)
	require.NoError(t, err)
	var res inspectResult
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Len(t, res.Groups, 2)
	assert.Equal(t, []string{"parse_error", "unexpected token <str> at offset <n> in <str>"}, res.Groups[0].Keys)
	assert.Equal(t, "parse_error | unexpected token <str> at offset <n> in <str>", res.Groups[0].Key)
	assert.Equal(t, uint64(6), res.Groups[0].Count)
	assert.Equal(t, []string{"timeout", "call to <ip> timed out after <dur> (request <uuid>)"}, res.Groups[1].Keys)

	out, err = run(t, "inspect", "--group-by", "reason, destination", loader)
	require.NoError(t, err)
	assert.Equal(t, "REASON       DESTINATION   COUNT  FIRST                     LAST\n"+
		"parse_error  acme.auth     6      2026-01-15T08:30:00.000Z  2026-01-15T08:35:00.000Z\n"+
		"timeout      acme.billing  2      2026-01-15T10:00:00.000Z  2026-01-15T10:05:00.000Z\n"+
		"\ntotal 8, unreadable 0\n", out)

	for _, by := range []string{"reason,colour", "reason,reason", ",", "reason,"} {
		_, err := run(t, "inspect", "--group-by", by, loader)
		assert.ErrorContains(t, err, "--group-by", by)
	}
}

func TestInspectFoldsRareFingerprints(t *testing.T) {
	var entries []dlq.Entry
	add := func(n int, reason, text string) {
		for i := range n {
			msg := text
			if strings.Contains(text, "%") {
				msg = fmt.Sprintf(text, i)
			}
			entries = append(entries, dlq.Entry{Timestamp: fixtureTime.Add(time.Duration(len(entries)) * time.Second),
				Reason: reason, Error: msg, Payload: []byte("p")})
		}
	}
	add(10, "payment", "charge ch_%dPqX9a2b failed")
	add(1, "payment", "charge qwertyuiop failed") // an id of letters only, read as a word
	add(1, "payment", "charge asdfghjklz failed") // another
	add(5, "payment", "charge shipments failed")  // a word many entries share: a bug of its own
	add(1, "payment", "charge abc failed")        // too short to be an id
	add(1, "refund", "refund zxcvbnmlkj failed")  // no template to join
	add(1, "other", "charge poiuytrewq failed")   // a template of another reason, with two keys
	src := writeEntries(t, t.TempDir(), entries)

	counts := func(t *testing.T, by string) map[string]uint64 {
		out, err := run(t, "inspect", "--json", "--group-by", by, src)
		require.NoError(t, err)
		var res inspectResult
		require.NoError(t, json.Unmarshal([]byte(out), &res))
		got := map[string]uint64{}
		for _, g := range res.Groups {
			got[g.Key] = g.Count
		}
		return got
	}
	assert.Equal(t, map[string]uint64{
		"charge <id> failed":       13,
		"charge shipments failed":  5,
		"charge abc failed":        1,
		"refund zxcvbnmlkj failed": 1,
	}, counts(t, "fingerprint"))
	assert.Equal(t, map[string]uint64{
		"payment | charge <id> failed":      12,
		"payment | charge shipments failed": 5,
		"payment | charge abc failed":       1,
		"refund | refund zxcvbnmlkj failed": 1,
		"other | charge poiuytrewq failed":  1,
	}, counts(t, "reason,fingerprint"))
	assert.Equal(t, uint64(10+1+1+5+1+1+1), counts(t, "reason")["payment"]+counts(t, "reason")["refund"]+counts(t, "reason")["other"])
}
