package dlq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestFileLayoutAndPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "parent")
	o, err := New(Config{Service: "loader", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	require.NoError(t, o.Send(Entry{Reason: "r", Payload: []byte("secret payload")}))
	flushOK(t, o)
	closeOK(t, o)

	for _, test := range []struct {
		path string
		mode os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{filepath.Join(dir, "loader"), 0o700 | os.ModeDir},
		{filepath.Join(dir, "loader", "dlq.ndjson"), 0o600},
	} {
		t.Run(filepath.Base(test.path), func(t *testing.T) {
			info, err := os.Stat(test.path)
			require.NoError(t, err)
			assert.Equal(t, test.mode, info.Mode(), "a DLQ holds other people's payloads")
		})
	}
}

func TestFileServiceNamesThatEscapeAreRejected(t *testing.T) {
	for _, service := range []string{"../x", "a/b", "", ".", "..", `a\b`, "x y", "ü"} {
		t.Run(service, func(t *testing.T) {
			_, err := New(Config{Service: service, File: FileConfig{Dir: t.TempDir()}})
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorContains(t, err, "service:")
		})
	}
}

func TestFileAppendsToAnExistingFile(t *testing.T) {
	dir := t.TempDir()
	for round := range 2 {
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, Rotation: RotateNone}})
		require.NoError(t, err)
		require.NoError(t, o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "round %d", round)}))
		closeOK(t, o)
	}
	assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 2)
	files, _ := filepath.Glob(filepath.Join(dir, "svc", "dlq*"))
	assert.Len(t, files, 1)
}

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

func TestFileConfigKeys(t *testing.T) {
	// FileConfig's keys are DESIGN's contract.
	const doc = "disabled: true\ndir: /d\nrotation: size\nmax_size_mb: 7\nmax_age_days: 8\nmax_backups: 9\ncompress: true\n"
	want := FileConfig{Disabled: true, Dir: "/d", Rotation: RotateSize, MaxSizeMB: 7, MaxAgeDays: 8, MaxBackups: 9, Compress: true}
	keys := []string{"disabled", "dir", "rotation", "max_size_mb", "max_age_days", "max_backups", "compress"}
	t.Run("yaml decodes every key", func(t *testing.T) {
		var got FileConfig
		dec := yaml.NewDecoder(strings.NewReader(doc))
		dec.KnownFields(true)
		require.NoError(t, dec.Decode(&got))
		assert.Equal(t, want, got)
	})
	t.Run("json decodes every key", func(t *testing.T) {
		var generic map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(doc), &generic))
		data, err := json.Marshal(generic)
		require.NoError(t, err)
		var got FileConfig
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&got))
		assert.Equal(t, want, got)
	})
	t.Run("encoding writes the keys", func(t *testing.T) {
		for name, marshal := range map[string]func(any) ([]byte, error){"json": json.Marshal, "yaml": yaml.Marshal} {
			data, err := marshal(want)
			require.NoError(t, err)
			var generic map[string]any
			require.NoError(t, yaml.Unmarshal(data, &generic), name)
			assert.Subset(t, keysOf(generic), keys, name)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		cfg := DefaultConfig("svc")
		assert.Equal(t, "./dlq", cfg.File.Dir)
		assert.Equal(t, RotateHourly, cfg.File.Rotation)
		assert.Equal(t, 100, cfg.File.MaxSizeMB)
		assert.Equal(t, 30, cfg.File.MaxAgeDays)
	})
}

func TestFileSyncIntervalConfig(t *testing.T) {
	assert.Equal(t, defaultSyncIntervalMS, DefaultConfig("svc").File.SyncIntervalMS)
	assert.Equal(t, time.Second, ms(FileConfig{}.withDefaults().SyncIntervalMS), "0 means the default")
	_, err := New(Config{Service: "svc", File: FileConfig{Dir: t.TempDir(), SyncIntervalMS: -1}})
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.ErrorContains(t, err, "file.sync_interval_ms")
}

// TestFileErrorMapsTheLogsErrors: filelog's own errors reach users as this
// package's sentinels, their text kept, errors.Is matching both.
func TestFileErrorMapsTheLogsErrors(t *testing.T) {
	locked := fmt.Errorf("recreate /d: %w", &filelog.LockedError{Dir: "/d", Owner: "svc", Holder: 1})
	err := fileError(locked)
	require.ErrorIs(t, err, ErrLocked)
	require.ErrorIs(t, err, filelog.ErrLocked)
	assert.Equal(t, ErrLocked.Error()+": "+locked.Error(), err.Error())

	tooLarge := &filelog.TooLargeError{Size: 10, Limit: 5}
	err = fileError(tooLarge)
	require.ErrorIs(t, err, ErrOversize)
	var tl *filelog.TooLargeError
	require.ErrorAs(t, err, &tl)
	assert.Equal(t, "dlq: entry too large: a 10-byte line exceeds the 5-byte file size limit", err.Error())

	other := errors.New("disk on fire")
	assert.Same(t, other, fileError(other))
	assert.NoError(t, fileError(nil))
}
