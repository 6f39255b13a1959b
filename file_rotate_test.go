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
