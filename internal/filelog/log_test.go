package filelog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/testenv"
)

func TestWriteRefusesALineLargerThanMaxBytesAlone(t *testing.T) {
	dir := t.TempDir()
	o := options(dir)
	o.MaxBytes = 100
	l := openLog(t, o)
	ls := [][]byte{[]byte(`{"id":"a"}`), []byte(`{"id":"` + strings.Repeat("x", 200) + `"}`), []byte(`{"id":"b"}`)}
	errs := make([]error, len(ls))
	err := l.Write(ls, errs)
	require.NoError(t, err, "a line too large is its own error, not the batch's")
	var tooLarge *TooLargeError
	require.ErrorAs(t, errs[1], &tooLarge)
	assert.Equal(t, int64(len(ls[1])+1), tooLarge.Size)
	assert.Equal(t, int64(100), tooLarge.Limit)
	assert.NoError(t, errs[0])
	assert.NoError(t, errs[2])
	require.NoError(t, l.Sync())
	require.NoError(t, l.Close())
	counts := linesIn(t, dir)
	requireOnce(t, counts, ls[:1], ls[2:])
	assert.Zero(t, counts[string(ls[1])])
}

func TestOpenCutsATornLastLine(t *testing.T) {
	dir := t.TempDir()
	whole := `{"id":"whole"}` + "\n"
	for _, torn := range []string{`{"id":"to`, `{"id":"` + strings.Repeat("y", 3*tailChunk)} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, LiveName), []byte(whole+torn), 0o600))
		l := openLog(t, options(dir))
		write(t, l, [][]byte{[]byte(`{"id":"next"}`)})
		require.NoError(t, l.Close())
		data, err := os.ReadFile(filepath.Join(dir, LiveName))
		require.NoError(t, err)
		assert.Equal(t, whole+`{"id":"next"}`+"\n", string(data))
	}
}

func TestASecondOpenOfAFolderFailsWithErrLocked(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, options(dir))
	_, err := Open(options(dir))
	require.ErrorIs(t, err, ErrLocked)
	var locked *LockedError
	require.ErrorAs(t, err, &locked)
	assert.Equal(t, os.Getpid(), locked.Holder)
	assert.Equal(t, dir, locked.Dir)
	require.NoError(t, l.Close())
	l2, err := Open(options(dir))
	require.NoError(t, err, "the lock ends with Close")
	require.NoError(t, l2.Close())
}

func TestOpenRefusesALinkedLiveFile(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte("theirs\n"), 0o600))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, LiveName)))
	_, err := Open(options(dir))
	require.ErrorIs(t, err, ErrLink)
	data, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "theirs\n", string(data))
}

// TestWriteRewritesWhatVanished: the file removed, renamed or truncated
// under the writer before a Sync; the lines written since the last Sync are
// written again into the new file, each once.
func TestWriteRewritesWhatVanished(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vanish func(t *testing.T, path string)
	}{
		{"rm", func(t *testing.T, path string) { require.NoError(t, os.Remove(path)) }},
		{"mv", func(t *testing.T, path string) {
			require.NoError(t, os.Rename(path, filepath.Join(t.TempDir(), "moved")))
		}},
		{"truncated", func(t *testing.T, path string) { require.NoError(t, os.Truncate(path, 0)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, options(dir))
			before, after := lines("a", 10), lines("b", 10)
			write(t, l, before)
			tc.vanish(t, filepath.Join(dir, LiveName))
			write(t, l, after)
			require.NoError(t, l.Sync())
			assert.Zero(t, l.Unconfirmed(), "a Sync confirms the lines: the copy empties")
			require.NoError(t, l.Close())
			requireOnce(t, linesIn(t, dir), before, after)
		})
	}
}

func TestTheFolderRemovedUnderTheWriterIsMadeAgain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "svc")
	l := openLog(t, options(dir))
	ls := lines("a", 10)
	write(t, l, ls)
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, l.Sync())
	_, err := Open(options(dir))
	require.ErrorIs(t, err, ErrLocked, "the folder made again is locked again")
	require.NoError(t, l.Close())
	requireOnce(t, linesIn(t, dir), ls)
}

// TestWriteOnAFullDiskFailsTheLinesNotWrittenWhole: ENOSPC part way
// through a write; the file is cut back to its last whole line, exactly the
// lines that did not get out whole get the error, and written again once
// there is room they are there once each.
func TestWriteOnAFullDiskFailsTheLinesNotWrittenWhole(t *testing.T) {
	fs := testenv.MountTmpfs(t, 1<<20)
	dir := filepath.Join(fs.Dir, "svc")
	l := openLog(t, options(dir))
	write(t, l, lines("a", 10))
	free := fs.Fill()
	ls := lines("b", 2000)
	errs := make([]error, len(ls))
	err := l.Write(ls, errs)
	require.Error(t, err)
	require.True(t, errors.Is(err, syscall.ENOSPC), "%v", err)
	var failed [][]byte
	for i, e := range errs {
		if e != nil {
			failed = append(failed, ls[i])
		}
	}
	require.NotEmpty(t, failed)
	free()
	write(t, l, failed)
	require.NoError(t, l.Sync())
	require.NoError(t, l.Close())
	data, err := os.ReadFile(filepath.Join(dir, LiveName))
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(string(data), "\n"))
	requireOnce(t, linesIn(t, dir), lines("a", 10), ls)
}

// BenchmarkLinkedCheck measures the identity check each Write and each Sync
// makes: a stat of the path and an fstat of the open file.
func BenchmarkLinkedCheck(b *testing.B) {
	l := openLog(b, options(b.TempDir()))
	write(b, l, lines("a", 1))
	require.NoError(b, l.Sync())
	b.ReportAllocs()
	for b.Loop() {
		l.mu.Lock()
		linked, _, err := l.linked()
		l.mu.Unlock()
		if err != nil || !linked {
			b.Fatal(linked, err)
		}
	}
}
