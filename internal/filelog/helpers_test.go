package filelog

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// quiet drops the log's warnings: tests that provoke them on purpose.
var quiet = slog.New(slog.DiscardHandler)

// options are a test's Options in dir: by size alone, no background sync
// for an hour unless the test sets one.
func options(dir string) Options {
	return Options{Dir: dir, Owner: "svc", MaxBytes: math.MaxInt64 / 2, MaxAge: 24 * time.Hour,
		SyncInterval: time.Hour, Clock: time.Now, Logger: quiet}
}

// openLog opens a log with o and closes it when the test ends, unless the
// test closed it.
func openLog(t testing.TB, o Options) *Log {
	t.Helper()
	l, err := Open(o)
	require.NoError(t, err)
	t.Cleanup(func() {
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		if !closed {
			_ = l.Close()
		}
	})
	return l
}

// lines returns n lines prefix-0 … prefix-(n-1).
func lines(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"id":"%s-%05d"}`, prefix, i)
	}
	return out
}

// write writes ls and requires every line written.
func write(t testing.TB, l *Log, ls [][]byte) {
	t.Helper()
	errs := make([]error, len(ls))
	require.NoError(t, l.Write(ls, errs))
	for i, err := range errs {
		require.NoError(t, err, "line %d", i)
	}
}

// linesIn returns the lines of every log file in dir (rotated ones first,
// gunzipped, then the live one), each counted.
func linesIn(t testing.TB, dir string) map[string]int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	counts := map[string]int{}
	for _, e := range entries {
		if !BelongsToLog(e.Name()) {
			continue
		}
		for _, line := range fileLines(t, filepath.Join(dir, e.Name())) {
			counts[line]++
		}
	}
	return counts
}

// fileLines returns the lines of the log file at path, gunzipped when its
// name ends in .gz.
func fileLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, GzSuffix) {
		zr, err := gzip.NewReader(f)
		require.NoError(t, err)
		r = zr
	}
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	require.NoError(t, sc.Err())
	return out
}

// requireOnce requires every line among counts exactly once.
func requireOnce(t testing.TB, counts map[string]int, groups ...[][]byte) {
	t.Helper()
	for _, g := range groups {
		for _, line := range g {
			require.Equal(t, 1, counts[string(line)], "line %s", line)
		}
	}
}

// millPassed wakes l's mill and waits until a pass that began after every
// write and Sync so far has ended.
func millPassed(t testing.TB, l *Log) {
	t.Helper()
	l.mill.wake()
	want := l.mill.asked.Load()
	require.Eventually(t, func() bool { return l.mill.answered.Load() >= want }, 30*time.Second, time.Millisecond,
		"the file mill made no pass after a wake within 30 s")
}
