package dlq

import (
	"bufio"
	"bytes"
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

	"compress/gzip"

	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/dlqkit/dlq/internal/testenv"
)

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
