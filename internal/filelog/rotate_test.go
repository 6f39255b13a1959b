package filelog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rotated returns the log's rotated files in dir, by name.
func rotated(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if _, _, _, ok := parseBackup(e.Name()); ok {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestRotateBySizeNamesFilesByTheClockInUTC(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 4, 20, 0, 0, 0, time.FixedZone("east", 3*3600))
	o := options(dir)
	o.MaxBytes = 200
	o.Clock = func() time.Time { return at }
	l := openLog(t, o)
	ls := lines("a", 30) // 18 bytes each: several files
	for _, line := range ls {
		write(t, l, [][]byte{line})
	}
	require.NoError(t, l.Sync())
	require.NoError(t, l.Close())
	names := rotated(t, dir)
	require.GreaterOrEqual(t, len(names), 2)
	for i, name := range names { // a taken name moves on by a millisecond
		assert.Equal(t, BackupName(at.UTC().Add(time.Duration(i)*time.Millisecond)), name)
		info, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.LessOrEqual(t, info.Size(), int64(200))
	}
	requireOnce(t, linesIn(t, dir), ls)
}

func TestRotateByPeriod(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 4, 20, 59, 0, 0, time.UTC)
	o := options(dir)
	o.Period = PeriodHourly
	o.Clock = func() time.Time { return now }
	l := openLog(t, o)
	write(t, l, lines("a", 3))
	now = now.Add(2 * time.Minute) // the next hour
	write(t, l, lines("b", 3))
	require.NoError(t, l.Close())
	assert.Equal(t, []string{BackupName(now)}, rotated(t, dir))
	requireOnce(t, linesIn(t, dir), lines("a", 3), lines("b", 3))
}
