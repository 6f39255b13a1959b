//go:build dlq_all

package chaos

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dlqkit/dlq"
)

// httpFault is how the sink answers.
type httpFault int32

const (
	httpOK httpFault = iota
	http500
	http503RetryAfter
	httpHang
	httpCloseConn
)

var httpFaultNames = [...]string{"ok", "http_500", "http_503_retry_after", "http_hang", "http_close_conn"}

// httpSink is a loopback net/http server that records the entries of every
// body it answers 2xx, and misbehaves on demand.
type httpSink struct {
	srv   *httptest.Server
	fault atomic.Int32
	mu    sync.Mutex
	ids   map[string]int // entry id -> times received in a 2xx body
	keep  bool           // also keep the entries themselves
	kept  map[string]dlq.Entry
}

func newHTTPSink() *httpSink {
	s := &httpSink{ids: map[string]int{}, kept: map[string]dlq.Entry{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *httpSink) serve(w http.ResponseWriter, r *http.Request) {
	switch httpFault(s.fault.Load()) {
	case http500:
		http.Error(w, "injected", http.StatusInternalServerError)
		return
	case http503RetryAfter:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case httpHang:
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return
	case httpCloseConn:
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = conn.Close()
		}
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
	var entries []dlq.Entry
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(nil, 64<<20)
	for scanner.Scan() {
		e, err := dlq.ParseEnvelope(scanner.Bytes())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		entries = append(entries, e)
	}
	s.mu.Lock()
	for _, e := range entries {
		s.ids[e.ID]++
		if s.keep {
			s.kept[e.ID] = e
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *httpSink) received() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.ids))
	for k, v := range s.ids {
		out[k] = v
	}
	return out
}
