package filelog

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
