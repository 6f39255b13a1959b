package dlq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/dlqkit/dlq/internal/testenv"
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
	assert.Equal(t, time.Second, (&FileConfig{}).syncInterval(), "0 means the default")
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

func TestFileSyncsWithoutFlush(t *testing.T) {
	t.Run("every sync_interval_ms", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, SyncIntervalMS: 5}})
		require.NoError(t, err)
		f := fileOf(t, o)
		sendIDs(t, o, idRange("a", 50), 10)
		awaitWritten(t, o, 50)
		// What is observed: the backend's own count of good fsyncs, and
		// its offset of the last one reaching the file's end. No Flush.
		require.Eventually(t, func() bool { return f.Syncs() > 0 && f.Durable() },
			30*time.Second, time.Millisecond, "the syncer fsyncs a dirty file")
		closeOK(t, o)
	})
	t.Run("not before the interval", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, SyncIntervalMS: hourMS}})
		require.NoError(t, err)
		f := fileOf(t, o)
		sendIDs(t, o, idRange("a", 50), 10)
		awaitWritten(t, o, 50)
		assert.Zero(t, f.Syncs(), "written, and left to the syncer an hour away")
		assert.False(t, f.Durable())
		flushOK(t, o)
		assert.True(t, f.Durable())
		closeOK(t, o)
	})
}

func TestFileUsesAnExistingGroupFolderAsItIs(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "svc")
	require.NoError(t, os.Mkdir(svc, 0o700))
	const nobody = 65534
	if err := os.Chown(svc, nobody, nobody); err != nil {
		testenv.SkipOrFail(t, fmt.Sprintf("chown needs root: %v", err))
	}
	require.NoError(t, os.Chmod(svc, os.ModeSetgid|0o775)) // a Kubernetes volume with fsGroup
	logs := &logBuffer{}
	o, err := New(Config{Service: "svc", Logger: logs.logger(), File: FileConfig{Dir: dir}})
	require.NoError(t, err, "no chmod of a folder the process may not own")
	sendIDs(t, o, idRange("a", 5), 10)
	closeOK(t, o)

	info, err := os.Stat(svc)
	require.NoError(t, err)
	assert.Equal(t, os.ModeDir|os.ModeSetgid|0o775, info.Mode(), "used as it is")
	assert.Equal(t, uint32(nobody), info.Sys().(*syscall.Stat_t).Uid)
	assert.Contains(t, logs.String(), "readable by group or others")
	file, err := os.Stat(filepath.Join(svc, filelog.LiveName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), file.Mode().Perm())
	requireAll(t, idCounts(t, svc), idRange("a", 5))
}

func TestFileCreatesMissingFoldersPrivate(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	logs := &logBuffer{}
	o, err := New(Config{Service: "svc", Logger: logs.logger(), File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	closeOK(t, o)
	for _, d := range []string{filepath.Join(base, "a"), dir, filepath.Join(dir, "svc")} {
		info, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, os.ModeDir|0o700, info.Mode(), d)
	}
	assert.False(t, strings.Contains(logs.String(), "readable"), "no warning about folders it made")
}
