package dlq

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
