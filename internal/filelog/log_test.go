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
