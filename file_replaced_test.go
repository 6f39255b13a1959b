package dlq

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFileReplacedUnderTheWriter: logrotate's create mode renames the
// file aside and puts a new empty one at its path. The writer's file is
// then no longer the one at the path, though the path exists and is not
// smaller than what the writer holds: the next batch must notice and go
// to the new file, not on into the renamed one.
func TestFileReplacedUnderTheWriter(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc", filelog.LiveName)
	o, err := New(Config{Service: "svc", Mode: ModeFileOnly, Logger: discardLogger(),
		File: FileConfig{Dir: dir, Rotation: RotateNone, SyncIntervalMS: hourMS}})
	require.NoError(t, err)
	synced := idRange("synced", 10)
	sendIDs(t, o, synced, 10)
	flushOK(t, o)

	require.NoError(t, os.Rename(path, path+".1"))
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	later := idRange("later", 10)
	sendIDs(t, o, later, 10)
	awaitWritten(t, o, 20)
	requireAll(t, idCountsIn(t, path), later)
	flushOK(t, o)
	closeOK(t, o)
	requireAll(t, idCountsIn(t, path), later)
	requireAll(t, idCountsIn(t, path+".1"), synced)
	assert.NotContains(t, idCountsIn(t, path+".1"), later[0], "nothing written into the renamed file")
}
