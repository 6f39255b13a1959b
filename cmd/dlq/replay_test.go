package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
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

// callCount returns how many requests the sink got.
func (s *sink) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
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
	writeNumbered(t, dir, n)
	cp := filepath.Join(t.TempDir(), "replay.checkpoint")

	failOnce := true
	s, url := newSink(t, func(call int) int {
		if call == 150 && failOnce {
			failOnce = false
			return http.StatusBadRequest
		}
		return 0
	})
	_, err := run(t, "replay", dir, "--to", url, "--checkpoint", cp)
	require.ErrorContains(t, err, "replay stopped: 149 sent, 51 failed")
	saved := readCheckpoint(t, cp)
	assert.Equal(t, uint64(149), saved.Replayed, "the checkpoint holds every entry the target confirmed")

	out, err := run(t, "replay", dir, "--to", url, "--checkpoint", cp)
	require.NoError(t, err)
	assert.Equal(t, "resuming after "+saved.Position+", 149 replayed before\nreplayed 101 to "+url+"; failed 0; unreadable 0\n", out)
	seen := map[string]int{}
	for _, b := range s.bodies {
		seen[string(b)]++
	}
	var wrong []string
	for i := range n {
		if c := seen[fmt.Sprintf("%05d", i)]; c != 1 {
			wrong = append(wrong, fmt.Sprintf("%d×%d", i, c))
		}
	}
	assert.Empty(t, wrong, "entries not sent exactly once (entry×times): a confirmed entry is not sent again")
	assert.Equal(t, uint64(n), readCheckpoint(t, cp).Replayed)
	out, err = run(t, "replay", dir, "--to", url, "--checkpoint", cp)
	require.NoError(t, err)
	assert.Contains(t, out, "replayed 0 to", "a finished replay has nothing left")
}

// TestReplayCheckpointRefusesAnotherReplay: a checkpoint belongs to one
// source, target and selection. Reused for another, it would skip what the
// first replay sent somewhere else (production got 0 of 300, exit 0); it is
// refused, naming the difference, and nothing is sent.
func TestReplayCheckpointRefusesAnotherReplay(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	writeNumbered(t, dir, 300)
	writeNumbered(t, other, 3)
	_, url := newSink(t, nil)
	s2, url2 := newSink(t, nil)
	cp := filepath.Join(t.TempDir(), "replay.cp")
	first := []string{"--to", url, "--reason", "r", "--since", "1h", "--checkpoint", cp}
	_, err := run(t, append([]string{"replay", dir}, first...)...)
	require.NoError(t, err)
	saved, err := os.ReadFile(cp)
	require.NoError(t, err)

	with := func(flag, value string) []string { // first, with flag set to value ("" drops it)
		var out []string
		for i := 0; i < len(first); i += 2 {
			if first[i] != flag {
				out = append(out, first[i], first[i+1])
			}
		}
		if value != "" {
			out = append(out, flag, value)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		src  string
		args []string
		want string
	}{
		{"another target", dir, with("--to", url2), fmt.Sprintf(`--to %q, not %q`, url, url2)},
		{"another reason", dir, with("--reason", "r*"), `--reason "r", not "r*"`},
		{"no reason", dir, with("--reason", ""), `--reason "r", not ""`},
		{"another since", dir, with("--since", "2h"), `--since "1h", not "2h"`},
		{"a service", dir, with("--service", "svc"), `--service "", not "svc"`},
		{"a destination", dir, with("--destination", "d"), `--destination "", not "d"`},
		{"an until", dir, with("--until", "1m"), `--until "", not "1m"`},
		{"an id", dir, with("--id", "00001"), `--id "", not "00001"`},
		{"max replays", dir, with("--max-replays", "3"), `--max-replays "0", not "3"`},
		{"another source", other, first, "source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, append([]string{"replay", tc.src}, tc.args...)...)
			require.ErrorContains(t, err, "belongs to another replay")
			assert.ErrorContains(t, err, tc.want)
			assert.Empty(t, out)
			assert.Zero(t, s2.callCount(), "nothing sent")
			now, err := os.ReadFile(cp)
			require.NoError(t, err)
			assert.Equal(t, saved, now, "the checkpoint is left as it was")
		})
	}
	t.Run("the same folder by another path is the same source", func(t *testing.T) {
		out, err := run(t, append([]string{"replay", filepath.Join(dir, "..", filepath.Base(dir))}, first...)...)
		require.NoError(t, err)
		assert.Contains(t, out, "replayed 0 to")
	})
	t.Run("a checkpoint without its target and filters", func(t *testing.T) {
		old := filepath.Join(t.TempDir(), "old.cp")
		require.NoError(t, os.WriteFile(old, []byte(`{"source":"`+dir+`","target":"`+url+`","position":"dlq.ndjson:100","replayed":1}`), 0o600))
		_, err := run(t, "replay", dir, "--to", url, "--checkpoint", old)
		assert.ErrorContains(t, err, "does not record the target and filters")
	})
	t.Run("a checkpoint of a newer dlq", func(t *testing.T) {
		newer := filepath.Join(t.TempDir(), "newer.cp")
		require.NoError(t, os.WriteFile(newer, []byte(`{"version":99,"source":"`+dir+`","target":"`+url+`","position":"dlq.ndjson:100:0123456789abcdef","replayed":1}`), 0o600))
		_, err := run(t, "replay", dir, "--to", url, "--checkpoint", newer)
		assert.ErrorContains(t, err, "version 99, written by a newer dlq")
	})
}

// TestReplayCheckpointKeepsItsSince: a relative --since stands for the
// time it meant when the replay began: resumed later with the same flag,
// the replay selects the same entries, not the ones of a window moved on.
func TestReplayCheckpointKeepsItsSince(t *testing.T) {
	dir := t.TempDir()
	o, err := dlq.New(dlq.Config{Service: "svc", File: dlq.FileConfig{Dir: dir}})
	require.NoError(t, err)
	now := time.Now()
	for i := range 10 {
		age := 30 * time.Minute // inside --since 1h now
		if i >= 5 {
			age = 2 * time.Hour // inside the window of a replay that began two hours ago
		}
		require.NoError(t, o.Send(dlq.Entry{Timestamp: now.Add(-age), Reason: "r", Payload: []byte(strconv.Itoa(i)), ID: strconv.Itoa(i)}))
	}
	require.NoError(t, o.Close(t.Context()))
	s, url := newSink(t, func(call int) int {
		if call == 3 {
			return http.StatusBadRequest
		}
		return 0
	})
	cp := filepath.Join(t.TempDir(), "replay.cp")
	args := []string{"replay", dir, "--to", url, "--since", "1h", "--checkpoint", cp}
	_, err = run(t, args...)
	require.ErrorContains(t, err, "replay stopped: 2 sent")
	// The replay began two hours ago, as far as its checkpoint knows.
	data, err := os.ReadFile(cp)
	require.NoError(t, err)
	var saved map[string]any
	require.NoError(t, json.Unmarshal(data, &saved))
	filter := saved["filter"].(map[string]any)
	since, err := time.Parse(time.RFC3339Nano, filter["since_time"].(string))
	require.NoError(t, err)
	filter["since_time"] = since.Add(-2 * time.Hour)
	data, err = json.Marshal(saved)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cp, data, 0o600))

	out, err := run(t, args...)
	require.NoError(t, err)
	assert.Contains(t, out, "replayed 8 to", "entries 2 to 9: the ones the replay selected when it began")
	assert.Len(t, s.bodies, 10)
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

// foreignHost is an HTTP handler that counts the requests reaching it.
type foreignHost struct {
	mu    sync.Mutex
	calls int
}

func (f *foreignHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
}

func (f *foreignHost) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// TestReplayHTTPSRedirects: a 307 from https to http would send the
// payloads and headers in the clear; it is refused, the entries counted
// failed, with a non-zero exit and an error naming the Location, whether
// it points at another port or at the same one. The command runs as a
// process of its own that trusts the test server's certificate through
// SSL_CERT_FILE. (The other redirects: the library's
// TestReplayHTTPRedirects.)
func TestReplayHTTPSRedirects(t *testing.T) {
	dir := t.TempDir()
	const n = 20
	writeNumbered(t, dir, n)
	foreign := &foreignHost{}
	foreignSrv := httptest.NewServer(foreign)
	defer foreignSrv.Close()
	var location atomic.Pointer[string]
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", *location.Load())
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	for _, test := range []struct{ name, to string }{
		{"another port", foreignSrv.URL + "/plain"},
		// Followed, the plain request would reach the TLS server, which
		// answers 400: the error would name no redirect.
		{"the same port", "http://" + srv.Listener.Addr().String() + "/plain"},
	} {
		t.Run(test.name, func(t *testing.T) {
			location.Store(&test.to)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			c := startChild(ctx, t, []string{"SSL_CERT_FILE=" + certFile}, "replay", dir, "--to", srv.URL+"/ingest")
			require.Error(t, c.wait(ctx, t), "a non-zero exit")
			assert.Contains(t, c.stderr.String(), fmt.Sprintf("dlq: replay stopped: 0 sent, %d failed", n))
			assert.Contains(t, c.stderr.String(), fmt.Sprintf(`redirect to "%s" refused`, test.to))
			assert.Equal(t, fmt.Sprintf("replayed 0 to %s/ingest; failed %d; unreadable 0\n", srv.URL, n), c.stdout.String())
			assert.Zero(t, foreign.count(), "nothing went over plain http")
		})
	}
}
