//go:build dlq_http || dlq_all

package dlq

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
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
