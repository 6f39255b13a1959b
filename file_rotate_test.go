package dlq

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sendLines writes n entries of about size bytes each and flushes.
func sendLines(t *testing.T, o *Orchestrator, prefix string, n, size int) {
	t.Helper()
	for i := range n {
		payload := fmt.Sprintf("%s-%05d-%s", prefix, i, strings.Repeat("x", size))
		require.NoError(t, o.SendContext(t.Context(), Entry{Reason: "r", Payload: []byte(payload)}))
	}
	flushOK(t, o)
}

func backups(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "dlq-*"))
	require.NoError(t, err)
	return files
}

func TestFileRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1}})
	require.NoError(t, err)
	sendLines(t, o, "s", 3000, 1000) // ~4 MB of base64
	closeOK(t, o)

	svc := filepath.Join(dir, "svc")
	assert.GreaterOrEqual(t, len(backups(t, svc)), 3)
	for _, name := range append(backups(t, svc), filepath.Join(svc, filelog.LiveName)) {
		info, err := os.Stat(name)
		require.NoError(t, err)
		assert.LessOrEqual(t, info.Size(), int64(megabyte), name)
	}
	assert.Len(t, readDir(t, svc), 3000, "every entry is in one of the files")
	assert.Equal(t, 3000, countLines(t, svc), "none twice")
}

func TestFileRotatesHourlyAndDailyByClock(t *testing.T) {
	for _, test := range []struct {
		rotation Rotation
		within   time.Duration // a step that stays in the period
		next     time.Duration // a step into the next period
	}{
		{RotateHourly, 20 * time.Minute, time.Hour},
		{RotateDaily, 5 * time.Hour, 24 * time.Hour},
	} {
		t.Run(string(test.rotation), func(t *testing.T) {
			dir := t.TempDir()
			clock := newFakeClock(time.Date(2026, 11, 26, 0, 1, 0, 0, time.UTC))
			o, err := New(Config{Service: "svc", Clock: clock.Now, File: FileConfig{Dir: dir, Rotation: test.rotation}})
			require.NoError(t, err)
			svc := filepath.Join(dir, "svc")

			sendLines(t, o, "first", 10, 10)
			clock.Add(test.within)
			sendLines(t, o, "same-period", 10, 10)
			assert.Empty(t, backups(t, svc), "no rotation within the period")

			clock.Add(test.next)
			sendLines(t, o, "next-period", 10, 10)
			closeOK(t, o)
			require.Len(t, backups(t, svc), 1)

			current := byPayload(readDir(t, svc))
			assert.Len(t, current, 30)
			data, err := os.ReadFile(filepath.Join(svc, filelog.LiveName))
			require.NoError(t, err)
			assert.Equal(t, 10, strings.Count(string(data), "\n"), "the current file holds only the new period's entries")
		})
	}
}

func TestFileRotatesAnOldFileFoundAtStart(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "svc")
	clock := newFakeClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	o, err := New(Config{Service: "svc", Clock: clock.Now, File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	sendLines(t, o, "old", 3, 10)
	closeOK(t, o)
	old := clock.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(svc, filelog.LiveName), old, old))

	o, err = New(Config{Service: "svc", Clock: clock.Now, File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	sendLines(t, o, "new", 3, 10)
	closeOK(t, o)
	assert.Len(t, backups(t, svc), 1, "the file from an earlier hour is rotated before the first write")
}

func TestFileRotationNoneNeverRotates(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	o, err := New(Config{Service: "svc", Clock: clock.Now, File: FileConfig{Dir: dir, Rotation: RotateNone, MaxSizeMB: 1}})
	require.NoError(t, err)
	sendLines(t, o, "a", 1500, 1000)
	clock.Add(48 * time.Hour)
	sendLines(t, o, "b", 10, 10)
	closeOK(t, o)
	assert.Empty(t, backups(t, filepath.Join(dir, "svc")))
	assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 1510)
}

// TestFileTimeRotationAlsoRotatesBySize: hourly and daily files are also
// cut at max_size_mb, within one period, and the period change still
// rotates.
func TestFileTimeRotationAlsoRotatesBySize(t *testing.T) {
	for _, rotation := range []Rotation{RotateHourly, RotateDaily} {
		t.Run(string(rotation), func(t *testing.T) {
			dir := t.TempDir()
			clock := newFakeClock(time.Date(2026, 11, 26, 0, 1, 0, 0, time.UTC))
			o, err := New(Config{Service: "svc", Clock: clock.Now, BatchSize: 64,
				File: FileConfig{Dir: dir, Rotation: rotation, MaxSizeMB: 1}})
			require.NoError(t, err)
			svc := filepath.Join(dir, "svc")
			sendLines(t, o, "big", 625, 4000) // over 3 MB of envelopes within the period
			bySize := len(backups(t, svc))
			assert.GreaterOrEqual(t, bySize, 3, "cuts by size within the period")
			clock.Add(25 * time.Hour)
			sendLines(t, o, "next", 10, 10)
			closeOK(t, o)
			assert.Len(t, backups(t, svc), bySize+1, "and one at the period's end")
			assert.Len(t, readDir(t, svc), 635)
			for _, name := range append(backups(t, svc), filepath.Join(svc, filelog.LiveName)) {
				assert.LessOrEqual(t, fileSize(t, name), int64(1<<20), "%s within max_size_mb", filepath.Base(name))
			}
		})
	}
}

func fileSize(t *testing.T, name string) int64 {
	t.Helper()
	info, err := os.Stat(name)
	require.NoError(t, err)
	return info.Size()
}

// TestFileRotatedNames: a rotated file is named in UTC whatever the
// Clock's zone, and rotations within one millisecond (a frozen Clock) get
// names of their own, plain or gzipped, so none replaces another.
func TestFileRotatedNames(t *testing.T) {
	t.Run("UTC", func(t *testing.T) {
		dir := t.TempDir()
		zone := time.FixedZone("UTC+05:30", 5*3600+30*60)
		clock := newFakeClock(time.Date(2026, 3, 4, 1, 2, 3, 4_000_000, zone))
		o, err := New(Config{Service: "svc", Clock: clock.Now, File: FileConfig{Dir: dir}})
		require.NoError(t, err)
		sendFlushed(t, o, idRange("before", 3))
		clock.Add(time.Hour)
		sendFlushed(t, o, idRange("after", 3))
		closeOK(t, o)
		assert.Equal(t, []string{filepath.Join(dir, "svc", "dlq-2026-03-03T20-32-03.004.ndjson")}, backups(t, filepath.Join(dir, "svc")))
	})
	t.Run("within a millisecond", func(t *testing.T) {
		dir := t.TempDir()
		svc := filepath.Join(dir, "svc")
		clock := newFakeClock(time.Date(2026, 3, 4, 1, 2, 3, 0, time.UTC))
		o, err := New(Config{Service: "svc", Clock: clock.Now, Logger: discardLogger(),
			File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, Compress: true}})
		require.NoError(t, err)
		var all [][]string
		for k := range 3 {
			ids := idRange(fmt.Sprintf("ms%d", k), 1100)
			sendIDs(t, o, ids, 1000) // over 1 MB: the file rotates once
			flushOK(t, o)
			all = append(all, ids)
			// Wait for the mill to gzip it: the next name must not take a
			// .gz's place either.
			require.Eventually(t, func() bool {
				files := backups(t, svc)
				for _, f := range files {
					if !strings.HasSuffix(f, filelog.GzSuffix) {
						return false
					}
				}
				return len(files) > k
			}, 30*time.Second, time.Millisecond, "the mill gzips rotated file %d", k)
		}
		closeOK(t, o)
		requireAll(t, idCounts(t, svc), all...)
		names := backups(t, svc)
		require.GreaterOrEqual(t, len(names), 3)
		for i, name := range names { // in name order
			want := filelog.BackupName(clock.Now().UTC().Add(time.Duration(i) * time.Millisecond))
			assert.Equal(t, filepath.Join(svc, want+filelog.GzSuffix), name)
		}
	})
}

func TestFileCompressesRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, Compress: true}})
	require.NoError(t, err)
	sendLines(t, o, "z", 2000, 1000)
	closeOK(t, o)
	svc := filepath.Join(dir, "svc")
	require.Eventually(t, func() bool {
		for _, b := range backups(t, svc) {
			if !strings.HasSuffix(b, ".gz") {
				return false
			}
		}
		return len(backups(t, svc)) > 0
	}, 10*time.Second, 10*time.Millisecond, "the mill gzips rotated files in the background")
	assert.Len(t, readDir(t, svc), 2000, "every entry readable from the .gz and current files")
}

func TestFileCompressedRotationIsComplete(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, Compress: true}})
	require.NoError(t, err)
	ids := idRange("z", 3000)
	sendIDs(t, o, ids, 1000)
	flushOK(t, o)
	closeOK(t, o) // waits for the compression in progress
	svc := filepath.Join(dir, "svc")

	gz, err := filepath.Glob(filepath.Join(svc, "dlq-*.ndjson.gz"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(gz), 3)
	plain, err := filepath.Glob(filepath.Join(svc, "dlq-*.ndjson"))
	require.NoError(t, err)
	assert.Empty(t, plain, "each plain rotated file is gone once its .gz is whole")
	temps, err := filepath.Glob(filepath.Join(svc, ".dlq-*"))
	require.NoError(t, err)
	assert.Empty(t, temps)
	for _, name := range gz {
		info, err := os.Stat(name)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), name)
	}
	requireAll(t, idCounts(t, svc), ids) // each .gz decompresses whole
}

// TestFileCompressKeepsModTime: a rotated file's .gz keeps the plain
// file's modification time, which pruning goes by after a restart.
func TestFileCompressKeepsModTime(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "svc")
	require.NoError(t, os.MkdirAll(svc, 0o700))
	name := filepath.Join(svc, "dlq-2026-01-01T00-00-00.000.ndjson")
	require.NoError(t, os.WriteFile(name, []byte("{}\n"), 0o600))
	tenDays := time.Now().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	require.NoError(t, os.Chtimes(name, tenDays, tenDays))
	o, err := New(Config{Service: "svc", Logger: discardLogger(), File: FileConfig{Dir: dir, Compress: true}})
	require.NoError(t, err)
	closeOK(t, o) // the mill's first pass is done by then
	info, err := os.Stat(name + filelog.GzSuffix)
	require.NoError(t, err)
	assert.True(t, info.ModTime().Equal(tenDays), "the .gz's modification time %s, the plain file's %s", info.ModTime(), tenDays)
}

func TestFileMaxBackupsAndMaxAgePrune(t *testing.T) {
	t.Run("max_backups", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, MaxBackups: 2}})
		require.NoError(t, err)
		sendLines(t, o, "k", 5000, 1000) // ~6 rotations
		closeOK(t, o)
		require.Eventually(t, func() bool { return len(backups(t, filepath.Join(dir, "svc"))) == 2 },
			10*time.Second, 10*time.Millisecond)
	})
	t.Run("max_age_days", func(t *testing.T) {
		dir := t.TempDir()
		svc := filepath.Join(dir, "svc")
		require.NoError(t, os.MkdirAll(svc, 0o700))
		// A file's age is its own (its modification time), not its name's.
		ancient := filepath.Join(svc, "dlq-2026-01-01T00-00-00.000.ndjson")
		recent := filepath.Join(svc, "dlq-"+time.Now().UTC().Add(-24*time.Hour).Format("2006-01-02T15-04-05.000")+".ndjson")
		oldName := filepath.Join(svc, "dlq-2020-01-01T00-00-00.000.ndjson")
		for _, name := range []string{ancient, recent, oldName} {
			require.NoError(t, os.WriteFile(name, []byte("{}\n{}\n"), 0o600))
		}
		eightDays := time.Now().Add(-8 * 24 * time.Hour)
		require.NoError(t, os.Chtimes(ancient, eightDays, eightDays))
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, MaxAgeDays: 7}})
		require.NoError(t, err)
		sendLines(t, o, "a", 1200, 1000) // one rotation triggers pruning
		closeOK(t, o)
		assert.NoFileExists(t, ancient, "a rotated file last written more than max_age_days ago is removed")
		assert.FileExists(t, recent)
		assert.FileExists(t, oldName, "a fresh file is kept whatever time its name says")
		assert.Equal(t, uint64(2), o.Stats().Pruned, "the pruned file's entries are counted")
	})
}

// steppedClock is the system's clock moved by an offset a test steps.
type steppedClock struct{ offset atomic.Int64 }

func (c *steppedClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *steppedClock) set(d time.Duration) { c.offset.Store(int64(d)) }

// sendFlushed sends the ids and flushes: a Flush confirms them.
func sendFlushed(t *testing.T, o *Orchestrator, ids []string) {
	t.Helper()
	sendIDs(t, o, ids, 10)
	flushOK(t, o)
}

// TestFilePruneClockStep: a Config.Clock stepped 40 days ahead and back
// (the names of rotated files follow it) deletes no fresh entry, and keeps
// the newest files by the order they were written, not by their names.
func TestFilePruneClockStep(t *testing.T) {
	const day = 24 * time.Hour
	t.Run("max_age_days", func(t *testing.T) {
		dir := t.TempDir()
		clock := &steppedClock{}
		o, err := New(Config{Service: "svc", Clock: clock.Now, Logger: discardLogger(),
			File: FileConfig{Dir: dir, Rotation: RotateHourly, MaxAgeDays: 30}})
		require.NoError(t, err)
		var all [][]string
		for k, step := range []time.Duration{0, time.Hour, 40 * day, time.Hour + time.Minute} {
			clock.set(step) // each step starts another hour: the file before it rotates
			ids := idRange(fmt.Sprintf("age%d", k), 100)
			sendFlushed(t, o, ids)
			all = append(all, ids)
		}
		closeOK(t, o)
		requireAll(t, idCounts(t, filepath.Join(dir, "svc")), all...)
		s := o.Stats()
		assert.Zero(t, s.Pruned)
		assert.Zero(t, s.Lost)
	})
	t.Run("max_backups", func(t *testing.T) {
		dir := t.TempDir()
		clock := &steppedClock{}
		o, err := New(Config{Service: "svc", Clock: clock.Now, Logger: discardLogger(),
			File: FileConfig{Dir: dir, Rotation: RotateHourly, MaxBackups: 3}})
		require.NoError(t, err)
		// Phase k's file is rotated at phase k+1, and named by its clock:
		// phase 1's and 3's files get names 40 days ahead of the others'.
		steps := []time.Duration{0, time.Hour, 40 * day, 2 * time.Hour, 40*day + time.Hour, 3 * time.Hour}
		var phases [][]string
		for k, step := range steps {
			clock.set(step)
			ids := idRange(fmt.Sprintf("phase%d", k), 10)
			sendFlushed(t, o, ids)
			phases = append(phases, ids)
		}
		closeOK(t, o)
		svc := filepath.Join(dir, "svc")
		require.Len(t, backups(t, svc), 3)
		counts := idCounts(t, svc)
		requireAll(t, counts, phases[2:]...) // the last three files and the live one
		for _, ids := range phases[:2] {
			for _, id := range ids {
				assert.Zero(t, counts[id], "%s is in one of the two oldest files, beyond max_backups", id)
			}
		}
		s := o.Stats()
		assert.Equal(t, uint64(20), s.Pruned, "the pruned files' entries are counted")
		assert.Equal(t, uint64(60), s.Written)
		assert.Zero(t, s.Lost)
	})
}

// TestFilePruneWaitsForFlush: files rotated since the last Flush are never
// pruned, whatever max_backups says: a Flush must not return nil for
// entries a prune took. The Flush that confirms them lets them go, counted.
func TestFilePruneWaitsForFlush(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", Logger: discardLogger(),
		File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, MaxBackups: 1, Compress: true}})
	require.NoError(t, err)
	svc := filepath.Join(dir, "svc")
	ids := idRange("pin", 4000)
	sendIDs(t, o, ids, 1000) // ~4 MB: three rotations or more
	awaitWritten(t, o, uint64(len(ids)))
	// Once every rotated file is gzipped, the mill has passed over all.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		files := backups(t, svc)
		gz := 0
		for _, f := range files {
			if strings.HasSuffix(f, filelog.GzSuffix) {
				gz++
			}
		}
		if len(files) >= 3 && gz == len(files) {
			break
		}
		select {
		case <-ctx.Done():
			require.FailNow(t, "the mill did not gzip the rotated files", "%v", files)
		case <-time.After(time.Millisecond):
		}
	}
	assert.Zero(t, o.Stats().Pruned, "nothing pruned before a Flush confirmed it")
	requireAll(t, idCounts(t, svc), ids)

	flushOK(t, o)
	closeOK(t, o)
	assert.Len(t, backups(t, svc), 1, "the Flush let the files beyond max_backups go")
	s := o.Stats()
	require.NotZero(t, s.Pruned)
	assert.Equal(t, len(ids), len(idCounts(t, svc))+int(s.Pruned), "every entry is in the folder or counted pruned")
}
