package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestQuickstart runs the example: it leaves no temporary folder behind,
// keeps the files in DLQ_DIR, and records the real parse errors.
func TestQuickstart(t *testing.T) {
	t.Run("a temporary folder is removed", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		t.Setenv("DLQ_DIR", "")
		require.NoError(t, run())
		left, err := os.ReadDir(tmp)
		require.NoError(t, err)
		assert.Empty(t, left)
	})
	t.Run("DLQ_DIR keeps the entries, each with its own error", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("DLQ_DIR", dir)
		require.NoError(t, run())
		data, err := os.ReadFile(filepath.Join(dir, "quickstart", "dlq.ndjson"))
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		require.Len(t, lines, 3, "the valid message is not a dead letter")
		assert.Contains(t, lines[0], `"error":"unexpected end of JSON input"`)
		assert.Contains(t, lines[1], `"error":"invalid character 'o' in literal null (expecting 'u')"`)
		assert.Contains(t, lines[2], `"reason":"validation_error"`)
		assert.Contains(t, lines[2], `field \"user\" is missing`)
	})
}
