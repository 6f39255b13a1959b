package dlq

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind. The rest
// of this file holds the helpers the tests of every file share; those of
// the network backends alone are in main_net_test.go.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// readDir parses every NDJSON line in dir's files, rotated and gzipped ones
// included, keyed by entry ID. Torn lines left by a failed write are
// skipped, as a reader must.
func readDir(t testing.TB, dir string) map[string]Entry {
	t.Helper()
	got := map[string]Entry{}
	files, err := filepath.Glob(filepath.Join(dir, "dlq*.ndjson*"))
	require.NoError(t, err)
	for _, name := range files {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			require.NoError(t, err)
			data, err = io.ReadAll(zr)
			require.NoError(t, err)
		}
		scanner := bufio.NewScanner(bytes.NewReader(data))
		scanner.Buffer(nil, 64<<20)
		for scanner.Scan() {
			e, err := ParseEnvelope(scanner.Bytes())
			if err != nil {
				continue
			}
			got[e.ID] = e
		}
		require.NoError(t, scanner.Err())
	}
	return got
}

// countLines counts the parsable lines in dir, duplicates included.
func countLines(t testing.TB, dir string) int {
	t.Helper()
	n := 0
	files, err := filepath.Glob(filepath.Join(dir, "dlq*.ndjson"))
	require.NoError(t, err)
	for _, name := range files {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		for _, line := range bytes.Split(data, []byte("\n")) {
			if _, err := ParseEnvelope(line); err == nil {
				n++
			}
		}
	}
	return n
}

// byPayload indexes entries by their payload text.
func byPayload(entries map[string]Entry) map[string]Entry {
	out := make(map[string]Entry, len(entries))
	for _, e := range entries {
		out[string(e.Payload)] = e
	}
	return out
}

// fakeClock is a Clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// closeOK closes o with a generous deadline and requires no error.
func closeOK(t testing.TB, o *Orchestrator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, o.Close(ctx))
}

func flushOK(t testing.TB, o *Orchestrator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, o.Flush(ctx))
}

// requireAccounted checks the loss-accounting invariant on a quiet
// orchestrator.
func requireAccounted(t testing.TB, s Stats) {
	t.Helper()
	require.Equal(t, s.Accepted, s.Written+s.Lost+uint64(s.Pending), "Accepted = Written + Lost + Pending: %+v", s)
}

// fileLines returns the contents of every file in dir that holds entries,
// rotated and gzipped ones included, keyed by name. A .gz must decompress
// whole.
func fileLines(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "dlq*.ndjson*"))
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, name := range names {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		if strings.HasSuffix(name, filelog.GzSuffix) {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			require.NoError(t, err, name)
			data, err = io.ReadAll(zr)
			require.NoError(t, err, "%s must decompress whole", name)
		}
		out[name] = data
	}
	return out
}

// idCounts parses every line of every file in dir with encoding/json and
// with jq, requires each to parse, and counts the entries by ID.
func idCounts(t testing.TB, dir string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for name, data := range fileLines(t, dir) {
		if len(data) > 0 {
			require.Equal(t, byte('\n'), data[len(data)-1], "%s ends in a whole line", name)
		}
		scanner := bufio.NewScanner(bytes.NewReader(data))
		scanner.Buffer(nil, 64<<20)
		for n := 1; scanner.Scan(); n++ {
			var e struct {
				ID string `json:"id"`
			}
			require.NoError(t, json.Unmarshal(scanner.Bytes(), &e), "%s line %d: %q", name, n, scanner.Bytes())
			require.NotEmpty(t, e.ID, "%s line %d", name, n)
			counts[e.ID]++
		}
		require.NoError(t, scanner.Err())
		requireJQ(t, name, data)
	}
	return counts
}

// requireJQ requires jq to read every line of data. It skips when jq is
// missing, except in CI.
func requireJQ(t testing.TB, name string, data []byte) {
	t.Helper()
	jq, err := exec.LookPath("jq")
	if err != nil {
		testenv.SkipOrFail(t, "jq is missing: install it (apt-get install jq) to check files the way an operator reads them")
	}
	cmd := exec.Command(jq, "-c", ".")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	require.NoError(t, cmd.Run(), "jq cannot read %s: %s", name, stderr.String())
}

// mountTmpfs mounts a tmpfs of the given size (e.g. "256k") on a new folder
// and unmounts it when the test ends. It needs root.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.SkipOrFail(t, fmt.Sprintf("mount tmpfs needs root: %v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// logBuffer is a Logger whose output a test reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// discardLogger drops everything: tests that provoke failures on purpose.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// fileOf returns o's file backend's log.
func fileOf(t testing.TB, o *Orchestrator) *filelog.Log {
	t.Helper()
	for i := range o.backends {
		if o.backends[i].kind == KindFile {
			return o.backends[i].file.log
		}
	}
	t.Fatal("no file backend")
	return nil
}

// sendIDs sends one entry per id, with a payload of about size bytes.
func sendIDs(t testing.TB, o *Orchestrator, ids []string, size int) {
	t.Helper()
	for _, id := range ids {
		payload := id + "-" + strings.Repeat("p", size)
		require.NoError(t, o.SendContext(t.Context(), Entry{ID: id, Reason: "r", Payload: []byte(payload)}))
	}
}

// idRange returns prefix-00000 … prefix-(n-1).
func idRange(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return ids
}

// awaitWritten waits until o has written n entries in all: state, not time.
func awaitWritten(t testing.TB, o *Orchestrator, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return o.Stats().Written >= n }, 30*time.Second, time.Millisecond,
		"written: %+v", o.Stats())
}

// requireAll requires every id among counts, each exactly once.
func requireAll(t testing.TB, counts map[string]int, ids ...[]string) {
	t.Helper()
	for _, group := range ids {
		for _, id := range group {
			require.Equal(t, 1, counts[id], "entry %s", id)
		}
	}
}

// keysOf returns the keys of m, in no particular order.
func keysOf[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// startWithFileBackends starts an orchestrator over one file backend per
// dir, in that order: two real backends that can fail independently.
func startWithFileBackends(t *testing.T, cfg Config, dirs ...string) *Orchestrator {
	t.Helper()
	var backends []Backend
	for _, dir := range dirs {
		c := cfg
		c.File.Dir = dir
		fb, err := newFileBackend(&c)
		require.NoError(t, err)
		backends = append(backends, Backend{kind: KindFile, file: fb})
	}
	o := newOrchestrator(cfg, backends)
	go o.run()
	return o
}

func payloads(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

func sendAll(t *testing.T, o *Orchestrator, ps []string) {
	t.Helper()
	for _, p := range ps {
		require.NoError(t, o.SendContext(context.Background(), Entry{Reason: "r", Payload: []byte(p)}))
	}
}

func requireHolds[V any](t *testing.T, got map[string]V, ps []string) {
	t.Helper()
	for _, p := range ps {
		_, ok := got[p]
		require.True(t, ok, "entry %s missing", p)
	}
}
