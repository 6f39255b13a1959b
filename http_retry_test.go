//go:build dlq_http || dlq_all

package dlq

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
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

func TestHTTPFollowsRedirectsThatKeepTheBody(t *testing.T) {
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			rc := newReceiver(t, false, func(_ int64, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/old" {
					http.Redirect(w, r, "/new", code)
					return true
				}
				return false
			})
			dir := t.TempDir()
			o, err := New(httpConfig(t, rc.srv.URL+"/old", dir))
			require.NoError(t, err)
			sendAll(t, o, payloads(5, "r"))
			flushOK(t, o)
			closeOK(t, o)
			entries, requests := rc.got()
			assert.Len(t, entries, 5)
			require.Len(t, requests, 1)
			assert.Equal(t, "/new", requests[0].URL.Path)
			assert.Equal(t, http.MethodPost, requests[0].Method)
			assert.Empty(t, readDir(t, filepath.Join(dir, "svc")))
		})
	}
	t.Run("an absolute Location on the same origin", func(t *testing.T) {
		rc := newReceiver(t, false, func(_ int64, w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/old" {
				w.Header().Set("Location", "http://"+r.Host+"/new")
				w.WriteHeader(http.StatusPermanentRedirect)
				return true
			}
			return false
		})
		dir := t.TempDir()
		cfg := httpConfig(t, rc.srv.URL+"/old", dir)
		cfg.HTTP.Headers["X-Api-Key"] = "api-key-secret"
		o, err := New(cfg)
		require.NoError(t, err)
		sendAll(t, o, payloads(5, "abs"))
		flushOK(t, o)
		closeOK(t, o)
		entries, requests := rc.got()
		requireHolds(t, entries, payloads(5, "abs"))
		require.Len(t, requests, 1)
		assert.Equal(t, "/new", requests[0].URL.Path)
		assert.Equal(t, "api-key-secret", requests[0].Header.Get("X-Api-Key"), "the same origin gets every header")
		assert.Empty(t, readDir(t, filepath.Join(dir, "svc")))
	})
	t.Run("a 302 would turn the POST into a GET: a failure", func(t *testing.T) {
		rc := newReceiver(t, false, func(_ int64, w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/old" {
				http.Redirect(w, r, "/new", http.StatusFound)
				return true
			}
			return false
		})
		dir := t.TempDir()
		o, err := New(httpConfig(t, rc.srv.URL+"/old", dir))
		require.NoError(t, err)
		sendAll(t, o, payloads(5, "r"))
		flushOK(t, o)
		closeOK(t, o)
		entries, _ := rc.got()
		assert.Empty(t, entries)
		assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 5, "the entries fell through to the file")
	})
}

// foreignServer is a server on another origin that must never be reached:
// it counts the connections it accepts and the requests it reads.
type foreignServer struct {
	srv             *httptest.Server
	conns, requests atomic.Int64
}

func newForeignServer(t *testing.T) *foreignServer {
	f := &foreignServer{}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	f.srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// TestHTTPRedirectToAnotherOriginIsRefused: a 307 or 308 is followed only
// to the same scheme, host and port. Go's client strips only
// Authorization, Cookie and WWW-Authenticate on a redirect to another
// domain: the payloads and a header such as X-Api-Key would go to the
// other host, and from https to http in clear text, while the entries
// counted as written. Refused, the body's entries fall through to the
// file, and the error names the Location (without its password).
func TestHTTPRedirectToAnotherOriginIsRefused(t *testing.T) {
	for _, test := range []struct {
		name     string
		tls      bool
		location func(origin, foreign *httptest.Server) string
	}{
		{"another port", false, func(_, f *httptest.Server) string { return f.URL + "/steal" }},
		{"localhost for 127.0.0.1", false, func(o, _ *httptest.Server) string {
			return "http://localhost:" + port(t, o) + "/new"
		}},
		{"https to http", true, func(_, f *httptest.Server) string { return f.URL + "/steal" }},
		{"https to http on the same host and port", true, func(o, _ *httptest.Server) string {
			return "http://" + o.Listener.Addr().String() + "/new"
		}},
		{"a Location with a password", false, func(_, f *httptest.Server) string {
			return "http://user:location-pa55@" + f.Listener.Addr().String() + "/steal"
		}},
		{"the same origin first, then away", false, func(o, f *httptest.Server) string { return "/hop" }},
	} {
		for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			t.Run(fmt.Sprintf("%s %d", test.name, code), func(t *testing.T) {
				foreign := newForeignServer(t)
				var origin *receiver
				origin = newReceiver(t, test.tls, func(_ int64, w http.ResponseWriter, r *http.Request) bool {
					switch r.URL.Path {
					case "/old":
						w.Header().Set("Location", test.location(origin.srv, foreign.srv))
					case "/hop":
						w.Header().Set("Location", foreign.srv.URL+"/steal")
					default:
						return false // followed: recorded as received
					}
					w.WriteHeader(code)
					return true
				})
				dir := t.TempDir()
				cfg := httpConfig(t, origin.srv.URL+"/old", dir)
				cfg.HTTP.Headers["X-Api-Key"] = "api-key-secret"
				cfg.HTTP.TLS.InsecureSkipVerify = test.tls
				o, err := New(cfg)
				require.NoError(t, err)
				ps := payloads(20, "away")
				sendAll(t, o, ps)
				flushOK(t, o)
				closeOK(t, o)

				assert.Zero(t, foreign.conns.Load(), "no connection to the foreign server")
				assert.Zero(t, foreign.requests.Load(), "no request, no header, no payload to the foreign server")
				entries, _ := origin.got()
				assert.Zero(t, len(entries), "nothing followed the redirect")
				inFile := readDir(t, filepath.Join(dir, "svc"))
				requireHolds(t, byPayload(inFile), ps)
				assert.Len(t, inFile, len(ps), "every entry in the file, each once")
				s := o.Stats()
				assert.Equal(t, uint64(len(ps)), s.Written)
				assert.Zero(t, s.Backends[0].Entries, "none counted written by HTTP")
				last := s.Backends[0].LastError
				assert.Contains(t, last, "redirect refused: Location ")
				want := test.location(origin.srv, foreign.srv)
				if test.name == "the same origin first, then away" {
					want = foreign.srv.URL + "/steal"
				}
				u, err := url.Parse(want)
				require.NoError(t, err)
				if u.Host != "" {
					assert.Contains(t, last, u.Redacted(), "the error names the Location")
				}
				assert.NotContains(t, last, "location-pa55")
				assert.NotContains(t, last, "api-key-secret")
			})
		}
	}
}

// port returns the port srv listens on.
func port(t *testing.T, srv *httptest.Server) string {
	_, p, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	return p
}

// TestHTTPTooManyRequestsRetryAfter: a 429 with a Retry-After shorter than
// the timeout is waited out and retried within the backend, with the same
// idempotency key; one longer than the timeout is not waited on: the
// entries fall through at once.
func TestHTTPTooManyRequestsRetryAfter(t *testing.T) {
	t.Run("short: waited and retried", func(t *testing.T) {
		var mu sync.Mutex
		var keys []string
		rc := newReceiver(t, false, func(call int64, w http.ResponseWriter, r *http.Request) bool {
			mu.Lock()
			keys = append(keys, r.Header.Get("Idempotency-Key"))
			mu.Unlock()
			if call == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			return false
		})
		dir := t.TempDir()
		o, err := New(httpConfig(t, rc.srv.URL, dir))
		require.NoError(t, err)
		start := time.Now()
		sendAll(t, o, payloads(10, "s"))
		flushOK(t, o)
		elapsed := time.Since(start)
		closeOK(t, o)
		entries, requests := rc.got()
		assert.Len(t, entries, 10)
		assert.Len(t, requests, 1)
		require.Len(t, keys, 2)
		assert.Equal(t, keys[0], keys[1], "the retry carries the same idempotency key")
		assert.GreaterOrEqual(t, elapsed, time.Second, "Retry-After: 1 was honoured")
		assert.Empty(t, readDir(t, filepath.Join(dir, "svc")))
	})
	t.Run("longer than the timeout: not waited on", func(t *testing.T) {
		rc := newReceiver(t, false, func(call int64, w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		})
		dir := t.TempDir()
		cfg := httpConfig(t, rc.srv.URL, dir)
		o, err := New(cfg)
		require.NoError(t, err)
		sendAll(t, o, payloads(10, "l"))
		flushOK(t, o)
		closeOK(t, o)
		assert.Equal(t, int64(1), rc.calls.Load(), "asked once, not again within the hour")
		assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 10, "the entries fell through to the file")
		assert.Contains(t, o.Stats().Backends[0].LastError, "Retry-After")
	})
}

// TestHTTPBodyNeverSplitAcrossRetryRounds: a fan-out HTTP mirror's catch-up
// list longer than one retry round (16 batches) whose bodies do not line up
// with the round's end. A body that failed (500: the receiver may have
// seen it) is cut in two by the round limit and its two halves are posted
// in two rounds under the same Idempotency-Key. A receiver that
// de-duplicates by key would store the first half and answer the second
// as a duplicate: the second half never stored, yet counted held by the
// mirror (Missed 0). Each body must go again whole (drain.withWholeBodies).
func TestHTTPBodyNeverSplitAcrossRetryRounds(t *testing.T) {
	const batch, n = 3, 90
	var (
		mu      sync.Mutex
		bad     = true
		stored  = map[int]bool{}
		keyIDs  = map[string][]int{}
		stKey   = map[string]bool{}
		keyDiff []string
		// While bad, every batch of three is a body of two (failed) and a
		// body of one (stored), so the mirror never cools down; but the
		// first pair is stored and the single after it failed, so the
		// catch-up list is [single] then pairs, and the pair at 47-48
		// straddles the end of the first retry round (16 batches).
		fail        = map[string]bool{}
		pairStored  bool
		singleFaild bool
	)
	failKey := func(key string, n int) bool {
		if f, ok := fail[key]; ok {
			return f
		}
		f := n == 2
		switch {
		case n == 2 && !pairStored:
			pairStored, f = true, false
		case n == 1 && pairStored && !singleFaild:
			singleFaild, f = true, true
		}
		fail[key] = f
		return f
	}
	entered, hold := make(chan struct{}), make(chan struct{})
	first := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var seqs []int
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			e, err := ParseEnvelope(sc.Bytes())
			require.NoError(t, err)
			var s int
			fmt.Sscanf(string(e.Payload), "p%d-", &s)
			seqs = append(seqs, s)
		}
		mu.Lock()
		if first {
			first = false
			mu.Unlock()
			close(entered)
			<-hold
			mu.Lock()
		}
		defer mu.Unlock()
		key := r.Header.Get("Idempotency-Key")
		if testing.Verbose() {
			t.Logf("POST %s bad=%v %v", key[:8], bad, seqs)
		}
		if prev, ok := keyIDs[key]; ok && !slices.Equal(prev, seqs) {
			keyDiff = append(keyDiff, fmt.Sprintf("%s: %v then %v", key[:8], prev, seqs))
		} else if !ok {
			keyIDs[key] = seqs
		}
		if bad && failKey(key, len(seqs)) {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if !stKey[key] { // a key stored once is a duplicate afterwards
			stKey[key] = true
			for _, s := range seqs {
				stored[s] = true
			}
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	dir := t.TempDir()
	o, err := New(Config{Service: "split", Mode: ModeFanOut, BatchSize: batch, QueueCapacity: 1024,
		FlushIntervalMS: 3_600_000, Retry: RetryConfig{InitialBackoffMS: 12000, MaxBackoffMS: 12000},
		File: FileConfig{Dir: dir},
		HTTP: HTTPConfig{URL: srv.URL, MaxBodyBytes: 800, MaxRetries: 1}})
	require.NoError(t, err)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			payload := fmt.Appendf(nil, "p%03d-%s", i, strings.Repeat("x", 150))
			require.NoError(t, o.SendContext(context.Background(), Entry{Reason: "r", Payload: payload}))
		}
	}
	send(0, batch)
	<-entered
	send(batch, n) // full batches queue behind the held first POST
	close(hold)
	require.Eventually(t, func() bool { return o.Stats().Written == n }, time.Minute, time.Millisecond)
	flushOK(t, o) // the file holds all; the mirror's catch-up list is long
	mu.Lock()
	bad = false
	mu.Unlock()
	closeOK(t, o)
	st := o.Stats()
	var missed uint64
	for _, b := range st.Backends {
		missed += b.Missed
	}
	mu.Lock()
	defer mu.Unlock()
	var missing []int
	for i := range n {
		if !stored[i] {
			missing = append(missing, i)
		}
	}
	assert.Empty(t, keyDiff, "one Idempotency-Key, one set of entries")
	assert.Empty(t, missing, "entries the de-duplicating receiver never stored (dlq's Missed: %d)", missed)
}

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

// idLog records every entry an HTTP endpoint is sent, answered or not:
// payload → the ids it came with, in order.
type idLog struct {
	mu  sync.Mutex
	ids map[string][]string
}

func (l *idLog) record(t *testing.T, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read body: %v", err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(nil, 16<<20)
	for scanner.Scan() {
		e, err := ParseEnvelope(scanner.Bytes())
		if err != nil {
			t.Errorf("parse: %v", err)
			continue
		}
		l.ids[string(e.Payload)] = append(l.ids[string(e.Payload)], e.ID)
	}
}

func (l *idLog) get() map[string][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ids
}

// TestIDsStableAcrossRetries: an endpoint that reads a batch and then
// fails it gets it again on the retry, with the same ids; entries that fall
// through to the file carry there the id the endpoint saw.
func TestIDsStableAcrossRetries(t *testing.T) {
	t.Run("retried by the drain", func(t *testing.T) {
		l := &idLog{ids: map[string][]string{}}
		recv := newReceiver(t, false, func(call int64, w http.ResponseWriter, r *http.Request) bool {
			l.record(t, r)
			if call <= 2 {
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			w.WriteHeader(http.StatusOK)
			return true
		})
		o, err := New(Config{Service: "svc", File: FileConfig{Disabled: true}, BatchSize: 10,
			Retry: RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 5},
			HTTP:  HTTPConfig{URL: recv.srv.URL, MaxRetries: 1}})
		require.NoError(t, err)
		ps := payloads(10, "r")
		sendAll(t, o, ps)
		flushOK(t, o)
		closeOK(t, o)
		got := l.get()
		for _, p := range ps {
			ids := got[p]
			require.GreaterOrEqual(t, len(ids), 2, "entry %s was tried more than once", p)
			for _, id := range ids[1:] {
				assert.Equal(t, ids[0], id, "entry %s keeps its id on every try", p)
			}
		}
		assert.NotZero(t, o.Stats().Retried)
	})
	t.Run("fallen through to the file", func(t *testing.T) {
		l := &idLog{ids: map[string][]string{}}
		recv := newReceiver(t, false, func(call int64, w http.ResponseWriter, r *http.Request) bool {
			l.record(t, r)
			w.WriteHeader(http.StatusInternalServerError)
			return true
		})
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", Order: []Kind{KindHTTP, KindFile}, File: FileConfig{Dir: dir},
			HTTP: HTTPConfig{URL: recv.srv.URL, MaxRetries: 1}})
		require.NoError(t, err)
		ps := payloads(10, "c")
		sendAll(t, o, ps)
		flushOK(t, o)
		closeOK(t, o)
		got := l.get()
		inFile := byPayload(readDir(t, filepath.Join(dir, "svc")))
		for _, p := range ps {
			require.NotEmpty(t, got[p], "the endpoint saw %s", p)
			assert.Equal(t, got[p][0], inFile[p].ID, "entry %s: the id the endpoint saw is the one in the file", p)
		}
	})
}
