package dlq

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/dlqkit/dlq/internal/testenv"
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

// TestFileFailedFsyncAfterBackgroundSyncWritesOnlyTheRest: lines the
// syncer fsynced, not yet confirmed by a Flush, stay in place when a later
// fsync of the same file fails; only the lines since the good fsync are
// written again. After a power cut every entry is there exactly once.
func TestFileFailedFsyncAfterBackgroundSyncWritesOnlyTheRest(t *testing.T) {
	m := mountWithDir(t, "svc")
	o, err := New(Config{Service: "svc", Logger: quiet, File: FileConfig{Dir: m.Dir(), Rotation: RotateNone, SyncIntervalMS: 5},
		Retry: RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 10}})
	require.NoError(t, err)
	f := fileOf(t, o)
	sendIDs(t, o, idRange("a", 10), 10)
	awaitWritten(t, o, 10)
	require.Eventually(t, func() bool { return f.Syncs() > 0 && f.Durable() },
		30*time.Second, time.Millisecond, "the syncer fsyncs the a lines; no Flush")

	m.FailFsyncs(1)
	sendIDs(t, o, idRange("b", 10), 10)
	var flushErr error
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		flushErr = o.Flush(ctx)
		cancel()
		if flushErr == nil {
			break
		}
	}
	require.NoError(t, flushErr, "Flush succeeds once fsync works again")
	m.PowerOff()
	abandon(o)
	m.PowerOn()
	requireAll(t, idCounts(t, filepath.Join(m.Dir(), "svc")), idRange("a", 10), idRange("b", 10))
}

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

// TestFileVanishedAfterBackgroundSyncIsWrittenAgain removes or renames
// dlq.ndjson after the syncer fsynced its lines and before any Flush. The
// lines are durable, but in a file that left the folder: Flush must not
// return nil until they sit in the file linked at path.
func TestFileVanishedAfterBackgroundSyncIsWrittenAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vanish func(t *testing.T, path, dir string)
	}{
		{"rm", func(t *testing.T, path, _ string) { require.NoError(t, os.Remove(path)) }},
		{"mv out of the folder", func(t *testing.T, path, dir string) {
			require.NoError(t, os.Rename(path, filepath.Join(dir, "moved.ndjson")))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, SyncIntervalMS: 5}})
			require.NoError(t, err)
			f := fileOf(t, o)
			ids := idRange("a", 10)
			sendIDs(t, o, ids, 10)
			awaitWritten(t, o, 10)
			require.Eventually(t, func() bool { return f.Syncs() > 0 && f.Durable() },
				30*time.Second, time.Millisecond, "the syncer fsyncs the 10 lines; no Flush yet")

			svc := filepath.Join(dir, "svc")
			tc.vanish(t, filepath.Join(svc, filelog.LiveName), dir)
			flushOK(t, o)
			requireAll(t, idCounts(t, svc), ids)
			closeOK(t, o)
			requireAll(t, idCounts(t, svc), ids)
		})
	}
	t.Run("a Flush before the rm confirms the lines", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, SyncIntervalMS: hourMS}})
		require.NoError(t, err)
		f := fileOf(t, o)
		sendIDs(t, o, idRange("a", 10), 10)
		flushOK(t, o)
		kept := f.Unconfirmed()
		require.Zero(t, kept, "confirmed lines leave the copy: memory stays bounded")
		closeOK(t, o)
	})
}

// TestFileLockFileRemovedKeepsOneWriter removes .lock under a running
// writer, as an operator would a stale-looking pid file: a second writer
// must still fail with ErrLocked, and the first keeps every entry.
func TestFileLockFileRemovedKeepsOneWriter(t *testing.T) {
	t.Run("same process", func(t *testing.T) {
		dir := t.TempDir()
		svc := filepath.Join(dir, "svc")
		first, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, SyncIntervalMS: 5}})
		require.NoError(t, err)
		sendIDs(t, first, idRange("a", 10), 10)
		flushOK(t, first)

		lock := filepath.Join(svc, filelog.LockName)
		require.NoError(t, os.Remove(lock))
		_, err = New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.ErrorIs(t, err, ErrLocked, "the folder itself is locked, not only the file that was removed")

		// The holder's next background sync puts .lock back, with its pid.
		sendIDs(t, first, idRange("b", 10), 10)
		require.Eventually(t, func() bool {
			data, _ := os.ReadFile(lock)
			return strings.TrimSpace(string(data)) == strconv.Itoa(os.Getpid())
		}, 30*time.Second, time.Millisecond)
		_, err = New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.ErrorIs(t, err, ErrLocked)
		assert.ErrorContains(t, err, "pid "+strconv.Itoa(os.Getpid()))

		require.NoError(t, os.Rename(lock, filepath.Join(dir, "moved-lock")))
		_, err = New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.ErrorIs(t, err, ErrLocked, "mv of .lock neither")

		flushOK(t, first)
		closeOK(t, first)
		second, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.NoError(t, err, "Close releases the folder")
		closeOK(t, second)
		requireAll(t, idCounts(t, svc), idRange("a", 10), idRange("b", 10))
	})
	t.Run("other process", func(t *testing.T) {
		dir := t.TempDir()
		child := exec.Command(os.Args[0], "-test.run=^TestFileLockHolderChild$")
		child.Env = append(os.Environ(), "DLQ_LOCK_CHILD_DIR="+dir)
		stdout, err := child.StdoutPipe()
		require.NoError(t, err)
		stdin, err := child.StdinPipe()
		require.NoError(t, err)
		require.NoError(t, child.Start())
		t.Cleanup(func() {
			_ = child.Process.Kill()
			_ = stdin.Close()
			_ = child.Wait()
		})
		lines := bufio.NewScanner(stdout)
		require.True(t, lines.Scan(), "the child reports its lock")
		require.Equal(t, "locked", lines.Text())

		require.NoError(t, os.Remove(filepath.Join(dir, "svc", filelog.LockName)))
		_, err = New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.ErrorIs(t, err, ErrLocked)
	})
}
