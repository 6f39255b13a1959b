package dlq

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hourMS keeps the background sync out of a test's way.
const hourMS = 3_600_000

func TestFileDiskFullTearIsCutAndNothingFlushedIsLost(t *testing.T) {
	dir := mountTmpfs(t, "256k")
	o, err := New(Config{Service: "svc", Mode: ModeFileOnly, Logger: discardLogger(),
		Retry: RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 5},
		File:  FileConfig{Dir: dir, Rotation: RotateNone, SyncIntervalMS: hourMS}})
	require.NoError(t, err)
	before := idRange("before", 20)
	sendIDs(t, o, before, 1000)
	flushOK(t, o)

	// Fill the disk, then leave two pages free: the next batch's write
	// stops inside a line.
	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	require.NoError(t, os.Truncate(filler, statSize(t, filler)-2*4096))
	during := idRange("during", 100)
	sendIDs(t, o, during, 1000)
	ctx, cancel := context.WithTimeout(t.Context(), 10e9)
	defer cancel()
	require.ErrorIs(t, o.Flush(ctx), ErrNotWritten, "the disk is full")

	data, err := os.ReadFile(filepath.Join(dir, "svc", filelog.LiveName))
	require.NoError(t, err)
	require.Equal(t, byte('\n'), data[len(data)-1], "the torn line was cut at once")
	assert.Greater(t, bytes.Count(data, []byte("\n")), len(before), "part of the batch got in before the disk filled")
	idCounts(t, filepath.Join(dir, "svc")) // every line parses while the disk is full

	require.NoError(t, os.Remove(filler))
	flushOK(t, o)
	after := idRange("after", 20)
	sendIDs(t, o, after, 1000)
	closeOK(t, o)
	requireAll(t, idCounts(t, filepath.Join(dir, "svc")), before, during, after)
}

// fill writes name until the file system is full.
func fill(t *testing.T, name string) {
	t.Helper()
	f, err := os.Create(name)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			return
		}
	}
}

func statSize(t *testing.T, name string) int64 {
	t.Helper()
	info, err := os.Stat(name)
	require.NoError(t, err)
	return info.Size()
}

func TestFileRemovedOrRenamedUnderTheWriter(t *testing.T) {
	for _, test := range []struct {
		name  string
		touch func(path string, n int) error
		moved bool // the old file's lines are still in path.<n>
	}{
		{"rm", func(path string, _ int) error { return os.Remove(path) }, false},
		{"mv", func(path string, n int) error { return os.Rename(path, fmt.Sprintf("%s.%d", path, n)) }, true},
		{"copytruncate", func(path string, n int) error {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.WriteFile(fmt.Sprintf("%s.%d", path, n), data, 0o600); err != nil {
				return err
			}
			return os.Truncate(path, 0)
		}, true},
	} {
		t.Run(test.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "svc", filelog.LiveName)
			o, err := New(Config{Service: "svc", Mode: ModeFileOnly, Logger: discardLogger(),
				File: FileConfig{Dir: dir, Rotation: RotateNone, SyncIntervalMS: hourMS}})
			require.NoError(t, err)
			synced := idRange("synced", 10)
			sendIDs(t, o, synced, 10)
			flushOK(t, o)

			// Written, not fsynced, then the file goes: Flush writes them
			// into a new dlq.ndjson before it returns nil.
			written := idRange("written", 10)
			sendIDs(t, o, written, 10)
			awaitWritten(t, o, 20)
			require.NoError(t, test.touch(path, 1))
			flushOK(t, o)
			requireAll(t, idCountsIn(t, path), written)
			assert.NotContains(t, idCountsIn(t, path), synced[0], "fsynced before the %s: not written again", test.name)

			// The file goes between batches: the next batch notices and
			// goes to a new dlq.ndjson, before any Flush.
			require.NoError(t, test.touch(path, 2))
			later := idRange("later", 10)
			sendIDs(t, o, later, 10)
			awaitWritten(t, o, 30)
			requireAll(t, idCountsIn(t, path), later)
			flushOK(t, o)
			closeOK(t, o)
			requireAll(t, idCountsIn(t, path), later)
			if test.moved {
				requireAll(t, idCountsIn(t, path+".1"), synced, written)
				requireAll(t, idCountsIn(t, path+".2"), written)
			}
		})
	}
}

// idCountsIn is idCounts for one file.
func idCountsIn(t *testing.T, name string) map[string]int {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, filelog.LiveName), data, 0o600))
	return idCounts(t, dir)
}

// TestFileFailedFsyncIsNotConfirmed makes fsync fail for real: lossyfs
// fails every fsync with EIO, as a dying disk does. Flush must fail; once
// fsync works again, the lines since the last good fsync are written again
// and Flush succeeds. (A symlink to /dev/null, where fsync returns EINVAL,
// did this before; the file backend no longer follows a link.)
func TestFileFailedFsyncIsNotConfirmed(t *testing.T) {
	m := mountWithDir(t, "svc")
	path := filepath.Join(m.Dir(), "svc", filelog.LiveName)
	logs := &logBuffer{}
	o, err := New(Config{Service: "svc", Mode: ModeFileOnly, Logger: logs.logger(),
		File: FileConfig{Dir: m.Dir(), Rotation: RotateNone, SyncIntervalMS: hourMS}})
	require.NoError(t, err)
	// Should the test fail half way, its file must close before the mount
	// goes: a test binary that exits with files open on its own lossyfs
	// mount hangs.
	t.Cleanup(func() { m.FailFsyncs(0); abandon(o) })
	synced := idRange("synced", 10)
	sendIDs(t, o, synced, 10)
	flushOK(t, o)

	m.FailFsyncs(1 << 30)
	lost := idRange("unsynced", 10)
	sendIDs(t, o, lost, 10)
	awaitWritten(t, o, 20)
	ctx, cancel := context.WithTimeout(t.Context(), 10e9)
	defer cancel()
	err = o.Flush(ctx)
	require.Error(t, err, "fsync failed: nothing since the last good one is durable")
	assert.ErrorContains(t, err, "fsync")
	assert.Contains(t, logs.String(), "fsync failed")

	m.FailFsyncs(0)
	flushOK(t, o)
	closeOK(t, o)
	requireAll(t, idCountsIn(t, path), synced, lost)
}
