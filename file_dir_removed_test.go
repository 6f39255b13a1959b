package dlq

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFileFolderRemovedUnderTheWriter: rm -rf of the service folder under
// a running writer. The backend makes the folder again (0700), writes
// there the lines not yet fsynced and every later one, and holds the lock
// of the new folder.
func TestFileFolderRemovedUnderTheWriter(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "svc")
	logs := &logBuffer{}
	o, err := New(Config{Service: "svc", Mode: ModeFileOnly, Logger: logs.logger(),
		File: FileConfig{Dir: dir, Rotation: RotateNone, SyncIntervalMS: hourMS}})
	require.NoError(t, err)
	sendIDs(t, o, idRange("synced", 10), 10)
	flushOK(t, o)

	// Written, not fsynced, then the folder goes.
	written := idRange("written", 10)
	sendIDs(t, o, written, 10)
	awaitWritten(t, o, 20)
	require.NoError(t, os.RemoveAll(svc))
	flushOK(t, o)
	t.Run("Flush writes the unsynced lines into the new folder", func(t *testing.T) {
		requireAll(t, idCounts(t, svc), written)
		info, err := os.Stat(svc)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())
		assert.Contains(t, logs.String(), "folder was removed under the writer")
	})
	t.Run("the new folder is locked", func(t *testing.T) {
		_, err := New(Config{Service: "svc", Mode: ModeFileOnly, Logger: discardLogger(), File: FileConfig{Dir: dir}})
		require.ErrorIs(t, err, ErrLocked)
	})

	// The folder goes between batches: the next batch makes it again.
	require.NoError(t, os.RemoveAll(svc))
	later := idRange("later", 10)
	sendIDs(t, o, later, 10)
	flushOK(t, o)
	t.Run("every entry Flush confirmed after the rm is in the new folder", func(t *testing.T) {
		requireAll(t, idCounts(t, svc), later)
	})
	closeOK(t, o)
	requireAll(t, idCounts(t, svc), later)
	s := o.Stats()
	assert.Equal(t, uint64(30), s.Written)
	requireAccounted(t, s)
}
