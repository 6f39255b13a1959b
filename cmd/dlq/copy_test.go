package main

import (
	"path/filepath"
	"testing"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entriesByID reads src back with the library's Reader.
func entriesByID(t *testing.T, src string) map[string]dlq.Entry {
	t.Helper()
	r, err := dlq.OpenReader(src, dlq.ReaderOptions{})
	require.NoError(t, err)
	out := map[string]dlq.Entry{}
	for rec, err := range r.All(t.Context()) {
		require.NoError(t, err)
		out[rec.Entry.ID] = rec.Entry
	}
	return out
}

// assertCopied checks that every fixture entry is in got, its envelope the
// same bytes.
func assertCopied(t *testing.T, got map[string]dlq.Entry) {
	t.Helper()
	require.Len(t, got, len(fixtureEntries()))
	for _, want := range fixtureEntries() {
		e, ok := got[want.ID]
		require.True(t, ok, want.ID)
		assert.Equal(t, string(dlq.AppendEnvelope(nil, &want)), string(dlq.AppendEnvelope(nil, &e)), want.ID)
	}
}

func TestCopyToFile(t *testing.T) {
	src := t.TempDir()
	writeFixture(t, src)
	dst := t.TempDir()
	out, err := run(t, "copy", src, "--to", "file://"+dst)
	require.NoError(t, err)
	assert.Equal(t, "copied 9 to file://"+dst+"; lost 0; unreadable 0\n", out)
	assertCopied(t, entriesByID(t, dst))
	assert.Len(t, entriesByID(t, filepath.Join(dst, "ingest")), 1, "one folder per service")

	t.Run("filtered", func(t *testing.T) {
		dst := t.TempDir()
		_, err := run(t, "copy", src, "--reason", "timeout", "--to", "file://"+dst)
		require.NoError(t, err)
		assert.Len(t, entriesByID(t, dst), 2)
	})
	t.Run("bad targets", func(t *testing.T) {
		_, err := run(t, "copy", src, "--to", "gopher://x")
		assert.ErrorContains(t, err, `scheme "gopher"`)
		_, err = run(t, "copy", src, "--to", "file://")
		assert.ErrorContains(t, err, "names no folder")
	})
}
