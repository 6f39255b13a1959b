package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

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
