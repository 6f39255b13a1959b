package dlq

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/dlqkit/dlq/internal/lossyfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests cut the power under the file backend (internal/lossyfs drops
// whatever was not fsynced, file data and folder entries) and check that
// every entry Flush confirmed is still there. A SIGKILL cannot show this: a
// killed process's writes survive in the page cache.

// survivors reads every entry in dir after a crash, rotated and gzipped
// files included, by payload. A file that cannot be read whole (a gzip
// cut short) gives what it held before the cut: the caller sees the rest
// as missing.
func survivors(t *testing.T, dir string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	files, err := filepath.Glob(filepath.Join(dir, "dlq*.ndjson*"))
	require.NoError(t, err)
	for _, name := range files {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Logf("%s: unreadable after the crash (%d bytes): %v", filepath.Base(name), len(data), err)
				continue
			}
			data, err = io.ReadAll(zr)
			if err != nil {
				t.Logf("%s: cut short after the crash: %v", filepath.Base(name), err)
			}
		}
		scanner := bufio.NewScanner(bytes.NewReader(data))
		scanner.Buffer(nil, 64<<20)
		for scanner.Scan() {
			if e, err := ParseEnvelope(scanner.Bytes()); err == nil {
				got[string(e.Payload)] = true
			}
		}
	}
	return got
}

// requireSurvived fails naming how many of the confirmed payloads are gone
// and what the folder holds.
func requireSurvived(t *testing.T, dir string, confirmed []string) {
	t.Helper()
	got := survivors(t, dir)
	var missing []string
	for _, p := range confirmed {
		if !got[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("after the power cut %d of %d entries Flush confirmed are gone (first: %.40s); %s holds: %s",
			len(missing), len(confirmed), missing[0], dir, listing(dir))
	}
}

func listing(dir string) string {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, de := range des {
		info, err := de.Info()
		if err != nil {
			continue
		}
		out = append(out, fmt.Sprintf("%s (%d bytes)", de.Name(), info.Size()))
	}
	sort.Strings(out)
	return "[" + strings.Join(out, ", ") + "]"
}

// sendPayloads sends n entries "<prefix>-<i>-xxx…" of about size bytes and
// returns their payloads.
func sendPayloads(t *testing.T, o *Orchestrator, prefix string, n, size int) []string {
	t.Helper()
	var sent []string
	for i := range n {
		p := fmt.Sprintf("%s-%05d-%s", prefix, i, strings.Repeat("x", size))
		require.NoError(t, o.SendContext(t.Context(), Entry{Reason: "r", Payload: []byte(p)}))
		sent = append(sent, p)
	}
	return sent
}

// abandon closes an orchestrator whose files died in a crash: its writes
// and fsyncs fail, so Close may report loss; only its goroutine matters.
func abandon(o *Orchestrator) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = o.Close(ctx)
}

// mountWithDir mounts a lossy file system whose backing folder already
// holds the folder rel, durable, as a folder an operator created long ago.
func mountWithDir(t *testing.T, rel string) *lossyfs.FS {
	t.Helper()
	backing := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(backing, rel), 0o700))
	return lossyfs.Mount(t, backing)
}

// quiet is the logger for orchestrators whose disk dies under them.
var quiet = slog.New(slog.DiscardHandler)

func TestPowerLossKeepsEveryFlushedEntry(t *testing.T) {
	t.Run("service folder already there", func(t *testing.T) {
		m := mountWithDir(t, "svc")
		o, err := New(Config{Service: "svc", Logger: quiet, File: FileConfig{Dir: m.Dir(), Rotation: RotateNone}})
		require.NoError(t, err)
		confirmed := sendPayloads(t, o, "a", 50, 100)
		flushOK(t, o)
		confirmed = append(confirmed, sendPayloads(t, o, "b", 50, 100)...)
		flushOK(t, o)
		m.PowerOff()
		abandon(o)
		m.PowerOn()
		requireSurvived(t, filepath.Join(m.Dir(), "svc"), confirmed)
	})
	t.Run("service folder created by New", func(t *testing.T) {
		m := lossyfs.Mount(t, "")
		o, err := New(Config{Service: "svc", Logger: quiet, File: FileConfig{Dir: filepath.Join(m.Dir(), "dlq"), Rotation: RotateNone}})
		require.NoError(t, err)
		confirmed := sendPayloads(t, o, "a", 50, 100)
		flushOK(t, o)
		m.PowerOff()
		abandon(o)
		m.PowerOn()
		requireSurvived(t, filepath.Join(m.Dir(), "dlq", "svc"), confirmed)
	})
	t.Run("entries not flushed may go, the file stays valid", func(t *testing.T) {
		m := mountWithDir(t, "svc")
		o, err := New(Config{Service: "svc", Logger: quiet, File: FileConfig{Dir: m.Dir(), Rotation: RotateNone}})
		require.NoError(t, err)
		confirmed := sendPayloads(t, o, "a", 20, 100)
		flushOK(t, o)
		sendPayloads(t, o, "b", 20, 100) // not flushed: may or may not survive
		m.PowerOff()
		abandon(o)
		m.PowerOn()
		requireSurvived(t, filepath.Join(m.Dir(), "svc"), confirmed)
	})
}

func TestPowerLossAcrossSizeRotation(t *testing.T) {
	m := mountWithDir(t, "svc")
	o, err := New(Config{Service: "svc", Logger: quiet, BatchSize: 64,
		File: FileConfig{Dir: m.Dir(), Rotation: RotateSize, MaxSizeMB: 1}})
	require.NoError(t, err)
	// A first Flush makes the new file's name durable; then 2.5 MB of
	// entries: two rotations, whose new names only a folder fsync after
	// the rotation makes durable.
	confirmed := sendPayloads(t, o, "first", 1, 100)
	flushOK(t, o)
	confirmed = append(confirmed, sendPayloads(t, o, "a", 625, 4000)...)
	flushOK(t, o)
	dir := filepath.Join(m.Dir(), "svc")
	require.GreaterOrEqual(t, len(backups(t, dir)), 2, "the test must rotate: %s", listing(dir))
	m.PowerOff()
	abandon(o)
	m.PowerOn()
	requireSurvived(t, dir, confirmed)
}

func TestPowerLossAcrossTimeRotation(t *testing.T) {
	m := mountWithDir(t, "svc")
	clock := newFakeClock(time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC))
	o, err := New(Config{Service: "svc", Logger: quiet, Clock: clock.Now,
		File: FileConfig{Dir: m.Dir(), Rotation: RotateHourly}})
	require.NoError(t, err)
	confirmed := sendPayloads(t, o, "a", 20, 100)
	flushOK(t, o)
	clock.Add(time.Hour)
	confirmed = append(confirmed, sendPayloads(t, o, "b", 20, 100)...)
	flushOK(t, o)
	dir := filepath.Join(m.Dir(), "svc")
	require.Len(t, backups(t, dir), 1, "the test must rotate: %s", listing(dir))
	m.PowerOff()
	abandon(o)
	m.PowerOn()
	requireSurvived(t, dir, confirmed)
}

func TestPowerLossAcrossCompressedRotation(t *testing.T) {
	m := mountWithDir(t, "svc")
	o, err := New(Config{Service: "svc", Logger: quiet, BatchSize: 64,
		File: FileConfig{Dir: m.Dir(), Rotation: RotateSize, MaxSizeMB: 1, Compress: true}})
	require.NoError(t, err)
	confirmed := sendPayloads(t, o, "a", 375, 4000) // 1.5 MB: one rotation
	dir := filepath.Join(m.Dir(), "svc")
	// Let the rotated file be compressed (the file backend's mill does it
	// in the background) before Flush: the .gz must be durable before the plain
	// file it replaces goes.
	require.Eventually(t, func() bool {
		gz, _ := filepath.Glob(filepath.Join(dir, "dlq-*.ndjson.gz"))
		plain, _ := filepath.Glob(filepath.Join(dir, "dlq-*.ndjson"))
		return o.Stats().Written == uint64(len(confirmed)) && len(gz) == 1 && len(plain) == 0
	}, 30*time.Second, 5*time.Millisecond, "the rotated file is compressed: %s", listing(dir))
	flushOK(t, o)
	m.PowerOff()
	abandon(o)
	m.PowerOn()
	requireSurvived(t, dir, confirmed)
	assert.Empty(t, mustGlob(t, filepath.Join(dir, "dlq-*.ndjson")), "no plain rotated file next to its .gz")
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	require.NoError(t, err)
	return files
}

// TestPowerLossTornTailIsCutBack: a power cut can leave part of an
// unsynced write on disk, a line cut in the middle. The next process to
// open the file cuts it back to the last whole line: a new entry never
// glues onto the fragment, and every line parses.
func TestPowerLossTornTailIsCutBack(t *testing.T) {
	m := mountWithDir(t, "svc")
	// No background fsync during the test: the "b" lines must stay unsynced.
	cfg := Config{Service: "svc", Logger: quiet, File: FileConfig{Dir: m.Dir(), Rotation: RotateNone, SyncIntervalMS: 3600000}}
	o, err := New(cfg)
	require.NoError(t, err)
	confirmed := sendPayloads(t, o, "a", 20, 100)
	flushOK(t, o)
	sendPayloads(t, o, "b", 21, 100) // written, never fsynced
	require.Eventually(t, func() bool { return o.Stats().Written == 41 }, 30*time.Second, time.Millisecond)
	m.PowerOffTorn()
	abandon(o)
	m.PowerOn()
	dir := filepath.Join(m.Dir(), "svc")
	before, err := os.ReadFile(filepath.Join(dir, filelog.LiveName))
	require.NoError(t, err)
	require.False(t, bytes.HasSuffix(before, []byte("\n")), "the test needs the crash to leave a torn line: %d bytes, %d lines", len(before), bytes.Count(before, []byte("\n")))

	o, err = New(cfg)
	require.NoError(t, err)
	after := sendPayloads(t, o, "c", 5, 100)
	flushOK(t, o)
	closeOK(t, o)
	requireSurvived(t, dir, append(confirmed, after...))
	data, err := os.ReadFile(filepath.Join(dir, filelog.LiveName))
	require.NoError(t, err)
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		_, err := ParseEnvelope(line)
		assert.NoError(t, err, "line %d does not parse: %.60q…", i+1, line)
	}
}

// TestPowerLossAfterAFailedFsync: a failed fsync may have dropped the
// pages it was to write (Linux marks them clean), so the entries written
// since the last good fsync must be written again before Flush reports
// them durable; after a power cut every entry a Flush confirmed is there.
func TestPowerLossAfterAFailedFsync(t *testing.T) {
	m := mountWithDir(t, "svc")
	o, err := New(Config{Service: "svc", Logger: quiet, File: FileConfig{Dir: m.Dir(), Rotation: RotateNone},
		Retry: RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 10}})
	require.NoError(t, err)
	confirmed := sendPayloads(t, o, "a", 20, 100)
	flushOK(t, o)
	m.FailFsyncs(1)
	confirmed = append(confirmed, sendPayloads(t, o, "b", 20, 100)...)
	// Flush may report the failure or mend it itself; it must end nil.
	var flushErr error
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		flushErr = o.Flush(ctx)
		cancel()
		if flushErr == nil {
			break
		}
	}
	require.NoError(t, flushErr, "Flush succeeds once fsync works again")
	m.PowerOff()
	abandon(o)
	m.PowerOn()
	requireSurvived(t, filepath.Join(m.Dir(), "svc"), confirmed)
}

// TestPowerLossKeepsWhatTheSyncerFsynced: without any Flush, the entries
// the background syncer reports durable (its count of good fsyncs, its
// offset of the last one at the file's end) survive a power cut. The
// syncer's own bookkeeping cannot show this: only a file system that drops
// what was not fsynced can.
func TestPowerLossKeepsWhatTheSyncerFsynced(t *testing.T) {
	m := mountWithDir(t, "svc")
	o, err := New(Config{Service: "svc", Logger: quiet,
		File: FileConfig{Dir: m.Dir(), Rotation: RotateNone, SyncIntervalMS: 5}})
	require.NoError(t, err)
	f := fileOf(t, o)
	synced := sendPayloads(t, o, "a", 50, 100)
	require.Eventually(t, func() bool { return o.Stats().Written == uint64(len(synced)) }, 30*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return f.Syncs() > 0 && f.Durable() },
		30*time.Second, time.Millisecond, "the syncer fsyncs a dirty file")
	m.PowerOff()
	abandon(o)
	m.PowerOn()
	requireSurvived(t, filepath.Join(m.Dir(), "svc"), synced)
}

// TestPowerLossAfterAFailedBackgroundFsync: a failed fsync of the
// background syncer is no good fsync either. The syncer writes the lines
// since the last good one again; once it reports the file durable, every
// entry survives a power cut, those the failed fsync was to keep included.
func TestPowerLossAfterAFailedBackgroundFsync(t *testing.T) {
	m := mountWithDir(t, "svc")
	o, err := New(Config{Service: "svc", Logger: quiet,
		File: FileConfig{Dir: m.Dir(), Rotation: RotateNone, SyncIntervalMS: 5}})
	require.NoError(t, err)
	f := fileOf(t, o)
	m.FailFsyncs(1) // the syncer's first fsync: no Flush is called
	synced := sendPayloads(t, o, "a", 50, 100)
	require.Eventually(t, func() bool { return o.Stats().Written == uint64(len(synced)) }, 30*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return f.Syncs() > 0 && f.Durable() },
		30*time.Second, time.Millisecond, "the syncer mends the failed fsync")
	m.PowerOff()
	abandon(o)
	m.PowerOn()
	requireSurvived(t, filepath.Join(m.Dir(), "svc"), synced)
}

// crashCycles bounds the SIGKILL-and-restart loop: about 15 child starts.
const crashCycles = 15

func TestFileSurvivesSIGKILLAndRestart(t *testing.T) {
	// A process's death loses nothing the page cache holds, so a tmpfs is
	// as real as a disk here, and without fsync's wait the kills land
	// inside writes more often.
	dir := mountTmpfs(t, "256m")
	svc := filepath.Join(dir, "crash")
	var flushed []string // every id some Flush confirmed
	torn := 0
	for cycle := range crashCycles {
		flushed = append(flushed, runCrashChild(t, dir, cycle)...)
		// Before any restart's repair: only dlq.ndjson's last line may be
		// torn; a restart that glued onto it would leave one in the middle.
		if data, err := os.ReadFile(filepath.Join(svc, filelog.LiveName)); err == nil && len(data) > 0 && data[len(data)-1] != '\n' {
			torn++
		}
	}
	t.Logf("%d cycles, %d flushed entries, %d torn last lines left by SIGKILL", crashCycles, len(flushed), torn)

	o, err := New(Config{Service: "crash", Logger: discardLogger(), File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, Compress: true}})
	require.NoError(t, err, "the restart after the last kill")
	closeOK(t, o)
	counts := idCounts(t, svc)
	for _, id := range flushed {
		require.Equal(t, 1, counts[id], "flushed entry %s: present once", id)
	}
	for id, n := range counts {
		require.Equal(t, 1, n, "entry %s written once", id)
	}
}

// runCrashChild starts a child that sends and flushes in a loop, kills it
// with SIGKILL at a random moment, and returns the ids it reported flushed.
func runCrashChild(t *testing.T, dir string, cycle int) []string {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^TestFileCrashChild$")
	child.Env = append(os.Environ(), "DLQ_CRASH_DIR="+dir, "DLQ_CRASH_CYCLE="+strconv.Itoa(cycle))
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	killAfter := 1 + rand.IntN(3) // flushes
	var flushed []string
	lines := bufio.NewScanner(stdout)
	killed := false
	for lines.Scan() {
		n, ok := strings.CutPrefix(lines.Text(), "flushed ")
		if !ok {
			continue
		}
		last, err := strconv.Atoi(n)
		require.NoError(t, err)
		for i := len(flushed); i <= last; i++ {
			flushed = append(flushed, crashID(cycle, i))
		}
		if !killed && len(flushed) >= killAfter*crashBatch {
			// A random moment inside the next batch's writes.
			time.Sleep(time.Duration(rand.IntN(40000)) * time.Microsecond)
			require.NoError(t, child.Process.Kill())
			killed = true
		}
	}
	_ = child.Wait()
	require.True(t, killed, "the child ended before its kill: see its stderr")
	return flushed
}

const crashBatch = 200

func crashID(cycle, i int) string { return fmt.Sprintf("c%02d-%07d", cycle, i) }

// TestFileCrashChild is the child of TestFileSurvivesSIGKILLAndRestart: it
// sends batches of entries of random sizes and reports each flushed batch
// on stdout until it is killed.
func TestFileCrashChild(t *testing.T) {
	dir := os.Getenv("DLQ_CRASH_DIR")
	if dir == "" {
		t.Skip("runs as a child of TestFileSurvivesSIGKILLAndRestart")
	}
	cycle, err := strconv.Atoi(os.Getenv("DLQ_CRASH_CYCLE"))
	require.NoError(t, err)
	o, err := New(Config{Service: "crash", Logger: discardLogger(), BatchSize: 64,
		File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, Compress: true}})
	require.NoError(t, err)
	for i := 0; ; {
		for range crashBatch {
			payload := strings.Repeat("x", rand.IntN(6000))
			require.NoError(t, o.SendContext(context.Background(), Entry{ID: crashID(cycle, i), Reason: "r", Payload: []byte(payload)}))
			i++
		}
		require.NoError(t, o.Flush(context.Background()))
		fmt.Println("flushed", i-1)
	}
}

func TestFileRestartCutsATornLastLine(t *testing.T) {
	for _, test := range []struct {
		name     string
		fragment string
	}{
		{"after whole lines", `{"id":"torn","rea`},
		{"no newline at all", `{"id":"torn"`},
		{"longer than one read", `{"id":"torn","payload":"` + strings.Repeat("y", 3*64<<10)},
	} {
		t.Run(test.name, func(t *testing.T) {
			dir := t.TempDir()
			svc := filepath.Join(dir, "svc")
			if test.name != "no newline at all" {
				o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
				require.NoError(t, err)
				sendIDs(t, o, idRange("before", 5), 10)
				closeOK(t, o)
			} else {
				require.NoError(t, os.MkdirAll(svc, 0o700))
			}
			f, err := os.OpenFile(filepath.Join(svc, filelog.LiveName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			require.NoError(t, err)
			_, err = f.WriteString(test.fragment) // what a kill mid-write leaves
			require.NoError(t, err)
			require.NoError(t, f.Close())

			logs := &logBuffer{}
			o, err := New(Config{Service: "svc", Logger: logs.logger(), File: FileConfig{Dir: dir}})
			require.NoError(t, err)
			assert.Contains(t, logs.String(), "cut a torn last line")
			assert.Contains(t, logs.String(), fmt.Sprintf("bytes=%d", len(test.fragment)))
			sendIDs(t, o, idRange("after", 5), 10)
			closeOK(t, o)

			counts := idCounts(t, svc)
			requireAll(t, counts, idRange("after", 5))
			assert.NotContains(t, counts, "torn")
		})
	}
}
