package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The three kinds of failure of the canary's fixture, a third of the
// entries each, in this order: three fingerprints.
var canaryKinds = []struct{ reason, err string }{
	{"parse_error", "unexpected token at offset %d"},
	{"timeout", "call to 10.0.0.%d:5432 timed out"},
	{"declined", "charge ch_%dxQ declined by issuer"},
}

// canaryKind is the kind of the fixture's i-th of n entries.
func canaryKind(i, n int) int { return min(i*len(canaryKinds)/n, len(canaryKinds)-1) }

// writeCanaryFixture writes n entries through the file backend into
// dir/svc, the first third of kind 0, then of kind 1, then of kind 2;
// entry i has the id "%05d" of i and the payload "KIND:ID". It returns the
// service folder.
func writeCanaryFixture(t *testing.T, dir string, n int) string {
	t.Helper()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	for i := range n {
		k := canaryKind(i, n)
		id := fmt.Sprintf("%05d", i)
		require.NoError(t, o.Send(Entry{Reason: canaryKinds[k].reason, Error: fmt.Sprintf(canaryKinds[k].err, i),
			Payload: fmt.Appendf(nil, "%d:%s", k, id), ID: id}))
	}
	closeOK(t, o)
	return filepath.Join(dir, "svc")
}

// canaryConsumer is the consumer a replay feeds: a real HTTP server that
// takes each replayed message, fails on those of the kinds fails says,
// and dead-letters those through a real Orchestrator into dir/svc, with
// the request's headers copied into the entry (dlq.replay_of among them),
// as the adapters do. It counts each message by the id it replays.
type canaryConsumer struct {
	mu    sync.Mutex
	got   map[string]int // replay_of → times received
	dead  atomic.Int64   // messages dead-lettered again
	url   string
	o     *Orchestrator
	fails func(kind int) bool
}

func newCanaryConsumer(t *testing.T, dir string, fails func(kind int) bool) *canaryConsumer {
	t.Helper()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}, FlushIntervalMS: 5})
	require.NoError(t, err)
	c := &canaryConsumer{got: map[string]int{}, o: o, fails: fails}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.got[r.Header.Get(HeaderReplayOf)]++
		c.mu.Unlock()
		var kind int
		_, _ = fmt.Sscanf(string(body), "%d:", &kind)
		if !c.fails(kind) {
			return
		}
		var headers []Header
		for k, vs := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "dlq.") {
				for _, v := range vs {
					headers = append(headers, Header{Key: k, Value: []byte(v)})
				}
			}
		}
		if err := c.o.Send(Entry{Reason: canaryKinds[kind].reason + "_again", Error: "still failing: " + canaryKinds[kind].err,
			Payload: body, Headers: headers}); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		c.dead.Add(1)
	}))
	t.Cleanup(func() {
		srv.Close()
		closeOK(t, o)
	})
	c.url = srv.URL + "/consume"
	return c
}

// received returns how many times the consumer got each replayed id.
func (c *canaryConsumer) received() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.got))
	for id, n := range c.got {
		out[id] = n
	}
	return out
}

// canaryCtx is the deadline of a canary test: generous, for a shared
// machine under -race; the run ends long before unless it hangs.
func canaryCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

const canaryTotal = 10_000

// The consumer still fails on everything: the canary's 200 go, come back,
// and the replay stops there.
func TestReplayCanaryStillFailing(t *testing.T) {
	dir := t.TempDir()
	src := writeCanaryFixture(t, dir, canaryTotal)
	c := newCanaryConsumer(t, dir, func(int) bool { return true })
	audit := filepath.Join(dir, "redrive.audit")
	res, err := Replay(canaryCtx(t), src, c.url, ReplayOptions{Canary: 200, AbortAbove: 0.05, Audit: audit})
	require.ErrorIs(t, err, ErrReplayAborted)
	var abort *ReplayAbortError
	require.ErrorAs(t, err, &abort)
	var stopped *ReplayError
	require.ErrorAs(t, err, &stopped, "the counts come with the abort")
	t.Logf("sent %d, came back %d, stopped at window %d (%d of %d back): %v", res.Sent, res.CameBack, abort.Window, abort.Back, abort.Size, err)

	// The canary stops it as soon as more than 5% of its 200 came back,
	// which may be before all 200 went out (a fast consumer on a slow
	// machine): never more than the canary, the first entries in order.
	assert.LessOrEqual(t, res.Sent, uint64(200), "the canary, and nothing after it")
	assert.GreaterOrEqual(t, res.Sent, uint64(abort.Back), "only what was sent came back")
	assert.Equal(t, 0, abort.Window, "the canary stopped it")
	assert.Equal(t, 200, abort.Size)
	assert.Greater(t, abort.Back, 10, "more than 5%% of 200 came back")
	assert.GreaterOrEqual(t, res.CameBack, uint64(abort.Back), "more may come back between the abort and the result")
	got := c.received()
	assert.Len(t, got, int(res.Sent), "at most the canary plus one window went back: what was sent of the canary")
	for _, id := range numbers(0, int(res.Sent)) {
		assert.Equal(t, 1, got[id], "entry %s", id)
	}
	require.NotEmpty(t, abort.Reasons)
	assert.Equal(t, "parse_error_again", abort.Reasons[0].Value, "the reason the consumer gave")
	assert.Equal(t, Fingerprint("still failing: unexpected token at offset %d"), abort.Fingerprints[0].Value)
	assert.Contains(t, err.Error(), `"parse_error_again"`)

	// The audit record says the canary stopped it, with what came back.
	data, err := os.ReadFile(audit)
	require.NoError(t, err)
	var rec struct {
		Outcome string
		Options struct {
			Canary     int
			CanaryWait string  `json:"canary_wait"`
			AbortAbove float64 `json:"abort_above"`
		}
		Counts struct {
			Sent     uint64
			CameBack uint64 `json:"came_back"`
		}
	}
	require.NoError(t, json.Unmarshal(data, &rec), "one record: %s", data)
	assert.Equal(t, "aborted: came back", rec.Outcome)
	assert.Equal(t, 200, rec.Options.Canary)
	assert.Equal(t, "30s", rec.Options.CanaryWait, "the wait in force, the default")
	assert.Equal(t, 0.05, rec.Options.AbortAbove)
	assert.Equal(t, res.Sent, rec.Counts.Sent)
	assert.Equal(t, res.CameBack, rec.Counts.CameBack)
}

// The consumer is fixed: all 10,000 go, none comes back, none is lost or
// sent twice.
func TestReplayCanaryFixed(t *testing.T) {
	dir := t.TempDir()
	src := writeCanaryFixture(t, dir, canaryTotal)
	c := newCanaryConsumer(t, dir, func(int) bool { return false })
	before := goleak.IgnoreCurrent()
	res, err := Replay(canaryCtx(t), src, c.url, ReplayOptions{Canary: 200, CanaryWait: 300 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, goleak.Find(before), "the watcher ended with Replay, while its source is still there")
	t.Logf("sent %d, came back %d", res.Sent, res.CameBack)
	assert.Equal(t, uint64(canaryTotal), res.Sent)
	assert.Zero(t, res.CameBack)
	assert.Zero(t, c.dead.Load())
	got := c.received()
	assert.Len(t, got, canaryTotal, "none lost")
	for id, n := range got {
		if n != 1 {
			t.Errorf("entry %s received %d times", id, n)
		}
	}
}

// The fix works on two fingerprints of three: the canary (of the first)
// passes, and the replay stops during the third third, before its end.
func TestReplayCanaryHalfFixed(t *testing.T) {
	dir := t.TempDir()
	src := writeCanaryFixture(t, dir, canaryTotal)
	c := newCanaryConsumer(t, dir, func(kind int) bool { return kind == 2 })
	// The rate makes the last third last 1.7 s; a window of it is judged
	// from its first came-back entries, within tens of milliseconds.
	res, err := Replay(canaryCtx(t), src, c.url, ReplayOptions{Canary: 200, CanaryWait: 300 * time.Millisecond, Rate: 2000})
	require.ErrorIs(t, err, ErrReplayAborted)
	var abort *ReplayAbortError
	require.ErrorAs(t, err, &abort)
	t.Logf("sent %d, came back %d, stopped at window %d (%d of %d back)", res.Sent, res.CameBack, abort.Window, abort.Back, abort.Size)

	firstBad := uint64(canaryTotal * 2 / 3)
	assert.Greater(t, res.Sent, firstBad, "the canary and the fixed kinds went through")
	assert.Less(t, res.Sent, uint64(canaryTotal), "stopped during the main run, not after it")
	assert.False(t, abort.Ended)
	assert.Positive(t, abort.Window)
	assert.GreaterOrEqual(t, uint64(abort.Window*200+200), firstBad, "the window judged is one of the failing kind")
	assert.Equal(t, []CameBackCount{{Value: "declined_again", Count: int(abort.CameBack)}}, abort.Reasons, "only the third kind came back")
	assert.Equal(t, Fingerprint("still failing: charge ch_%dxQ declined by issuer"), abort.Fingerprints[0].Value)
	got := c.received()
	assert.Len(t, got, int(res.Sent))
}

// The last window is waited for: a consumer failing on the last entries
// only stops the replay once everything was sent, with an error all the
// same. (The canary passes after its 2 s wait; the end's wait returns as
// soon as more than half of the last 50 came back, well within its 2 s.)
func TestReplayCanaryLastWindow(t *testing.T) {
	dir := t.TempDir()
	const n = 450 // canary 200, a window of 200, a last window of 50
	src := writeCanaryFixture(t, dir, n)
	c := newCanaryConsumer(t, dir, func(kind int) bool { return kind == 2 })
	res, err := Replay(canaryCtx(t), src, c.url, ReplayOptions{Canary: 200, CanaryWait: 2 * time.Second, AbortAbove: 0.5})
	var abort *ReplayAbortError
	require.ErrorAs(t, err, &abort)
	assert.Equal(t, uint64(n), res.Sent)
	assert.True(t, abort.Ended, "%v", err)
	assert.Equal(t, 2, abort.Window)
	assert.Equal(t, 50, abort.Size, "the last window judged by its own size")
	assert.Contains(t, err.Error(), "after every entry was sent")
}

func TestReplayCanaryOptionsRefused(t *testing.T) {
	for _, opts := range []ReplayOptions{{Canary: -1}, {Canary: 5, CanaryWait: -time.Second}, {Canary: 5, AbortAbove: 1.5}, {Canary: 5, AbortAbove: -0.1}} {
		_, err := Replay(t.Context(), t.TempDir(), "http://127.0.0.1:1/x", opts)
		require.Error(t, err, "%+v", opts)
		assert.False(t, errors.Is(err, ErrReplayAborted))
	}
}

// A canary that is not a multiple of the batch of 100 is sent exactly: the
// batch that completes it goes short.
func TestReplayCanaryCutsTheBatch(t *testing.T) {
	dir := t.TempDir()
	src := writeCanaryFixture(t, dir, 1000)
	c := newCanaryConsumer(t, dir, func(int) bool { return true })
	res, err := Replay(canaryCtx(t), src, c.url, ReplayOptions{Canary: 150})
	require.ErrorIs(t, err, ErrReplayAborted)
	assert.Equal(t, uint64(150), res.Sent)
	assert.Len(t, c.received(), 150)
}
