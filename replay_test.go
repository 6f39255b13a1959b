package dlq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replaySink is a real HTTP server that records what a replay posts, and
// answers with the status that fail picks (0: 200).
type replaySink struct {
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
	calls  int
	fail   func(call int) int
	url    string
}

func newReplaySink(t *testing.T, fail func(call int) int) *replaySink {
	s := &replaySink{fail: fail}
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
	s.url = srv.URL + "/ingest"
	return s
}

// callCount returns how many requests the sink got.
func (s *replaySink) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// received returns the bodies the sink stored, as text, in order.
func (s *replaySink) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.bodies))
	for i, b := range s.bodies {
		out[i] = string(b)
	}
	return out
}

// replayedIDs counts the HeaderReplayOf of each message s stored.
func (s *replaySink) replayedIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, h := range s.heads {
		out[h.Get(HeaderReplayOf)]++
	}
	return out
}

// allBytes is a payload of every byte value.
var allBytes = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// writeReplayFixture writes, through the file backend, into dir/svc: six
// entries of reason parse_error, two of timeout, and one with a binary
// payload, key and headers (id-binary, reason poison, source topic
// payments); it returns the service folder.
func writeReplayFixture(t *testing.T, dir string) string {
	t.Helper()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	for i := range 6 {
		require.NoError(t, o.Send(Entry{Reason: "parse_error", Error: fmt.Sprintf("unexpected token at offset %d", 7*i),
			Payload: fmt.Appendf(nil, `{"n":%d`, i), ID: fmt.Sprintf("id-parse-%d", i)}))
	}
	for i := range 2 {
		require.NoError(t, o.Send(Entry{Reason: "timeout", Error: fmt.Sprintf("call to 10.0.0.%d:5432 timed out", i),
			Payload: []byte("slow"), ID: fmt.Sprintf("id-timeout-%d", i)}))
	}
	require.NoError(t, o.Send(Entry{Reason: "poison", Error: "checksum 0xdeadbeef mismatch", Payload: allBytes,
		Key: []byte{0, 0xff, '\n'}, Headers: []Header{{Key: "trace", Value: []byte("t-1")}, {Key: "bin", Value: []byte{0xfe, 0}}},
		Source: KafkaSource("payments", 1, 7), ID: "id-binary"}))
	closeOK(t, o)
	return filepath.Join(dir, "svc")
}

// writeNumbered writes n entries into dir/svc; entry i has the id and
// payload "%05d" of i, so that the target can tell which it got.
func writeNumbered(t *testing.T, dir string, n int) string {
	t.Helper()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	for i := range n {
		id := fmt.Sprintf("%05d", i)
		require.NoError(t, o.Send(Entry{Reason: "r", Payload: []byte(id), ID: id}))
	}
	closeOK(t, o)
	return filepath.Join(dir, "svc")
}

// numbers returns "%05d" of from to to-1.
func numbers(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%05d", i))
	}
	return out
}

func TestReplayToHTTP(t *testing.T) {
	src := writeReplayFixture(t, t.TempDir())
	t.Run("original payload and headers, replay marks, 503 retried", func(t *testing.T) {
		s := newReplaySink(t, func(call int) int {
			if call == 1 {
				return http.StatusServiceUnavailable
			}
			return 0
		})
		res, err := Replay(t.Context(), src, s.url, ReplayOptions{Filter: Filter{Reasons: []string{"poison"}}})
		require.NoError(t, err)
		assert.Equal(t, ReplayResult{Read: 9, Sent: 1, Skipped: 8}, res)
		require.Len(t, s.bodies, 1)
		assert.Equal(t, allBytes, s.bodies[0], "every byte value survives")
		assert.Equal(t, "t-1", s.heads[0].Get("trace"))
		assert.Empty(t, s.heads[0].Values("bin"), "a binary value cannot be an HTTP header")
		assert.Equal(t, "id-binary", s.heads[0].Get(HeaderReplayOf))
		assert.Equal(t, "1", s.heads[0].Get(HeaderReplayCount))
		assert.Equal(t, "application/octet-stream", s.heads[0].Get("Content-Type"))
	})
	t.Run("dry run sends nothing", func(t *testing.T) {
		s := newReplaySink(t, nil)
		res, err := Replay(t.Context(), src, s.url, ReplayOptions{DryRun: true, Filter: Filter{Reasons: []string{"timeout"}}})
		require.NoError(t, err)
		assert.Equal(t, ReplayResult{Read: 9, Sent: 2, Skipped: 7}, res, "Sent: what would be sent")
		assert.Zero(t, s.callCount())
	})
	t.Run("a refused payload stops the replay", func(t *testing.T) {
		s := newReplaySink(t, func(call int) int {
			if call == 3 {
				return http.StatusBadRequest
			}
			return 0
		})
		res, err := Replay(t.Context(), src, s.url, ReplayOptions{})
		require.Error(t, err)
		assert.Equal(t, "dlq: replay stopped: 2 sent, 7 failed: http target: entry id-parse-2: 400 Bad Request", err.Error())
		assert.ErrorIs(t, err, ErrTargetFailed)
		var re *ReplayError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, uint64(2), re.Sent)
		assert.Equal(t, uint64(7), re.Failed)
		assert.Equal(t, uint64(2), res.Sent)
		assert.Equal(t, uint64(7), res.Failed)
		assert.Equal(t, []string{`{"n":0`, `{"n":1`}, s.received())
	})
	t.Run("a target that does not answer", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		url := dead.URL + "/x"
		dead.Close()
		res, err := Replay(t.Context(), src, url, ReplayOptions{})
		require.ErrorIs(t, err, ErrTargetFailed)
		assert.ErrorContains(t, err, "dlq: replay stopped: 0 sent, 9 failed: http target: entry id-parse-0: Post: dial tcp")
		assert.NotContains(t, err.Error(), url, "the URL, which may hold a secret, is left out")
		assert.Equal(t, uint64(9), res.Failed)
	})
}

func TestReplayMaxReplays(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	for i, count := range []string{"", "1", "2", "3"} {
		e := Entry{Reason: "r", Payload: fmt.Appendf(nil, "p%d", i), ID: fmt.Sprintf("id-%d", i)}
		if count != "" {
			e.Headers = []Header{{Key: HeaderReplayOf, Value: []byte("older")}, {Key: HeaderReplayCount, Value: []byte(count)}}
		}
		require.NoError(t, o.Send(e))
	}
	require.NoError(t, o.Send(Entry{Reason: "r", Payload: []byte("meta"), ID: "id-meta", Metadata: map[string]string{HeaderReplayCount: "5"}}))
	closeOK(t, o)

	s := newReplaySink(t, nil)
	res, err := Replay(t.Context(), dir, s.url, ReplayOptions{MaxReplays: 2})
	require.NoError(t, err)
	assert.Equal(t, ReplayResult{Read: 5, Sent: 2, Refused: 3}, res)
	require.Len(t, s.heads, 2)
	assert.Equal(t, "1", s.heads[0].Get(HeaderReplayCount))
	assert.Equal(t, []string{"2"}, s.heads[1].Values(HeaderReplayCount), "an earlier mark is replaced, not repeated")
	assert.Equal(t, []string{"id-1"}, s.heads[1].Values(HeaderReplayOf))
}

// TestReplayByFingerprint: three bugs, one of which is fixed; a replay
// selecting its fingerprint sends its entries only, whatever ids, numbers
// and addresses their error texts hold.
func TestReplayByFingerprint(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	texts := []string{
		"charge ch_3PqX9a2b failed after %d attempts",
		"dial tcp 10.0.0.%d:5432: connection refused",
		`column "amount_%d" does not exist`,
	}
	for i := range 30 {
		require.NoError(t, o.Send(Entry{Reason: "r", Error: fmt.Sprintf(texts[i%3], i), Payload: []byte(strconv.Itoa(i)), ID: fmt.Sprintf("id-%02d", i)}))
	}
	closeOK(t, o)
	fp := Fingerprint(fmt.Sprintf(texts[1], 7))
	require.Equal(t, "dial tcp <ip>: connection refused", fp)

	s := newReplaySink(t, nil)
	res, err := Replay(t.Context(), dir, s.url, ReplayOptions{Filter: Filter{Fingerprints: []string{fp}}})
	require.NoError(t, err)
	assert.Equal(t, ReplayResult{Read: 30, Sent: 10, Skipped: 20}, res)
	want := map[string]int{}
	for i := 1; i < 30; i += 3 {
		want[fmt.Sprintf("id-%02d", i)] = 1
	}
	assert.Equal(t, want, s.replayedIDs())

	t.Run("two fingerprints", func(t *testing.T) {
		res, err := Replay(t.Context(), dir, s.url, ReplayOptions{DryRun: true,
			Filter: Filter{Fingerprints: []string{fp, Fingerprint(fmt.Sprintf(texts[2], 0))}}})
		require.NoError(t, err)
		assert.Equal(t, uint64(20), res.Sent)
	})
}

// TestReplayRateCapsSends: Rate N lets at most N·(T+rateBurst)+1 messages
// go in any T, however slow or busy the machine. The replay runs against a
// deadline; the bound uses the time the test measured around it, which can
// only be longer than the replay's own.
func TestReplayRateCapsSends(t *testing.T) {
	src := writeNumbered(t, t.TempDir(), 1000)
	s := newReplaySink(t, nil)
	const rate = 40
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Replay(ctx, src, s.url, ReplayOptions{Rate: rate})
	took := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded, "1000 entries at 40 a second outlast half a second")
	got := len(s.received())
	allowed := int(rate*(took+rateBurst).Seconds()) + 1
	assert.LessOrEqual(t, got, allowed, "sent in %v at Rate %d", took, rate)
	assert.LessOrEqual(t, res.Sent, uint64(got), "counted sent only once the target confirmed them")
	assert.Equal(t, fmt.Sprintf("dlq: replay stopped: %d sent: context deadline exceeded", res.Sent), err.Error())
}

// TestReplayOptionsRefused: options and target URLs Replay does not take
// fail before anything is read or sent.
func TestReplayOptionsRefused(t *testing.T) {
	src := writeNumbered(t, t.TempDir(), 3)
	s := newReplaySink(t, nil)
	for _, test := range []struct {
		name   string
		target string
		opts   ReplayOptions
		want   string
		is     error
	}{
		{"a negative rate", s.url, ReplayOptions{Rate: -1}, "rate -1 is not", nil},
		{"a rate that is no number", s.url, ReplayOptions{Rate: math.NaN()}, "rate NaN is not", nil},
		{"an endless rate", s.url, ReplayOptions{Rate: math.Inf(1)}, "rate +Inf is not", nil},
		{"negative max replays", s.url, ReplayOptions{MaxReplays: -1}, "max replays -1 is negative", nil},
		{"a since that is no time", s.url, ReplayOptions{Since: "yesterday"}, `replay: since: dlq: "yesterday" is neither`, nil},
		{"an until that is no time", s.url, ReplayOptions{Until: "-1h"}, `replay: until: dlq: "-1h" is neither`, nil},
		{"a bad glob", s.url, ReplayOptions{Filter: Filter{Reasons: []string{"["}}}, "pattern", nil},
		{"another scheme", "ftp://u:s3cret@x/y", ReplayOptions{}, `dlq: invalid replay target ftp://u:xxxxx@x/y: scheme "ftp" is not kafka, http, https, redis, rediss or unix`, ErrInvalidTarget},
		{"no host", "http:///x", ReplayOptions{}, "dlq: invalid replay target http:///x: not kafka://HOST:PORT/TOPIC", ErrInvalidTarget},
		{"a stream missing", "redis://127.0.0.1:6379/0", ReplayOptions{DryRun: true}, "names no stream (?stream=NAME)", ErrInvalidTarget},
		{"kafka credentials", "kafka://svc:s3cret@127.0.0.1:9092/t", ReplayOptions{DryRun: true}, "dlq: invalid replay target kafka://svc:xxxxx@127.0.0.1:9092/t: a user in a kafka:// target is not supported (no SASL)", ErrInvalidTarget},
		{"a source of another form", s.url, ReplayOptions{}, `scheme "gopher"`, nil},
	} {
		t.Run(test.name, func(t *testing.T) {
			from := src
			if test.name == "a source of another form" {
				from = "gopher://x"
			}
			res, err := Replay(t.Context(), from, test.target, test.opts)
			require.ErrorContains(t, err, test.want)
			if test.is != nil {
				assert.ErrorIs(t, err, test.is)
			}
			var re *ReplayError
			assert.False(t, errors.As(err, &re), "not a stopped replay: nothing was read")
			assert.Zero(t, res)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
	assert.Zero(t, s.callCount(), "nothing sent")
}

// TestReplayProgress: OnProgress hears of the start, of the run as it goes
// (from a goroutine that has ended when Replay returns: goleak checks it),
// and of the end, with the result; calls never overlap and counts never
// go back.
func TestReplayProgress(t *testing.T) {
	src := writeNumbered(t, t.TempDir(), 250)
	cp := filepath.Join(t.TempDir(), "replay.cp")
	var (
		calls   []ReplayProgress
		inside  atomic.Bool
		overlap atomic.Bool
	)
	// The target holds its 150th request until OnProgress heard of the
	// first batch, confirmed: a call in the middle of the run.
	midway := make(chan struct{})
	var midwayOnce sync.Once
	s := newReplaySink(t, func(call int) int {
		if call == 150 {
			<-midway
			return http.StatusBadRequest
		}
		return 0
	})
	record := func(p ReplayProgress) {
		if inside.Swap(true) {
			overlap.Store(true)
		}
		calls = append(calls, p)
		if p.Sent >= 100 {
			midwayOnce.Do(func() { close(midway) })
		}
		inside.Store(false)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := Replay(ctx, src, s.url, ReplayOptions{Checkpoint: cp, OnProgress: record, ProgressInterval: time.Millisecond})
	require.ErrorIs(t, err, ErrTargetFailed)
	require.GreaterOrEqual(t, len(calls), 3, "the start, one while it ran, the end")
	assert.False(t, overlap.Load(), "calls overlapped")
	assert.Equal(t, ReplayProgress{}, calls[0], "the start: nothing done, nothing resumed")
	last := calls[len(calls)-1]
	assert.Equal(t, res, last.ReplayResult, "the end: the result")
	assert.Equal(t, uint64(149), last.Sent)
	assert.Equal(t, uint64(51), last.Failed)
	for i := 1; i < len(calls); i++ {
		assert.GreaterOrEqual(t, calls[i].Sent, calls[i-1].Sent, "call %d", i)
		assert.GreaterOrEqual(t, calls[i].Read, calls[i-1].Read, "call %d", i)
	}
	var mid []ReplayProgress
	for _, c := range calls[1 : len(calls)-1] {
		if c.Sent == 100 {
			mid = append(mid, c)
		}
	}
	require.NotEmpty(t, mid, "a call while the target held request 150")
	assert.GreaterOrEqual(t, mid[0].Read, uint64(100), "the first batch was read")
	assert.NotEmpty(t, mid[0].Position)

	calls = nil
	res, err = Replay(ctx, src, s.url, ReplayOptions{Checkpoint: cp, OnProgress: record, Rate: 1e6})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(calls), 2)
	assert.Equal(t, ReplayProgress{ReplayResult: ReplayResult{Resumed: true, From: calls[0].From, Before: 149}, Position: calls[0].From, Rate: 1e6}, calls[0],
		"the start of a resumed replay")
	assert.Equal(t, ReplayResult{Read: 101, Sent: 101, Resumed: true, From: calls[0].From, Before: 149}, res)
	assert.Equal(t, res, calls[1].ReplayResult)
}

// TestReplayThroughRotations: a replay sends what the folder held when it
// began, once each, while the writer rotates (and gzips) the live file
// under it; interrupted and resumed from its checkpoint after two more
// rotations, it sends the rest.
func TestReplayThroughRotations(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("rotated in the middle, compress %v", compress), func(t *testing.T) {
			w := newDLQWriter(t, t.TempDir(), "loader", compress)
			w.write(200)
			w.rotate(300) // a rotated file of 200, the live file of 300
			s := newReplaySink(t, func(call int) int {
				if call == 50 { // while the rotated file is replayed
					w.rotate(300) // 300 not there at the start
				}
				return 0
			})
			res, err := Replay(t.Context(), w.dir, s.url, ReplayOptions{})
			require.NoError(t, err)
			assert.Equal(t, uint64(500), res.Sent)
			checkReplayed(t, s.replayedIDs(), 0, 500, 0)
		})
	}
	t.Run("interrupted, rotated twice, resumed from the checkpoint", func(t *testing.T) {
		w := newDLQWriter(t, t.TempDir(), "loader", true)
		w.write(300)
		cp := filepath.Join(t.TempDir(), "replay.checkpoint")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		s := newReplaySink(t, func(call int) int {
			if call == 250 {
				cancel()
			}
			return 0
		})
		_, err := Replay(ctx, w.dir, s.url, ReplayOptions{Rate: 100000, Checkpoint: cp})
		require.ErrorIs(t, err, context.Canceled)
		w.rotate(100)
		w.rotate(100)
		_, err = Replay(t.Context(), w.dir, s.url, ReplayOptions{Rate: 100000, Checkpoint: cp})
		require.NoError(t, err)
		checkReplayed(t, s.replayedIDs(), 0, w.n, 100)
	})
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

// TestReplayBatchHook: the send loop tells its hook of each batch the
// target confirmed, in order, with the answers that asked it to slow down
// (429, 503), and of the part of a failed batch that went through.
func TestReplayBatchHook(t *testing.T) {
	src := writeNumbered(t, t.TempDir(), 250)
	s := newReplaySink(t, func(call int) int {
		switch call {
		case 1:
			return http.StatusTooManyRequests
		case 2:
			return http.StatusServiceUnavailable
		case 3:
			return http.StatusBadGateway
		case 160:
			return http.StatusBadRequest
		}
		return 0
	})
	type batch struct {
		ids       []string
		throttled int
		failed    bool
	}
	var got []batch
	opts := ReplayOptions{onBatch: func(confirmed []replayMsg, rep *sendReport, err error) {
		b := batch{throttled: rep.throttled, failed: err != nil}
		for _, m := range confirmed {
			b.ids = append(b.ids, m.entry.ID)
		}
		assert.Positive(t, rep.took)
		got = append(got, b)
	}}
	_, err := Replay(t.Context(), src, s.url, opts)
	require.ErrorIs(t, err, ErrTargetFailed)
	assert.Equal(t, []batch{
		{ids: numbers(0, 100), throttled: 2},
		{ids: numbers(100, 156), failed: true},
	}, got, "request 160 is entry 156's: the first three were answered 429, 503, 502 and retried")
}
