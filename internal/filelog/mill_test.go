package filelog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMillFinishesAnInterruptedCompression: a plain rotated file a crash
// left uncompressed is compressed at Open, and a half-written .gz.tmp
// whose plain file is gone is removed.
func TestMillFinishesAnInterruptedCompression(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, BackupName(time.Now().UTC()))
	require.NoError(t, os.WriteFile(plain, []byte(`{"id":"left-plain"}`+"\n"), 0o600))
	half := tempName(filepath.Join(dir, BackupName(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))) // its plain file is gone
	require.NoError(t, os.WriteFile(half, []byte("\x1f\x8b half a gzip"), 0o600))

	o := options(dir)
	o.Compress = true
	l := openLog(t, o)
	require.NoError(t, l.Close()) // waits for the mill's pass
	assert.NoFileExists(t, plain)
	assert.NoFileExists(t, half)
	assert.FileExists(t, plain+GzSuffix)
	assert.Equal(t, 1, linesIn(t, dir)[`{"id":"left-plain"}`])
}

func TestCompressKeepsTheModTime(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, BackupName(time.Now().UTC()))
	require.NoError(t, os.WriteFile(plain, []byte(`{"id":"a"}`+"\n"), 0o600))
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	require.NoError(t, os.Chtimes(plain, time.Time{}, old))
	o := options(dir)
	o.Compress = true
	l := openLog(t, o)
	require.NoError(t, l.Close())
	info, err := os.Stat(plain + GzSuffix)
	require.NoError(t, err)
	assert.True(t, info.ModTime().Equal(old), "pruning goes by it: %v", info.ModTime())
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}
