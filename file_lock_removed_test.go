package dlq

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
