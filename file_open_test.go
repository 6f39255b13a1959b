package dlq

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// victimFile writes a file outside the DLQ folder, its last line torn, as
// a file a link could point the writer at, and returns its path and
// bytes.
func victimFile(t *testing.T) (string, []byte) {
	t.Helper()
	victim := filepath.Join(t.TempDir(), "victim.conf")
	data := []byte("precious = 1\nlast line without a newline")
	require.NoError(t, os.WriteFile(victim, data, 0o644))
	return victim, data
}

// requireUnchanged requires the file at name to hold want, byte for byte.
func requireUnchanged(t *testing.T, name string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "the link's target is untouched")
}

func TestFileOpenRefusesAPlantedLink(t *testing.T) {
	for _, name := range []string{filelog.LiveName, filelog.LockName} {
		t.Run(name+" at New", func(t *testing.T) {
			dir := t.TempDir()
			victim, data := victimFile(t)
			link := filepath.Join(dir, "svc", name)
			require.NoError(t, os.Mkdir(filepath.Dir(link), 0o700))
			require.NoError(t, os.Symlink(victim, link))

			o, err := New(Config{Service: "svc", Logger: discardLogger(), File: FileConfig{Dir: dir}})
			if o != nil {
				closeOK(t, o)
			}
			require.ErrorIs(t, err, filelog.ErrLink)
			assert.ErrorContains(t, err, link+` (to "`+victim+`") is a symbolic link`)
			requireUnchanged(t, victim, data)
		})
	}
	t.Run("a link to nowhere at New", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(t.TempDir(), "made-by-the-writer")
		link := filepath.Join(dir, "svc", filelog.LiveName)
		require.NoError(t, os.Mkdir(filepath.Dir(link), 0o700))
		require.NoError(t, os.Symlink(target, link))
		_, err := New(Config{Service: "svc", Logger: discardLogger(), File: FileConfig{Dir: dir}})
		require.ErrorIs(t, err, filelog.ErrLink)
		assert.NoFileExists(t, target)
	})
	t.Run("a FIFO at New", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "svc", filelog.LiveName)
		require.NoError(t, os.Mkdir(filepath.Dir(path), 0o700))
		require.NoError(t, syscall.Mkfifo(path, 0o600))
		o, err := New(Config{Service: "svc", Logger: discardLogger(), File: FileConfig{Dir: dir}})
		if o != nil {
			closeOK(t, o)
		}
		require.Error(t, err)
		assert.ErrorContains(t, err, path+" is not a regular file")
	})
}

// TestFileOpenReplacesALinkPlantedUnderTheWriter: the running writer finds
// its file replaced by a link. It never writes through the link: it
// removes the link (the target is untouched) and writes the entries into
// a new file of its own, none lost.
func TestFileOpenReplacesALinkPlantedUnderTheWriter(t *testing.T) {
	dir := t.TempDir()
	victim, data := victimFile(t)
	path := filepath.Join(dir, "svc", filelog.LiveName)
	logs := &logBuffer{}
	o, err := New(Config{Service: "svc", Mode: ModeFileOnly, Logger: logs.logger(), File: FileConfig{Dir: dir, Rotation: RotateNone}})
	require.NoError(t, err)
	sendIDs(t, o, idRange("before", 10), 10)
	flushOK(t, o)

	require.NoError(t, os.Remove(path))
	require.NoError(t, os.Symlink(victim, path))
	after := idRange("after", 10)
	sendIDs(t, o, after, 10)
	flushOK(t, o)
	closeOK(t, o)

	requireUnchanged(t, victim, data)
	info, err := os.Lstat(path)
	require.NoError(t, err)
	assert.True(t, info.Mode().IsRegular(), "a file of the writer's own: %s", info.Mode())
	counts := idCountsIn(t, path)
	requireAll(t, counts, after)
	assert.Len(t, counts, len(after), "the flushed entries went with the removed file")
	assert.Zero(t, o.Stats().Lost)
	assert.Contains(t, logs.String(), "a symbolic link replaced the file under the writer")
}

func TestFileSecondWriterOnAFolderFailsWithErrLocked(t *testing.T) {
	t.Run("same process", func(t *testing.T) {
		dir := t.TempDir()
		first, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.NoError(t, err)

		_, err = New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.ErrorIs(t, err, ErrLocked, "flock conflicts across open file descriptions in one process")
		assert.ErrorContains(t, err, "pid "+strconv.Itoa(os.Getpid()))
		assert.ErrorContains(t, err, "dir: /var/dlq/${HOSTNAME}")

		sendIDs(t, first, idRange("a", 10), 10)
		closeOK(t, first)
		second, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.NoError(t, err, "Close releases the lock")
		sendIDs(t, second, idRange("b", 10), 10)
		closeOK(t, second)
		requireAll(t, idCounts(t, filepath.Join(dir, "svc")), idRange("a", 10), idRange("b", 10))
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
		lines := bufio.NewScanner(stdout)
		require.True(t, lines.Scan(), "the child reports its lock")
		require.Equal(t, "locked", lines.Text())

		_, err = New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.ErrorIs(t, err, ErrLocked)
		assert.ErrorContains(t, err, fmt.Sprintf("pid %d", child.Process.Pid))

		require.NoError(t, child.Process.Kill()) // no Close: death releases the lock
		_ = stdin.Close()
		_ = child.Wait()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.NoError(t, err, "the lock dies with its holder")
		closeOK(t, o)
	})
}

// TestFileLockHolderChild is the child of the test above: it holds the
// folder until its stdin closes or it is killed.
func TestFileLockHolderChild(t *testing.T) {
	dir := os.Getenv("DLQ_LOCK_CHILD_DIR")
	if dir == "" {
		t.Skip("runs as a child of TestFileSecondWriterOnAFolderFailsWithErrLocked")
	}
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadByte()
	closeOK(t, o)
}

// TestFileLockRefusesAServiceFolderLinkedByAnotherUser: a link planted as
// <dir>/<service> by another user is refused before anything is written
// where it points; one made by this process's user (or root) is followed.
func TestFileLockRefusesAServiceFolderLinkedByAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "a link owned by another user needs root to make (lchown): run the tests as root")
	}
	const nobody = 65534
	for _, test := range []struct {
		name    string
		owner   int
		refused bool
	}{
		{"owned by another user", nobody, true},
		{"owned by root", 0, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			dir, elsewhere := t.TempDir(), t.TempDir()
			link := filepath.Join(dir, "svc")
			require.NoError(t, os.Symlink(elsewhere, link))
			require.NoError(t, os.Lchown(link, test.owner, test.owner))

			o, err := New(Config{Service: "svc", Logger: discardLogger(), File: FileConfig{Dir: dir}})
			if !test.refused {
				require.NoError(t, err)
				require.NoError(t, o.Send(Entry{ID: "a", Reason: "r"}))
				closeOK(t, o)
				assert.FileExists(t, filepath.Join(elsewhere, filelog.LiveName), "the link is followed")
				return
			}
			require.Error(t, err)
			assert.ErrorContains(t, err, fmt.Sprintf("%s (to %q) is a symbolic link owned by uid %d", link, elsewhere, nobody))
			entries, err := os.ReadDir(elsewhere)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing made where the link points")
		})
	}
}

// TestFileLockPidOfAFIFO: a FIFO planted as .lock while a writer holds the
// folder does not hang a second New, which reads the holder's pid there:
// it fails with ErrLocked at once, the pid unknown.
func TestFileLockPidOfAFIFO(t *testing.T) {
	dir := t.TempDir()
	first, err := New(Config{Service: "svc", Logger: discardLogger(), File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	defer closeOK(t, first)
	lock := filepath.Join(dir, "svc", filelog.LockName)
	require.NoError(t, os.Remove(lock))
	require.NoError(t, syscall.Mkfifo(lock, 0o600))

	done := make(chan error, 1)
	go func() {
		_, err := New(Config{Service: "svc", Logger: discardLogger(), File: FileConfig{Dir: dir}})
		done <- err
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrLocked)
		assert.ErrorContains(t, err, "another process (pid unknown)")
	case <-ctx.Done():
		// Let the blocked reader go, so that the test ends.
		f, _ := os.OpenFile(lock, os.O_WRONLY, 0)
		_ = f.Close()
		<-done
		t.Fatal("New hangs reading the holder's pid from a FIFO")
	}
}
