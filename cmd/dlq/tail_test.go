package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
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
