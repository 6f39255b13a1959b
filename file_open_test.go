package dlq

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/dlqkit/dlq/internal/filelog"
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
