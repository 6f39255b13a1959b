package lossyfs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dlqkit/dlq/internal/lossyfs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// durable writes name under dir with data, fsyncs the file and the folder.
func durable(t *testing.T, dir, name, data string) {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(data), 0o600))
	syncPath(t, p)
	syncPath(t, dir)
}

func syncPath(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Sync())
}

func appendTo(t *testing.T, p, data string, sync bool) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString(data)
	require.NoError(t, err)
	if sync {
		require.NoError(t, f.Sync())
	}
}

func content(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

func TestFileData(t *testing.T) {
	t.Run("a write without fsync is gone after a crash", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		p := filepath.Join(m.Dir(), "f")
		durable(t, m.Dir(), "f", "one\n")
		appendTo(t, p, "two\n", false)
		require.Equal(t, "one\ntwo\n", content(t, p))
		m.Crash()
		assert.Equal(t, "one\n", content(t, p))
	})
	t.Run("a write fsynced survives", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		p := filepath.Join(m.Dir(), "f")
		durable(t, m.Dir(), "f", "one\n")
		appendTo(t, p, "two\n", true)
		appendTo(t, p, "three\n", false)
		m.Crash()
		assert.Equal(t, "one\ntwo\n", content(t, p))
	})
	t.Run("an overwrite and a truncate without fsync are undone", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		p := filepath.Join(m.Dir(), "f")
		durable(t, m.Dir(), "f", "0123456789")
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteAt([]byte("abc"), 2)
		require.NoError(t, err)
		require.NoError(t, f.Truncate(4))
		_, err = f.WriteAt([]byte("XYZ"), 6)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		require.Equal(t, "01ab\x00\x00XYZ", content(t, p))
		m.Crash()
		assert.Equal(t, "0123456789", content(t, p))
	})
	t.Run("O_TRUNC without fsync is undone", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		p := filepath.Join(m.Dir(), "f")
		durable(t, m.Dir(), "f", "keep me")
		require.NoError(t, os.WriteFile(p, []byte("new"), 0o600))
		m.Crash()
		assert.Equal(t, "keep me", content(t, p))
	})
	t.Run("files in the backing folder at mount are durable", func(t *testing.T) {
		backing := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(backing, "a", "b"), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(backing, "a", "b", "f"), []byte("old"), 0o600))
		m := lossyfs.Mount(t, backing)
		appendTo(t, filepath.Join(m.Dir(), "a", "b", "f"), "new", false)
		m.Crash()
		assert.Equal(t, "old", content(t, filepath.Join(m.Dir(), "a", "b", "f")))
		info, err := os.Stat(filepath.Join(m.Dir(), "a", "b"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "a rebuilt folder keeps its permissions")
	})
}

func TestCrashTornKeepsHalfTheUnsyncedTail(t *testing.T) {
	m := lossyfs.Mount(t, "")
	p := filepath.Join(m.Dir(), "f")
	durable(t, m.Dir(), "f", "one\n")
	appendTo(t, p, "two\nthree\n", false)
	m.CrashTorn()
	assert.Equal(t, "one\ntwo\nt", content(t, p))
	t.Run("a file whose name was never durable still vanishes", func(t *testing.T) {
		appendTo(t, filepath.Join(m.Dir(), "new"), "data", true)
		m.CrashTorn()
		assert.NoFileExists(t, filepath.Join(m.Dir(), "new"))
	})
}

func TestFailedFsyncLosesTheData(t *testing.T) {
	t.Run("a later good fsync does not bring it back", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		p := filepath.Join(m.Dir(), "f")
		durable(t, m.Dir(), "f", "one\n")
		m.FailFsyncs(1)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		defer f.Close()
		_, err = f.WriteString("two\n")
		require.NoError(t, err)
		require.Error(t, f.Sync(), "the injected EIO")
		_, err = f.WriteString("three\n")
		require.NoError(t, err)
		require.NoError(t, f.Sync())
		m.Crash()
		assert.Equal(t, "one\n\x00\x00\x00\x00three\n", content(t, p))
	})
	t.Run("written again, it is durable", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		p := filepath.Join(m.Dir(), "f")
		durable(t, m.Dir(), "f", "one\n")
		m.FailFsyncs(1)
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		require.NoError(t, err)
		defer f.Close()
		_, err = f.WriteAt([]byte("two\n"), 4)
		require.NoError(t, err)
		require.Error(t, f.Sync())
		require.NoError(t, f.Truncate(4)) // cut back to the last good fsync
		_, err = f.WriteAt([]byte("TWO\n"), 4)
		require.NoError(t, err)
		require.NoError(t, f.Sync())
		m.Crash()
		assert.Equal(t, "one\nTWO\n", content(t, p))
	})
}

func TestDirectoryEntries(t *testing.T) {
	t.Run("a new file fsynced in a folder never fsynced vanishes", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		p := filepath.Join(m.Dir(), "new")
		appendTo(t, p, "data", true)
		m.Crash()
		assert.NoFileExists(t, p)
	})
	t.Run("a new file and its folder fsynced survive", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		durable(t, m.Dir(), "new", "data")
		m.Crash()
		assert.Equal(t, "data", content(t, filepath.Join(m.Dir(), "new")))
	})
	t.Run("a folder fsynced but not the new file leaves it empty", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		p := filepath.Join(m.Dir(), "new")
		appendTo(t, p, "data", false)
		syncPath(t, m.Dir())
		m.Crash()
		assert.Equal(t, "", content(t, p))
	})
	t.Run("a rename not made durable is undone", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		durable(t, m.Dir(), "a", "A")
		durable(t, m.Dir(), "b", "B")
		require.NoError(t, os.Rename(filepath.Join(m.Dir(), "a"), filepath.Join(m.Dir(), "b")))
		m.Crash()
		assert.Equal(t, "A", content(t, filepath.Join(m.Dir(), "a")))
		assert.Equal(t, "B", content(t, filepath.Join(m.Dir(), "b")), "the replaced file comes back")
	})
	t.Run("a rename made durable stays", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		durable(t, m.Dir(), "a", "A")
		require.NoError(t, os.Rename(filepath.Join(m.Dir(), "a"), filepath.Join(m.Dir(), "c")))
		syncPath(t, m.Dir())
		m.Crash()
		assert.NoFileExists(t, filepath.Join(m.Dir(), "a"))
		assert.Equal(t, "A", content(t, filepath.Join(m.Dir(), "c")))
	})
	t.Run("an unlink not made durable is undone", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		durable(t, m.Dir(), "a", "A")
		require.NoError(t, os.Remove(filepath.Join(m.Dir(), "a")))
		m.Crash()
		assert.Equal(t, "A", content(t, filepath.Join(m.Dir(), "a")))
	})
	t.Run("a new folder whose parent was never fsynced vanishes with its files", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		sub := filepath.Join(m.Dir(), "svc")
		require.NoError(t, os.Mkdir(sub, 0o700))
		durable(t, sub, "f", "data")
		m.Crash()
		assert.NoDirExists(t, sub)
	})
	t.Run("a new folder made durable keeps its durable files", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		sub := filepath.Join(m.Dir(), "svc")
		require.NoError(t, os.Mkdir(sub, 0o700))
		durable(t, sub, "f", "data")
		syncPath(t, m.Dir())
		m.Crash()
		assert.Equal(t, "data", content(t, filepath.Join(sub, "f")))
	})
}

func TestCrashKillsOpenFiles(t *testing.T) {
	m := lossyfs.Mount(t, "")
	durable(t, m.Dir(), "f", "one\n")
	f, err := os.OpenFile(filepath.Join(m.Dir(), "f"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	m.Crash()
	_, err = f.WriteString("after the crash\n")
	assert.Error(t, err, "a write from before the crash must not land")
	assert.Error(t, f.Sync())
	require.NoError(t, f.Close())
	assert.Equal(t, "one\n", content(t, filepath.Join(m.Dir(), "f")))
	t.Run("the new mount works", func(t *testing.T) {
		durable(t, m.Dir(), "g", "two")
		m.Crash()
		assert.Equal(t, "two", content(t, filepath.Join(m.Dir(), "g")))
	})
}

// A file that a test leaves open, and a goroutine that goes on writing to
// it, must not keep the mount alive past the test: the test binary would
// exit with requests in flight on its own mount, and wedge.
func TestCleanupAbortsAMountALeakedFileKeepsServing(t *testing.T) {
	h := startHelper(t, "leak", "10m")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.True(t, h.wait(ctx), "the helper did not end:\n%s", h.out.String())
	out := h.out.String()
	assert.Contains(t, out, "the subtest is over")
	assert.Regexp(t, `still serves .* after the test: a file under it is still open; aborting FUSE connection \d+`, out)
}
