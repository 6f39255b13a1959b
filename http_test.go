//go:build dlq_http || dlq_all

package dlq

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	}{
		{"400", func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
			http.Error(w, "bad", http.StatusBadRequest)
			return true
		}, "400 Bad Request"},
		{"500 after retries", func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
			http.Error(w, "boom", http.StatusInternalServerError)
			return true
		}, "500 Internal Server Error"},
		{"Retry-After past the timeout", func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}, "past the"},
		{"302 is not followed", func(_ int64, w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return true
		}, "302 Found"},
		{"hangs past the timeout", func(_ int64, w http.ResponseWriter, r *http.Request) bool {
			_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return true
		}, "deadline exceeded"},
		{"closes the connection", func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return true
		}, "EOF"},
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
