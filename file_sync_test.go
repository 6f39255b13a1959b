package dlq

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/dlqkit/dlq/internal/testenv"
)

func TestFileSyncsWithoutFlush(t *testing.T) {
	t.Run("every sync_interval_ms", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, SyncIntervalMS: 5}})
		require.NoError(t, err)
		f := fileOf(t, o)
		sendIDs(t, o, idRange("a", 50), 10)
		awaitWritten(t, o, 50)
		// What is observed: the backend's own count of good fsyncs, and
		// its offset of the last one reaching the file's end. No Flush.
		require.Eventually(t, func() bool { return f.Syncs() > 0 && f.Durable() },
			30*time.Second, time.Millisecond, "the syncer fsyncs a dirty file")
		closeOK(t, o)
	})
	t.Run("not before the interval", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, SyncIntervalMS: hourMS}})
		require.NoError(t, err)
		f := fileOf(t, o)
		sendIDs(t, o, idRange("a", 50), 10)
		awaitWritten(t, o, 50)
		assert.Zero(t, f.Syncs(), "written, and left to the syncer an hour away")
		assert.False(t, f.Durable())
		flushOK(t, o)
		assert.True(t, f.Durable())
		closeOK(t, o)
	})
}

func TestFileCompressedRotationIsComplete(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, Compress: true}})
	require.NoError(t, err)
	ids := idRange("z", 3000)
	sendIDs(t, o, ids, 1000)
	flushOK(t, o)
	closeOK(t, o) // waits for the compression in progress
	svc := filepath.Join(dir, "svc")

	gz, err := filepath.Glob(filepath.Join(svc, "dlq-*.ndjson.gz"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(gz), 3)
	plain, err := filepath.Glob(filepath.Join(svc, "dlq-*.ndjson"))
	require.NoError(t, err)
	assert.Empty(t, plain, "each plain rotated file is gone once its .gz is whole")
	temps, err := filepath.Glob(filepath.Join(svc, ".dlq-*"))
	require.NoError(t, err)
	assert.Empty(t, temps)
	for _, name := range gz {
		info, err := os.Stat(name)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), name)
	}
	requireAll(t, idCounts(t, svc), ids) // each .gz decompresses whole
}

func TestFileUsesAnExistingGroupFolderAsItIs(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "svc")
	require.NoError(t, os.Mkdir(svc, 0o700))
	const nobody = 65534
	if err := os.Chown(svc, nobody, nobody); err != nil {
		testenv.SkipOrFail(t, fmt.Sprintf("chown needs root: %v", err))
	}
	require.NoError(t, os.Chmod(svc, os.ModeSetgid|0o775)) // a Kubernetes volume with fsGroup
	logs := &logBuffer{}
	o, err := New(Config{Service: "svc", Logger: logs.logger(), File: FileConfig{Dir: dir}})
	require.NoError(t, err, "no chmod of a folder the process may not own")
	sendIDs(t, o, idRange("a", 5), 10)
	closeOK(t, o)

	info, err := os.Stat(svc)
	require.NoError(t, err)
	assert.Equal(t, os.ModeDir|os.ModeSetgid|0o775, info.Mode(), "used as it is")
	assert.Equal(t, uint32(nobody), info.Sys().(*syscall.Stat_t).Uid)
	assert.Contains(t, logs.String(), "readable by group or others")
	file, err := os.Stat(filepath.Join(svc, filelog.LiveName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), file.Mode().Perm())
	requireAll(t, idCounts(t, svc), idRange("a", 5))
}

func TestFileCreatesMissingFoldersPrivate(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	logs := &logBuffer{}
	o, err := New(Config{Service: "svc", Logger: logs.logger(), File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	closeOK(t, o)
	for _, d := range []string{filepath.Join(base, "a"), dir, filepath.Join(dir, "svc")} {
		info, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, os.ModeDir|0o700, info.Mode(), d)
	}
	assert.False(t, strings.Contains(logs.String(), "readable"), "no warning about folders it made")
}
