package dlq

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
