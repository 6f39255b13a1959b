package filelog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAFolderRemovedUnderTheWriterIsMadeAgain(t *testing.T) {
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
