//go:build dlq_http || dlq_all

package dlq

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
