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

// TestReplayDryRunWritesNothing: a dry run reads and counts; it neither
// sends, nor queues to send, nor writes or moves a checkpoint, --rate and
// --checkpoint given or not.
func TestReplayDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	const n = 250 // more than a batch
	writeNumbered(t, dir, n)
	s, url := newSink(t, func(call int) int {
		if call == 120 {
			return http.StatusBadRequest
		}
		return 0
	})
	cp := filepath.Join(t.TempDir(), "replay.cp")
	args := []string{"replay", dir, "--to", url, "--rate", "100000", "--checkpoint", cp}
	out, err := run(t, append(args, "--dry-run")...)
	require.NoError(t, err)
	assert.Equal(t, "dry run: would replay 250 to "+url+"; failed 0; unreadable 0\n", out)
	assert.Zero(t, s.callCount(), "nothing sent")
	assert.NoFileExists(t, cp)
	assert.NoFileExists(t, cp+".tmp")

	_, err = run(t, args...) // a real run, stopped by the target at entry 119
	require.ErrorContains(t, err, "replay stopped: 119 sent")
	saved, err := os.ReadFile(cp)
	require.NoError(t, err)
	before, err := os.Stat(cp)
	require.NoError(t, err)
	calls := s.callCount()
	out, err = run(t, append(args, "--dry-run")...)
	require.NoError(t, err)
	assert.Contains(t, out, ", 119 replayed before\ndry run: would replay 131 to ")
	assert.Equal(t, calls, s.callCount(), "nothing sent")
	after, err := os.Stat(cp)
	require.NoError(t, err)
	assert.True(t, os.SameFile(before, after), "the checkpoint is not rewritten")
	now, err := os.ReadFile(cp)
	require.NoError(t, err)
	assert.Equal(t, saved, now)
}

// rateBurst is how far behind its schedule a replay capped by --rate may
// catch up at once, as dlq.ReplayOptions.Rate promises.
const rateBurst = 50 * time.Millisecond

// TestReplayRateCapsSends: --rate N lets at most N·(T+rateBurst)+1
// messages go in any T, however slow or busy the machine. The replay runs
// against a deadline; the bound uses the time the test measured around it,
// which can only be longer than the replay's own.
func TestReplayRateCapsSends(t *testing.T) {
	dir := t.TempDir()
	writeNumbered(t, dir, 1000)
	s, url := newSink(t, nil)
	const rate = 40
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := runCtx(ctx, t, "replay", dir, "--to", url, "--rate", strconv.Itoa(rate))
	took := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded, "1000 entries at 40 a second outlast half a second")
	s.mu.Lock()
	got := len(s.bodies)
	s.mu.Unlock()
	allowed := int(rate*(took+rateBurst).Seconds()) + 1
	assert.LessOrEqual(t, got, allowed, "sent in %v at --rate %d", took, rate)
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

// landing is an HTTP handler that counts the requests reaching it: POSTs
// with a body, and the others (a POST turned into a GET by a redirect).
type landing struct {
	mu       sync.Mutex
	posts    int
	bodiless int
}

func (l *landing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.Method == http.MethodPost && len(body) > 0 {
		l.posts++
	} else {
		l.bodiless++
	}
}

func (l *landing) counts() (posts, bodiless int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.posts, l.bodiless
}

// redirector answers every request to /ingest with code and Location loc,
// and hands any other path to next.
func redirector(code int, loc string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ingest" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(code)
	})
}

// TestReplayHTTPRedirects: a 301, 302 or 303 would make the client resend
// the POST as a GET without its body (0 of 20 delivered, "replayed 20",
// exit 0); a 307 or 308 to another host or from https to http would hand
// the payloads to someone else. Each is refused, the entries counted
// failed, with a non-zero exit and an error naming the Location. A 307 or
// 308 to the same scheme, host and port is followed, body and all.
func TestReplayHTTPRedirects(t *testing.T) {
	dir := t.TempDir()
	const n = 20
	writeNumbered(t, dir, n)
	foreign := &landing{}
	foreignSrv := httptest.NewServer(foreign)
	defer foreignSrv.Close()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			here := &landing{}
			srv := httptest.NewServer(redirector(code, "/landed", here))
			defer srv.Close()
			out, err := run(t, "replay", dir, "--to", srv.URL+"/ingest")
			require.ErrorContains(t, err, fmt.Sprintf("replay stopped: 0 sent, %d failed", n))
			assert.ErrorContains(t, err, fmt.Sprintf(`redirect to "%s/landed" refused`, srv.URL))
			assert.Contains(t, out, "replayed 0 to")
			posts, bodiless := here.counts()
			assert.Zero(t, posts+bodiless, "nothing followed the redirect")
		})
	}
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(code, " to the same origin is followed"), func(t *testing.T) {
			here := &landing{}
			srv := httptest.NewServer(redirector(code, "/landed", here))
			defer srv.Close()
			out, err := run(t, "replay", dir, "--to", srv.URL+"/ingest")
			require.NoError(t, err)
			assert.Contains(t, out, fmt.Sprintf("replayed %d to", n))
			posts, bodiless := here.counts()
			assert.Equal(t, n, posts, "each POST arrived with its body")
			assert.Zero(t, bodiless)
		})
		t.Run(fmt.Sprint(code, " to another host is refused"), func(t *testing.T) {
			srv := httptest.NewServer(redirector(code, foreignSrv.URL+"/stolen", nil))
			defer srv.Close()
			_, err := run(t, "replay", dir, "--to", srv.URL+"/ingest")
			require.ErrorContains(t, err, fmt.Sprintf("replay stopped: 0 sent, %d failed", n))
			assert.ErrorContains(t, err, fmt.Sprintf(`redirect to "%s/stolen" refused`, foreignSrv.URL))
			posts, bodiless := foreign.counts()
			assert.Zero(t, posts+bodiless, "nothing reached the other host")
		})
	}
	t.Run("307 from https to http is refused", func(t *testing.T) {
		// The command runs as a process of its own that trusts the test
		// server's certificate through SSL_CERT_FILE.
		srv := httptest.NewTLSServer(redirector(http.StatusTemporaryRedirect, foreignSrv.URL+"/plain", nil))
		defer srv.Close()
		certFile := filepath.Join(t.TempDir(), "cert.pem")
		require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		c := startChild(ctx, t, []string{"SSL_CERT_FILE=" + certFile}, "replay", dir, "--to", srv.URL+"/ingest")
		require.Error(t, c.wait(ctx, t), "a non-zero exit")
		assert.Contains(t, c.stderr.String(), fmt.Sprintf("replay stopped: 0 sent, %d failed", n))
		assert.Contains(t, c.stderr.String(), fmt.Sprintf(`redirect to "%s/plain" refused`, foreignSrv.URL))
		posts, bodiless := foreign.counts()
		assert.Zero(t, posts+bodiless, "nothing went over plain http")
	})
}

// replayedIDs counts the dlq.replay_of of each message s received.
func (s *sink) replayedIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, h := range s.heads {
		out[h.Get("dlq.replay_of")]++
	}
	return out
}

// checkReplayed requires ids id-<from> to id-<to-1> replayed at least
// once, at most dups of them twice, and nothing else.
func checkReplayed(t *testing.T, got map[string]int, from, to, dups int) {
	t.Helper()
	var skipped, twice int
	for i := from; i < to; i++ {
		id := fmt.Sprintf("id-%05d", i)
		switch n := got[id]; {
		case n == 0:
			skipped++
		case n > 1:
			twice += n - 1
		}
		delete(got, id)
	}
	assert.Zero(t, skipped, "%d of ids %d to %d never replayed", skipped, from, to-1)
	assert.LessOrEqual(t, twice, dups, "replayed twice")
	assert.Empty(t, got, "replayed though not in the source at the start")
}

func TestReplayThroughRotations(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("rotated in the middle, compress %v", compress), func(t *testing.T) {
			w := newRotatingDLQ(t, t.TempDir(), "loader", compress)
			w.write(200)
			w.rotate(300) // a rotated file of 200, the live file of 300
			s, url := newSink(t, func(call int) int {
				if call == 50 { // while the rotated file is replayed
					w.rotate(300) // 300 not there at the start
				}
				return 0
			})
			out, err := run(t, "replay", w.dir, "--to", url)
			require.NoError(t, err)
			assert.Contains(t, out, "replayed 500 ")
			checkReplayed(t, s.replayedIDs(), 0, 500, 0)
		})
	}
	t.Run("interrupted, rotated twice, resumed from the checkpoint", func(t *testing.T) {
		w := newRotatingDLQ(t, t.TempDir(), "loader", true)
		w.write(300)
		cp := filepath.Join(t.TempDir(), "replay.checkpoint")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		s, url := newSink(t, func(call int) int {
			if call == 250 {
				cancel()
			}
			return 0
		})
		_, err := runCtx(ctx, t, "replay", w.dir, "--to", url, "--rate", "100000", "--checkpoint", cp)
		require.ErrorIs(t, err, context.Canceled)
		w.rotate(100)
		w.rotate(100)
		_, err = run(t, "replay", w.dir, "--to", url, "--rate", "100000", "--checkpoint", cp)
		require.NoError(t, err)
		checkReplayed(t, s.replayedIDs(), 0, w.n, 100)
	})
}
