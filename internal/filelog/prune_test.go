package filelog

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPruneKeepsWhatNoSyncConfirmed: MaxBackups prunes the oldest rotated
// files, counting their lines, but never one rotated since the last Sync.
func TestPruneKeepsWhatNoSyncConfirmed(t *testing.T) {
	dir := t.TempDir()
	o := options(dir)
	o.MaxBytes = 100
	o.MaxBackups = 1
	l := openLog(t, o)
	for i := range 4 {
		write(t, l, lines(string(rune('a'+i)), 5)) // 18 bytes each: one file per batch
	}
	millPassed(t, l) // the mill's pass over the three rotations, if it were to prune
	assert.Zero(t, l.Pruned(), "nothing pruned before a Sync confirms it")
	assert.Len(t, rotated(t, dir), 3)
	require.NoError(t, l.Sync())
	millPassed(t, l)
	assert.Len(t, rotated(t, dir), 1, "the two older files pruned once a Sync confirmed them")
	assert.Equal(t, uint64(10), l.Pruned(), "the lines of the two files pruned")
	require.NoError(t, l.Close())
}
