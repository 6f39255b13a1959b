package filelog

import (
	"bytes"
	"compress/gzip"
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

// linesInOrder returns the lines of dir's rotated files in the order of
// their names (gunzipped), then the live file's: the order a reader takes.
func linesInOrder(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, name := range rotated(t, dir) {
		out = append(out, fileLines(t, filepath.Join(dir, name))...)
	}
	if live := filepath.Join(dir, LiveName); exists(live) {
		out = append(out, fileLines(t, live)...)
	}
	return out
}

// TestRotateNamesNeverGoBack: the clock steps back two hours (NTP, a VM
// restored), and back again after a restart: each rotated file is still
// named after the one before, so names keep the order lines were written
// in, and no name is earlier than a line's time in its file.
func TestRotateNamesNeverGoBack(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	o := options(dir)
	o.Period = PeriodHourly
	o.Clock = func() time.Time { return now }
	l := openLog(t, o)
	write(t, l, lines("a", 2)) // 10:00
	now = now.Add(time.Hour)
	write(t, l, lines("b", 2)) // 11:00: a's file is named 11:00
	now = now.Add(-2 * time.Hour)
	write(t, l, lines("c", 2)) // 09:00: b's file is named just after 11:00, not 09:00
	require.NoError(t, l.Close())

	now = now.Add(-time.Hour) // 08:00, after a restart
	o.Period, o.MaxBytes = PeriodNone, 40
	l = openLog(t, o)
	write(t, l, lines("d", 3)) // c's file and two of d's lines rotate: named after b's
	require.NoError(t, l.Close())

	names := rotated(t, dir)
	require.Len(t, names, 4)
	at := make([]time.Time, len(names))
	for i, name := range names {
		var ok bool
		at[i], ok = RotatedAt(name)
		require.True(t, ok, name)
	}
	assert.Equal(t, time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC), at[0], "a's file: rotated at 11:00 by the clock")
	for i := 1; i < len(at); i++ {
		assert.True(t, at[i].After(at[i-1]), "%s after %s", names[i], names[i-1])
	}
	var want []string
	for _, g := range [][][]byte{lines("a", 2), lines("b", 2), lines("c", 2), lines("d", 3)} {
		for _, line := range g {
			want = append(want, string(line))
		}
	}
	assert.Equal(t, want, linesInOrder(t, dir), "read in the order of the names: the order written")
}

// TestRotateSkipsNamesTakenAfterOpen: names that appear in the folder
// after Open (copied back by an operator, plain or gzipped) are never
// overwritten: the rotation moves on by a millisecond past each.
func TestRotateSkipsNamesTakenAfterOpen(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	o := options(dir)
	o.MaxBytes = 40
	o.Clock = func() time.Time { return at }
	l := openLog(t, o)
	taken := []string{BackupName(at), BackupName(at.Add(time.Millisecond)) + GzSuffix}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("kept\n"))
	require.NoError(t, zw.Close())
	contents := [][]byte{[]byte("kept\n"), gz.Bytes()}
	for i, name := range taken {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), contents[i], 0o600))
	}
	write(t, l, lines("a", 3)) // two lines a file: one rotation
	require.NoError(t, l.Close())
	assert.Equal(t, append(taken, BackupName(at.Add(2*time.Millisecond))), rotated(t, dir))
	for i, name := range taken {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, contents[i], data, name)
	}
	requireOnce(t, linesIn(t, dir), lines("a", 3))
}
