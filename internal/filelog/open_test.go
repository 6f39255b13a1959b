package filelog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
