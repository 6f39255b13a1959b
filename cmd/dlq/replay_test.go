package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sink is a real HTTP server that records what replay posts, and answers
// with the status that fail picks (0: 200).
type sink struct {
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
	calls  int
	fail   func(call int) int
}

func newSink(t *testing.T, fail func(call int) int) (*sink, string) {
	s := &sink{fail: fail}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.calls++
		status := 0
		if s.fail != nil {
			status = s.fail(s.calls)
		}
		if status == 0 {
			s.bodies = append(s.bodies, body)
			s.heads = append(s.heads, r.Header.Clone())
		}
		s.mu.Unlock()
		if status != 0 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL + "/ingest"
}

func TestReplayToHTTP(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir)
	t.Run("original payload and headers, replay marks, 503 retried", func(t *testing.T) {
		s, url := newSink(t, func(call int) int {
			if call == 1 {
				return http.StatusServiceUnavailable
			}
			return 0
		})
		out, err := run(t, "replay", dir, "--to", url, "--service", "ingest")
		require.NoError(t, err)
		assert.Equal(t, "replayed 1 to "+url+"; failed 0; unreadable 0\n", out, "no refused count without --max-replays")
		require.Len(t, s.bodies, 1)
		assert.Equal(t, allBytes, s.bodies[0], "every byte value survives")
		assert.Equal(t, "t-1", s.heads[0].Get("trace"))
		assert.Empty(t, s.heads[0].Values("bin"), "a binary value cannot be an HTTP header")
		assert.Equal(t, "id-binary", s.heads[0].Get("dlq.replay_of"))
		assert.Equal(t, "1", s.heads[0].Get("dlq.replay_count"))
	})
	t.Run("the target is printed as written", func(t *testing.T) {
		_, url := newSink(t, nil)
		out, err := run(t, "replay", dir, "--to", url+"/{source.topic}", "--service", "ingest")
		require.NoError(t, err)
		assert.Equal(t, "replayed 1 to "+url+"/{source.topic}; failed 0; unreadable 0\n", out)
	})
	t.Run("dry run sends nothing", func(t *testing.T) {
		s, url := newSink(t, nil)
		out, err := run(t, "replay", dir, "--to", url, "--dry-run", "--reason", "timeout")
		require.NoError(t, err)
		assert.Contains(t, out, "dry run: would replay 2 to")
		assert.Zero(t, s.calls)
	})
	t.Run("a refused payload stops the replay with a non-zero exit", func(t *testing.T) {
		_, url := newSink(t, func(call int) int {
			if call == 3 {
				return http.StatusBadRequest
			}
			return 0
		})
		out, err := run(t, "replay", dir, "--to", url)
		assert.ErrorContains(t, err, "replay stopped: 2 sent, 7 failed: http target: entry id-parse-1: 400 Bad Request")
		assert.Contains(t, out, "replayed 2 to")
	})
}

func TestReplayMaxReplays(t *testing.T) {
	dir := t.TempDir()
	o, err := dlq.New(dlq.Config{Service: "svc", File: dlq.FileConfig{Dir: dir}})
	require.NoError(t, err)
	for i, count := range []string{"", "1", "2", "3"} {
		e := dlq.Entry{Reason: "r", Payload: fmt.Appendf(nil, "p%d", i), ID: fmt.Sprintf("id-%d", i)}
		if count != "" {
			e.Headers = []dlq.Header{{Key: "dlq.replay_of", Value: []byte("older")}, {Key: "dlq.replay_count", Value: []byte(count)}}
		}
		require.NoError(t, o.Send(e))
	}
	require.NoError(t, o.Send(dlq.Entry{Reason: "r", Payload: []byte("meta"), ID: "id-meta", Metadata: map[string]string{"dlq.replay_count": "5"}}))
	require.NoError(t, o.Close(t.Context()))

	s, url := newSink(t, nil)
	out, err := run(t, "replay", dir, "--to", url, "--max-replays", "2")
	require.NoError(t, err)
	assert.Contains(t, out, "replayed 2 to "+url+"; refused 3 (replayed 2 times or more)")
	require.Len(t, s.heads, 2)
	assert.Equal(t, "1", s.heads[0].Get("dlq.replay_count"))
	assert.Equal(t, []string{"2"}, s.heads[1].Values("dlq.replay_count"), "an earlier mark is replaced, not repeated")
	assert.Equal(t, []string{"id-1"}, s.heads[1].Values("dlq.replay_of"))
}

func TestReplayCheckpointResumes(t *testing.T) {
	dir := t.TempDir()
	const n = 250
	o, err := dlq.New(dlq.Config{Service: "svc", File: dlq.FileConfig{Dir: dir}})
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, o.Send(dlq.Entry{Reason: "r", Payload: []byte(strconv.Itoa(i)), ID: strconv.Itoa(i)}))
	}
	require.NoError(t, o.Close(t.Context()))
	cp := filepath.Join(t.TempDir(), "replay.checkpoint")

	failOnce := true
	s, url := newSink(t, func(call int) int {
		if call == 150 && failOnce {
			failOnce = false
			return http.StatusBadRequest
		}
		return 0
	})
	_, err = run(t, "replay", dir, "--to", url, "--checkpoint", cp)
	require.ErrorContains(t, err, "replay stopped: 149 sent, 51 failed")
	data, err := os.ReadFile(cp)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"replayed":100`, "the checkpoint holds the last confirmed batch")

	out, err := run(t, "replay", dir, "--to", url, "--checkpoint", cp)
	require.NoError(t, err)
	assert.Contains(t, out, "replayed 150 to")
	seen := map[string]int{}
	for _, b := range s.bodies {
		seen[string(b)]++
	}
	for i := range n {
		want := 1
		if i >= 100 && i < 149 {
			want = 2 // the batch in flight when the first run stopped
		}
		assert.Equal(t, want, seen[strconv.Itoa(i)], "entry %d", i)
	}
	out, err = run(t, "replay", dir, "--to", url, "--checkpoint", cp)
	require.NoError(t, err)
	assert.Contains(t, out, "replayed 0 to", "a finished replay has nothing left")

	_, err = run(t, "replay", t.TempDir(), "--to", url, "--checkpoint", cp)
	assert.ErrorContains(t, err, "belongs to source")
}

func TestReplayRateAndUsage(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir)
	s, url := newSink(t, nil)
	start := time.Now()
	_, err := run(t, "replay", dir, "--to", url, "--rate", "1000")
	require.NoError(t, err)
	assert.Len(t, s.bodies, 9)
	t.Logf("9 entries at --rate 1000 took %v", time.Since(start))
	_, err = run(t, "replay", dir)
	assert.ErrorContains(t, err, `"to"`)
	_, err = run(t, "replay", dir, "--to", "ftp://x/y")
	assert.ErrorContains(t, err, `scheme "ftp"`)
	_, err = run(t, "replay", dir, "--to", url, "--rate", "-1")
	assert.ErrorContains(t, err, "negative")
}
