package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/internal/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTail(t *testing.T) {
	dir := t.TempDir()
	loader := writeFixture(t, dir)
	t.Run("the last n, oldest first", func(t *testing.T) {
		out, err := run(t, "tail", "-n", "2", loader)
		require.NoError(t, err)
		assert.Equal(t, "2026-01-15T10:00:00.000Z  timeout  loader  acme.billing  id-timeout-1  call to 10.0.0.7:5432 timed out after 30s (request 0192f3c4-7d3e-7abc-8def-0123456789ab)\n"+
			"2026-01-15T10:05:00.000Z  timeout  loader  acme.billing  id-timeout-2  call to 10.0.0.9:5432 timed out after 12s (request 0192f3c4-0000-7abc-8def-ffffffffffff)\n", out)
	})
	t.Run("the last n through a ring that wrapped", func(t *testing.T) {
		out, err := run(t, "tail", "-n", "3", loader)
		require.NoError(t, err)
		var ids []string
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			ids = append(ids, strings.Fields(line)[4])
		}
		assert.Equal(t, []string{"id-parse-5", "id-timeout-1", "id-timeout-2"}, ids)
	})
	t.Run("all with -n 0, filtered", func(t *testing.T) {
		out, err := run(t, "tail", "-n", "0", "--reason", "parse_error", loader)
		require.NoError(t, err)
		assert.Equal(t, 6, strings.Count(out, "\n"))
	})
	t.Run("payload, binary as base64", func(t *testing.T) {
		out, err := run(t, "tail", "-n", "1", "--payload", "--service", "ingest", dir)
		require.NoError(t, err)
		assert.Contains(t, out, "payload=base64:AAECAwQF")
		out, err = run(t, "tail", "-n", "1", "--payload", loader)
		require.NoError(t, err)
		assert.Contains(t, out, `payload="slower"`)
	})
	t.Run("json is the envelopes, byte for byte", func(t *testing.T) {
		out, err := run(t, "tail", "-n", "0", "--json", dir)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		require.Len(t, lines, 9)
		e, err := dlq.ParseEnvelope([]byte(lines[0]))
		require.NoError(t, err)
		assert.Equal(t, allBytes, e.Payload, "ingest sorts first in the folder")
		assert.Equal(t, []byte{0, 0xff, '\n'}, e.Key)
	})
}

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestTailFollow(t *testing.T) {
	dir := t.TempDir()
	loader := writeFixture(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- newApp(&out, &out).Run(ctx, []string{"dlq", "tail", "-f", "-n", "1", "--reason", "new*", "--reason", "timeout", loader})
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "id-timeout-2") }, time.Minute, time.Millisecond)
	assert.NotContains(t, out.String(), "id-timeout-1", "one line of backlog")

	o, err := dlq.New(dlq.Config{Service: "loader", File: dlq.FileConfig{Dir: dir}})
	require.NoError(t, err)
	require.NoError(t, o.Send(dlq.Entry{Reason: "parse_error", Payload: []byte("filtered out"), ID: "id-skip"}))
	require.NoError(t, o.Send(dlq.Entry{Reason: "new_one", Payload: []byte("fresh"), ID: "id-fresh"}))
	require.NoError(t, o.Close(t.Context()))
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "id-fresh") }, time.Minute, time.Millisecond)
	cancel()
	require.NoError(t, <-done, "an interrupted follow ends cleanly")
	assert.NotContains(t, out.String(), "id-skip")
	assert.Equal(t, 2, strings.Count(out.String(), "\n"))
}

// rotatingDLQ is the library writing one service folder hourly on a clock
// the test moves, so that the test rotates the live file when it chooses.
type rotatingDLQ struct {
	t        *testing.T
	o        *dlq.Orchestrator
	now      atomic.Int64 // the clock, Unix ms
	dir      string       // the service folder
	compress bool
	n        int // entries written: ids id-00000 to id-<n-1>
}

func newRotatingDLQ(t *testing.T, root, service string, compress bool) *rotatingDLQ {
	t.Helper()
	w := &rotatingDLQ{t: t, dir: filepath.Join(root, service), compress: compress}
	w.now.Store(fixtureTime.UnixMilli())
	o, err := dlq.New(dlq.Config{Service: service, Clock: func() time.Time { return time.UnixMilli(w.now.Load()) },
		File: dlq.FileConfig{Dir: root, Rotation: dlq.RotateHourly, Compress: compress}})
	require.NoError(t, err)
	w.o = o
	t.Cleanup(func() { require.NoError(t, o.Close(context.Background())) })
	return w
}

// write sends n entries and flushes them.
func (w *rotatingDLQ) write(n int) {
	for range n {
		id := fmt.Sprintf("id-%05d", w.n)
		require.NoError(w.t, w.o.Send(dlq.Entry{Reason: "r", Payload: []byte("p" + id), ID: id}))
		w.n++
	}
	require.NoError(w.t, w.o.Flush(w.t.Context()))
}

// rotate moves the clock an hour on and writes n entries, the first of
// which rotates the live file; with compress it waits for the gzip.
func (w *rotatingDLQ) rotate(n int) {
	w.now.Add(time.Hour.Milliseconds())
	w.write(n)
	ctx, cancel := context.WithTimeout(w.t.Context(), 30*time.Second)
	defer cancel()
	for w.compress {
		plain, err := filepath.Glob(filepath.Join(w.dir, "dlq-*.ndjson"))
		require.NoError(w.t, err)
		if len(plain) == 0 {
			return
		}
		if !clock.Sleep(ctx, time.Millisecond) {
			w.t.Fatalf("the mill did not gzip %v within 30 s", plain)
		}
	}
}

// missing lists the ids id-<from> to id-<to-1> that out lacks.
func missing(out string, from, to int) []string {
	var ids []string
	for i := from; i < to; i++ {
		if id := fmt.Sprintf("id-%05d", i); !strings.Contains(out, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func TestTailFollowsEveryService(t *testing.T) {
	root := t.TempDir()
	one := newRotatingDLQ(t, root, "one", false)
	two := newRotatingDLQ(t, root, "two", true)
	one.write(3)
	two.write(3)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- newApp(&out, &out).Run(ctx, []string{"dlq", "tail", "-f", "-n", "0", root}) }()
	require.Eventually(t, func() bool { return strings.Count(out.String(), "\n") == 6 }, 30*time.Second, time.Millisecond, "the backlog of both services")

	one.write(4)
	two.rotate(2)
	two.rotate(2) // two rotations between two looks
	require.Eventually(t, func() bool { return strings.Count(out.String(), "\n") >= 14 }, 30*time.Second, time.Millisecond,
		"every new entry of both services; got:\n%s", &out)
	cancel()
	require.NoError(t, <-done)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	byService := map[string]int{}
	for _, line := range lines {
		byService[strings.Fields(line)[2]]++
	}
	assert.Equal(t, map[string]int{"one": 7, "two": 7}, byService, out.String())
}

func TestTailNamesATruncatedArchive(t *testing.T) {
	w := newRotatingDLQ(t, t.TempDir(), "loader", true)
	w.write(2000)
	w.rotate(1)
	archives, err := filepath.Glob(filepath.Join(w.dir, "dlq-*.gz"))
	require.NoError(t, err)
	require.Len(t, archives, 1)
	data, err := os.ReadFile(archives[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(archives[0], data[:len(data)/2], 0o600))
	var out, errOut bytes.Buffer
	// -n 0 reads every file (-n 1 would find its entry in the live file
	// and never open the archive).
	require.NoError(t, newApp(&out, &errOut).Run(t.Context(), []string{"dlq", "tail", "-n", "0", w.dir}))
	assert.Contains(t, out.String(), "id-02000", "the files after it are read")
	assert.Contains(t, errOut.String(), "warning: dlq: source "+filepath.Base(archives[0])+": unreadable after ")
	out.Reset()
	errOut.Reset()
	require.NoError(t, newApp(&out, &errOut).Run(t.Context(), []string{"dlq", "tail", "-n", "1", w.dir}))
	assert.Contains(t, out.String(), "id-02000")
	assert.Empty(t, errOut.String(), "the last entry is in the live file: the archive is not read")
}
