package dlq

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/dlqkit/dlq/internal/testenv"
)

// chattr sets or clears a file attribute, e.g. "+i": immutable. It skips
// the test where chattr or the file system cannot (not root, not ext4 or
// similar), except in CI.
func chattr(t *testing.T, attr, name string) {
	t.Helper()
	if out, err := exec.Command("chattr", attr, name).CombinedOutput(); err != nil {
		testenv.SkipOrFail(t, fmt.Sprintf("chattr %s %s needs root and a file system that has it (ext4): %v: %s", attr, name, err, out))
	}
}

// TestFileCloseReportsLinesNeverMadeDurable: the file is removed and its
// folder made immutable, so that Close can neither reopen nor fsync it. The
// lines written since the last good fsync existed only in memory: Close's
// error and an error log say how many entries that is.
func TestFileCloseReportsLinesNeverMadeDurable(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "svc")
	logs := &logBuffer{}
	o, err := New(Config{Service: "svc", Mode: ModeFileOnly, Logger: logs.logger(),
		File: FileConfig{Dir: dir, Rotation: RotateNone, SyncIntervalMS: hourMS}})
	require.NoError(t, err)
	sendIDs(t, o, idRange("synced", 10), 10)
	flushOK(t, o)
	sendIDs(t, o, idRange("unsynced", 7), 10)
	awaitWritten(t, o, 17)

	require.NoError(t, os.Remove(filepath.Join(svc, filelog.LiveName)))
	chattr(t, "+i", svc)
	t.Cleanup(func() { chattr(t, "-i", svc) })
	ctx, cancel := context.WithTimeout(t.Context(), 30e9)
	defer cancel()
	err = o.Close(ctx)
	require.Error(t, err)
	assert.ErrorContains(t, err, "7 entries not made durable")
	assert.Contains(t, logs.String(), "never made durable")
	assert.Contains(t, logs.String(), "entries=7")
	s := o.Stats()
	assert.Equal(t, uint64(17), s.Written, "Written as Stats counted them, not counted again as lost")
	requireAccounted(t, s)
}
