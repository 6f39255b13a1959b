//go:build dlq_http || dlq_all

package dlq

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyedReceiver records, for every entry id, the Idempotency-Keys of the
// requests that carried it, and answers what answer says for each.
type keyedReceiver struct {
	mu     sync.Mutex
	keys   map[string]map[string]bool // id -> keys seen
	calls  int
	perKey map[string]int // key -> requests seen under it
	ok     map[string]bool
	answer func(call, keyCalls int) int // status for this request
	srv    *httptest.Server
}

func newKeyedReceiver(t *testing.T, answer func(call, keyCalls int) int) *keyedReceiver {
	rc := &keyedReceiver{keys: map[string]map[string]bool{}, perKey: map[string]int{}, ok: map[string]bool{}, answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		key := r.Header.Get("Idempotency-Key")
		rc.mu.Lock()
		rc.calls++
		rc.perKey[key]++
		status := rc.answer(rc.calls, rc.perKey[key])
		var ids []string
		scanner := bufio.NewScanner(bytes.NewReader(data))
		for scanner.Scan() {
			e, err := ParseEnvelope(scanner.Bytes())
			require.NoError(t, err)
			ids = append(ids, e.ID)
			if rc.keys[e.ID] == nil {
				rc.keys[e.ID] = map[string]bool{}
			}
			rc.keys[e.ID][key] = true
			if status < 300 {
				rc.ok[e.ID] = true
			}
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// TestHTTPResendsCarryTheSameIdempotencyKey: bodies the receiver saw and
// failed (it may have applied them) are sent again by the drain's retry
// rounds, which also carry entries never sent yet. Every entry that
// reaches the receiver more than once carries the same key every time.
func TestHTTPResendsCarryTheSameIdempotencyKey(t *testing.T) {
	// Each body fails its first five requests: one drain attempt (a
	// request and three retries of the backend's own) and the first
	// request of the next.
	rc := newKeyedReceiver(t, func(_, keyCalls int) int {
		if keyCalls <= 5 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	o, err := New(Config{Service: "svc", File: FileConfig{Disabled: true}, BatchSize: 10, QueueCapacity: 1000,
		HTTP:   HTTPConfig{URL: rc.srv.URL, MaxRetries: 3},
		Retry:  RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 5},
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	for i := range 100 {
		require.NoError(t, o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "%d", i)}))
	}
	flushOK(t, o)
	closeOK(t, o)

	rc.mu.Lock()
	defer rc.mu.Unlock()
	require.Equal(t, 100, len(rc.ok), "every entry answered 2xx once")
	seen := 0
	for id, keys := range rc.keys {
		assert.Len(t, keys, 1, "entry %s reached the receiver under several keys", id)
		seen++
	}
	assert.Equal(t, 100, seen)
}

// TestHTTPRetryAfterHugeDoesNotOverflow: a Retry-After too large for a
// time.Duration is past the timeout, not an immediate retry.
func TestHTTPRetryAfterHugeDoesNotOverflow(t *testing.T) {
	assert.GreaterOrEqual(t, retryAfter("9300000000", time.Now()), 24*time.Hour)
	assert.GreaterOrEqual(t, retryAfter("9223372036854775807", time.Now()), 24*time.Hour)

	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Header().Set("Retry-After", "9300000000")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", Order: []Kind{KindHTTP, KindFile}, File: FileConfig{Dir: dir},
		HTTP: HTTPConfig{URL: srv.URL, MaxRetries: 3}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, o.Send(Entry{Reason: "r"}))
	flushOK(t, o)
	closeOK(t, o)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, calls, "no immediate retries")
	assert.Contains(t, o.Stats().Backends[0].LastError, "past the")
}

// TestFanOutMirrorBackWithinAttemptsCatchesUp: a mirror that fails once
// and is then back is passed over during its cool-down without spending
// attempts, and catches up on every entry.
func TestFanOutMirrorBackWithinAttemptsCatchesUp(t *testing.T) {
	// The mirror fails the first drain attempt it sees (a request and its
	// three retries), then takes everything.
	rc := newKeyedReceiver(t, func(call, _ int) int {
		if call <= 4 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	primary := t.TempDir()
	o, err := New(Config{Service: "svc", Mode: ModeFanOut, Order: []Kind{KindFile, KindHTTP},
		File: FileConfig{Dir: primary}, BatchSize: 50,
		HTTP:   HTTPConfig{URL: rc.srv.URL, MaxRetries: 3},
		Retry:  RetryConfig{MaxAttempts: 2, InitialBackoffMS: 20, MaxBackoffMS: 100},
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	for i := range 1000 {
		require.NoError(t, o.SendContext(context.Background(), Entry{Reason: "r", Payload: fmt.Appendf(nil, "%d", i)}))
	}
	flushOK(t, o)
	require.Eventually(t, func() bool {
		s := o.Stats()
		return s.Backends[1].Entries+s.Backends[1].Missed >= 1000
	}, 20*time.Second, time.Millisecond)
	closeOK(t, o)
	s := o.Stats()
	assert.Zero(t, s.Backends[1].Missed, "the mirror was back within its attempts")
	assert.Equal(t, uint64(1000), s.Backends[1].Entries)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	assert.Equal(t, 1000, len(rc.ok), "the receiver answered 2xx for every entry")
}
