//go:build dlq_http || dlq_all

package dlq

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// receiver is a real net/http server that records what it is sent.
type receiver struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte         // decoded bodies of the 2xx answers
	entries  map[string]Entry // by payload, from the 2xx answers
	calls    atomic.Int64
	respond  func(call int64, w http.ResponseWriter, r *http.Request) bool // true: answered, do not record
	srv      *httptest.Server
}

func newReceiver(t *testing.T, tlsServer bool, respond func(call int64, w http.ResponseWriter, r *http.Request) bool) *receiver {
	rc := &receiver{entries: map[string]Entry{}, respond: respond}
	handler := http.HandlerFunc(rc.serve)
	if tlsServer {
		rc.srv = httptest.NewTLSServer(handler)
	} else {
		rc.srv = httptest.NewServer(handler)
	}
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	call := rc.calls.Add(1)
	if rc.respond != nil && rc.respond(call, w, r) {
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests = append(rc.requests, r)
	rc.bodies = append(rc.bodies, data)
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(nil, 16<<20)
	for scanner.Scan() {
		e, err := ParseEnvelope(scanner.Bytes())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.entries[string(e.Payload)] = e
	}
	w.WriteHeader(http.StatusAccepted)
}

func (rc *receiver) got() (map[string]Entry, []*http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.entries, rc.requests
}

func httpConfig(t *testing.T, url string, dir string) Config {
	return Config{Service: "svc", Order: []Kind{KindHTTP, KindFile}, File: FileConfig{Dir: dir},
		HTTP: HTTPConfig{URL: url, Headers: map[string]string{"Authorization": "Bearer top-secret-token"},
			TimeoutMS: 2000, MaxRetries: 3}}
}

func TestHTTPPostsNDJSONWithHeaders(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "gzip"}[gz], func(t *testing.T) {
			rc := newReceiver(t, false, nil)
			dir := t.TempDir()
			cfg := httpConfig(t, rc.srv.URL+"/ingest", dir)
			cfg.HTTP.Gzip = gz
			o, err := New(cfg)
			require.NoError(t, err)
			want := Entry{Timestamp: time.UnixMilli(1764200000000), Reason: "parse_error", Error: "e", Payload: []byte{0, 0xff},
				Destination: "acme.auth", Source: KafkaSource("events", 0, 7), Metadata: map[string]string{"k": "v"}}
			require.NoError(t, o.Send(want))
			sendAll(t, o, payloads(500, "h"))
			flushOK(t, o)
			closeOK(t, o)

			entries, requests := rc.got()
			require.Len(t, entries, 501)
			requireHolds(t, entries, payloads(500, "h"))
			got := entries[string(want.Payload)]
			want.Service, want.ID = "svc", got.ID
			assertSameEntry(t, want, got)
			for _, r := range requests {
				assert.Equal(t, http.MethodPost, r.Method)
				assert.Equal(t, "/ingest", r.URL.Path)
				assert.Equal(t, "application/x-ndjson", r.Header.Get("Content-Type"))
				assert.Equal(t, "Bearer top-secret-token", r.Header.Get("Authorization"))
				assert.Len(t, r.Header.Get("Idempotency-Key"), 32)
				if gz {
					assert.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
				}
			}
			assert.Empty(t, readDir(t, filepath.Join(dir, "svc")))
			assert.Equal(t, uint64(501), o.Stats().Backends[0].Entries)
		})
	}
}

func TestHTTPRetriesServiceUnavailableHonouringRetryAfter(t *testing.T) {
	var keys []string
	var mu sync.Mutex
	rc := newReceiver(t, false, func(call int64, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		if call <= 2 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	dir := t.TempDir()
	o, err := New(httpConfig(t, rc.srv.URL, dir))
	require.NoError(t, err)
	start := time.Now()
	sendAll(t, o, payloads(10, "ra"))
	flushOK(t, o)
	elapsed := time.Since(start)
	closeOK(t, o)
	entries, requests := rc.got()
	assert.Len(t, entries, 10)
	assert.Len(t, requests, 1, "the batch arrived once")
	assert.Equal(t, int64(3), rc.calls.Load())
	require.Len(t, keys, 3)
	assert.Equal(t, keys[0], keys[1], "the same idempotency key on every retry")
	assert.Equal(t, keys[0], keys[2])
	assert.GreaterOrEqual(t, elapsed, 2*time.Second, "Retry-After: 1 was honoured twice")
	assert.Empty(t, readDir(t, filepath.Join(dir, "svc")))
}

func TestHTTPFailuresFallThroughToFile(t *testing.T) {
	for _, test := range []struct {
		name    string
		respond func(call int64, w http.ResponseWriter, r *http.Request) bool
		errText string
		calls   int64 // requests for the one body, when known: a 4xx is not asked again
	}{
		{"400", func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
			http.Error(w, "bad", http.StatusBadRequest)
			return true
		}, "400 Bad Request", 1},
		{"422", func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
			http.Error(w, "unprocessable", http.StatusUnprocessableEntity)
			return true
		}, "422 Unprocessable Entity", 1},
		{"500 after retries", func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
			http.Error(w, "boom", http.StatusInternalServerError)
			return true
		}, "500 Internal Server Error", 2},
		{"Retry-After past the timeout", func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}, "past the", 1},
		{"302 is not followed", func(_ int64, w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return true
		}, "302 Found", 1},
		{"hangs past the timeout", func(_ int64, w http.ResponseWriter, r *http.Request) bool {
			_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return true
		}, "deadline exceeded", 0},
		{"closes the connection", func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return true
		}, "EOF", 0},
	} {
		t.Run(test.name, func(t *testing.T) {
			rc := newReceiver(t, false, test.respond)
			dir := t.TempDir()
			cfg := httpConfig(t, rc.srv.URL, dir)
			cfg.HTTP.TimeoutMS, cfg.HTTP.MaxRetries = 300, 1
			o, err := New(cfg)
			require.NoError(t, err)
			sendAll(t, o, payloads(20, "ft"))
			flushOK(t, o)
			closeOK(t, o)
			requireHolds(t, byPayload(readDir(t, filepath.Join(dir, "svc"))), payloads(20, "ft"))
			s := o.Stats()
			assert.Zero(t, s.Backends[0].Entries)
			assert.Contains(t, s.Backends[0].LastError, test.errText)
			assert.NotContains(t, s.Backends[0].LastError, "top-secret-token", "header values never in errors")
			assert.Equal(t, uint64(20), s.Written)
			if test.calls > 0 {
				assert.Equal(t, test.calls, rc.calls.Load(), "requests for the one body")
			}
		})
	}
}

func TestHTTPSplitsBodiesAtTheByteLimit(t *testing.T) {
	rc := newReceiver(t, false, nil)
	dir := t.TempDir()
	cfg := httpConfig(t, rc.srv.URL, dir)
	cfg.HTTP.MaxBodyBytes = 4096
	o, err := New(cfg)
	require.NoError(t, err)
	ps := payloads(200, "split")
	sendAll(t, o, ps)
	require.NoError(t, o.Send(Entry{Reason: "r", Payload: bytes.Repeat([]byte("x"), 8192)}))
	flushOK(t, o)
	closeOK(t, o)
	entries, requests := rc.got()
	requireHolds(t, entries, ps)
	assert.Len(t, entries, 200, "the oversize entry did not go by HTTP")
	assert.Greater(t, len(requests), 5)
	rc.mu.Lock()
	for _, b := range rc.bodies {
		assert.LessOrEqual(t, len(b), 4096)
	}
	rc.mu.Unlock()
	inFile := readDir(t, filepath.Join(dir, "svc"))
	assert.Len(t, inFile, 1, "the entry too large for a body failed alone and fell to the file")
}

func TestHTTPTLSWithCAFile(t *testing.T) {
	rc := newReceiver(t, true, nil)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.srv.Certificate().Raw}), 0o600))

	t.Run("refused without ca_file", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(httpConfig(t, rc.srv.URL, dir))
		require.NoError(t, err)
		sendAll(t, o, payloads(3, "tls"))
		closeOK(t, o)
		assert.Contains(t, o.Stats().Backends[0].LastError, "certificate")
		assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 3)
	})
	t.Run("accepted with ca_file", func(t *testing.T) {
		cfg := httpConfig(t, rc.srv.URL, t.TempDir())
		cfg.HTTP.TLS.CAFile = caFile
		o, err := New(cfg)
		require.NoError(t, err)
		sendAll(t, o, payloads(3, "tls"))
		closeOK(t, o)
		assert.Equal(t, uint64(3), o.Stats().Backends[0].Entries)
	})
	t.Run("insecure_skip_verify when asked", func(t *testing.T) {
		cfg := httpConfig(t, rc.srv.URL, t.TempDir())
		cfg.HTTP.TLS.InsecureSkipVerify = true
		o, err := New(cfg)
		require.NoError(t, err)
		sendAll(t, o, payloads(3, "tls"))
		closeOK(t, o)
		assert.Equal(t, uint64(3), o.Stats().Backends[0].Entries)
	})
}

func TestHTTPURLPasswordNeverShown(t *testing.T) {
	rc := newReceiver(t, false, func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusForbidden)
		return true
	})
	u := "http://user:url-pa55word@" + rc.srv.Listener.Addr().String()
	dir := t.TempDir()
	o, err := New(httpConfig(t, u, dir))
	require.NoError(t, err)
	sendAll(t, o, payloads(1, "pw"))
	closeOK(t, o)
	last := o.Stats().Backends[0].LastError
	assert.Contains(t, last, "403")
	assert.NotContains(t, last, "url-pa55word")
}

func TestRetryAfterParses(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, test := range []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"Thu, 26 Nov 2026 12:00:30 GMT", 30 * time.Second},
		{"Thu, 26 Nov 2026 11:00:00 GMT", 0},
		{"soon", 0},
		{"-3", 0},
	} {
		assert.Equal(t, test.want, retryAfter(test.value, now), test.value)
	}
}

func TestHTTPDownIsPassedOverNotWaitedOnForEveryBatch(t *testing.T) {
	var calls atomic.Int64
	rc := newReceiver(t, false, func(_ int64, w http.ResponseWriter, r *http.Request) bool {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
		select {                           // hangs until the client gives up
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return true
	})
	dir := t.TempDir()
	cfg := httpConfig(t, rc.srv.URL, dir)
	cfg.HTTP.TimeoutMS, cfg.HTTP.MaxRetries = 200, 0
	cfg.BatchSize, cfg.FlushIntervalMS = 1, 1
	o, err := New(cfg)
	require.NoError(t, err)
	ps := payloads(200, "down")
	sendAll(t, o, ps)
	require.Eventually(t, func() bool { return o.Stats().Written == 200 }, 30*time.Second, time.Millisecond)
	closeOK(t, o)
	requireHolds(t, byPayload(readDir(t, filepath.Join(dir, "svc"))), ps)
	// 200 batches of one: waiting 200 ms on each would take 40 s. The
	// hanging server is tried again only as its cool-down runs out.
	assert.Less(t, calls.Load(), int64(20), "a backend that failed is passed over, not waited on per batch")
	t.Logf("%d requests to the hanging server for 200 batches", calls.Load())
}

// limitedReceiver is a receiver that refuses with 413 every body over
// limit bytes, as nginx does past client_max_body_size. It records every
// request's Idempotency-Key with the payloads it carried, refused or not.
type limitedReceiver struct {
	mu      sync.Mutex
	limit   int
	stored  map[string]int      // payload to the times it was stored
	keys    map[string][]string // Idempotency-Key to the payloads of its body
	reused  []string            // keys seen again with other payloads
	bodies  []int               // the size of each stored body
	refused int                 // bodies answered 413
	srv     *httptest.Server
	// entered is closed when the first request arrives, which then waits
	// for hold to be closed, when hold is not nil.
	entered, hold chan struct{}
	first         atomic.Bool
}

func newLimitedReceiver(t *testing.T, limit int) *limitedReceiver {
	lr := &limitedReceiver{limit: limit, stored: map[string]int{}, keys: map[string][]string{}}
	lr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		text := data // the limit is on the body as sent, gzipped or not
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err == nil {
				text, err = io.ReadAll(zr)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		var ps []string
		scanner := bufio.NewScanner(bytes.NewReader(text))
		scanner.Buffer(nil, 16<<20)
		for scanner.Scan() {
			e, err := ParseEnvelope(scanner.Bytes())
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			ps = append(ps, string(e.Payload))
		}
		if lr.hold != nil && lr.first.CompareAndSwap(false, true) {
			close(lr.entered)
			<-lr.hold
		}
		lr.mu.Lock()
		defer lr.mu.Unlock()
		key := r.Header.Get("Idempotency-Key")
		if prev, ok := lr.keys[key]; ok && !slices.Equal(prev, ps) {
			lr.reused = append(lr.reused, fmt.Sprintf("%s: %v then %v", key, prev, ps))
		}
		lr.keys[key] = ps
		if len(data) > lr.limit {
			lr.refused++
			http.Error(w, "413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		for _, p := range ps {
			lr.stored[p]++
		}
		lr.bodies = append(lr.bodies, len(data))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(lr.srv.Close)
	return lr
}

// TestHTTPSplitsABodyRefusedAsTooLarge: a receiver whose limit is below
// max_body_bytes (nginx's default is 1 MiB, ours 4 MiB) answers a body of
// many entries with 413. The body is split in half, and so on, down to
// single entries: every entry that fits alone is delivered, each once, and
// each half is a new body under its own Idempotency-Key. An entry refused
// alone is oversize: it falls through to the next backend, or is lost as
// oversize when there is none.
func TestHTTPSplitsABodyRefusedAsTooLarge(t *testing.T) {
	const limit = 2000
	for _, gz := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "gzip"}[gz]+": every entry delivered", func(t *testing.T) {
			lr := newLimitedReceiver(t, limit)
			dir := t.TempDir()
			cfg := httpConfig(t, lr.srv.URL, dir)
			cfg.HTTP.Gzip = gz
			o, err := New(cfg)
			require.NoError(t, err)
			ps := make([]string, 50)
			for i := range ps {
				// Random-looking payloads, so that gzip cannot fit them all in one body.
				ps[i] = fmt.Sprintf("big-%02d-%x", i, sha256.Sum256(fmt.Appendf(nil, "%d", i)))
			}
			sendAll(t, o, ps)
			flushOK(t, o)
			closeOK(t, o)
			lr.mu.Lock()
			defer lr.mu.Unlock()
			var missing, twice int
			for _, p := range ps {
				switch lr.stored[p] {
				case 0:
					missing++
				case 1:
				default:
					twice++
				}
			}
			assert.Zero(t, missing, "entries of %d never stored", len(ps))
			assert.Zero(t, twice, "entries stored twice")
			assert.Len(t, lr.stored, len(ps))
			assert.Empty(t, lr.reused, "one Idempotency-Key, one set of entries")
			assert.Greater(t, len(lr.bodies), 1)
			for _, n := range lr.bodies {
				assert.LessOrEqual(t, n, limit)
			}
			assert.Zero(t, len(readDir(t, filepath.Join(dir, "svc"))), "nothing fell through")
			s := o.Stats()
			assert.Zero(t, s.Lost)
			assert.Equal(t, uint64(len(ps)), s.Backends[0].Entries)
		})
	}
	t.Run("bodies built ahead", func(t *testing.T) {
		const batch, batches = 10, 5
		lr := newLimitedReceiver(t, limit)
		lr.entered, lr.hold = make(chan struct{}), make(chan struct{})
		cfg := httpConfig(t, lr.srv.URL, t.TempDir())
		cfg.Order, cfg.File.Disabled = []Kind{KindHTTP}, true
		cfg.BatchSize, cfg.FlushIntervalMS = batch, 3_600_000
		cfg.Retry = RetryConfig{MaxAttempts: 2, InitialBackoffMS: 1, MaxBackoffMS: 1}
		o, err := New(cfg)
		require.NoError(t, err)
		ps := make([]string, batch*batches)
		for i := range ps {
			ps[i] = fmt.Sprintf("ahead-%02d-%s", i, strings.Repeat("x", 200)) // a batch is a body over the limit
		}
		sendAll(t, o, ps[:batch])
		<-lr.entered
		sendAll(t, o, ps[batch:]) // full batches wait, each built ahead in turn
		close(lr.hold)
		// No Flush before the batches went by themselves: a Flush writes
		// what it finds as it is, without working ahead.
		require.Eventually(t, func() bool { s := o.Stats(); return s.Written+s.Lost == uint64(len(ps)) }, time.Minute, time.Millisecond,
			"the batches taken ahead were not written") // a guard against hanging, not a timing
		flushOK(t, o)
		aheadPosts := o.backends[0].http.aheadPosts // the drain is idle after Flush
		closeOK(t, o)
		lr.mu.Lock()
		defer lr.mu.Unlock()
		requireHolds(t, lr.stored, ps)
		assert.Len(t, lr.stored, len(ps))
		for p, n := range lr.stored {
			assert.Equal(t, 1, n, "entry %s stored once", p)
		}
		assert.Empty(t, lr.reused, "one Idempotency-Key, one set of entries")
		assert.Positive(t, aheadPosts, "some bodies refused by 413 were built ahead")
		assert.GreaterOrEqual(t, lr.refused, batches, "every batch's body refused at first")
		assert.Zero(t, o.Stats().Lost)
	})
	big := strings.Repeat("x", limit)
	t.Run("an entry refused alone falls through to the file", func(t *testing.T) {
		lr := newLimitedReceiver(t, limit)
		dir := t.TempDir()
		o, err := New(httpConfig(t, lr.srv.URL, dir))
		require.NoError(t, err)
		ps := payloads(30, "fits")
		sendAll(t, o, ps[:15])
		require.NoError(t, o.Send(Entry{Reason: "r", Payload: []byte(big)}))
		sendAll(t, o, ps[15:])
		flushOK(t, o)
		closeOK(t, o)
		lr.mu.Lock()
		defer lr.mu.Unlock()
		requireHolds(t, lr.stored, ps)
		assert.Len(t, lr.stored, len(ps))
		assert.Empty(t, lr.reused)
		inFile := byPayload(readDir(t, filepath.Join(dir, "svc")))
		require.Len(t, inFile, 1)
		requireHolds(t, inFile, []string{big})
		s := o.Stats()
		assert.Zero(t, s.Lost)
		assert.Contains(t, s.Backends[0].LastError, "413")
	})
	t.Run("an entry refused alone is lost as oversize without a next backend", func(t *testing.T) {
		lr := newLimitedReceiver(t, limit)
		cfg := httpConfig(t, lr.srv.URL, t.TempDir())
		cfg.Order, cfg.File.Disabled = []Kind{KindHTTP}, true
		cfg.Retry = RetryConfig{MaxAttempts: 2, InitialBackoffMS: 1, MaxBackoffMS: 1}
		o, err := New(cfg)
		require.NoError(t, err)
		ps := payloads(30, "fits")
		sendAll(t, o, ps)
		require.NoError(t, o.Send(Entry{Reason: "r", Payload: []byte(big)}))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = o.Flush(ctx)
		require.ErrorIs(t, err, ErrLost)
		closeOK(t, o)
		s := o.Stats()
		assert.Equal(t, map[LossReason]uint64{ReasonOversize: 1}, nonZero(s.LostBy), "lost as oversize, not retried as all_failed")
		assert.Equal(t, uint64(1), s.Lost)
		lr.mu.Lock()
		defer lr.mu.Unlock()
		requireHolds(t, lr.stored, ps)
		assert.Len(t, lr.stored, len(ps))
	})
}

// nonZero returns the counts of m that are not zero.
func nonZero[K comparable](m map[K]uint64) map[K]uint64 {
	out := map[K]uint64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func TestHTTPHangingServerDeadlinesHold(t *testing.T) {
	hanging := startHanging(t)
	requireDeadlinesHold(t, Config{Service: "svc", File: FileConfig{Disabled: true},
		HTTP: HTTPConfig{URL: "http://" + hanging.addr(), TimeoutMS: 60_000}}, hanging)
}
