//go:build dlq_http || dlq_all

package dlq

import (
	"net/http"
	"path/filepath"
	"sync"
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
