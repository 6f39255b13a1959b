//go:build dlq_http || dlq_all

package dlq

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

func init() { conformanceRigs = append(conformanceRigs, httpRig()) }

// httpMaxBody is the rig's http.max_body_bytes: small, so that a batch
// spans several bodies and an oversize entry costs little.
const httpMaxBody = 64 << 10

// httpRig is the HTTP backend against a real net/http server on loopback.
func httpRig() backendRig {
	return backendRig{kind: KindHTTP, features: rigFeatures{
		fallback:      true,
		maxEntryBytes: httpMaxBody - 1, // a line and its newline
		hangs:         true,
	}, start: func(t *testing.T, _ bool) rigTarget {
		h := &httpTarget{landedBy: map[string][]Entry{}, refusedIDs: map[string]bool{}}
		h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
		t.Cleanup(h.srv.Close) // after any hang's release, which t.Cleanup runs first
		return h
	}}
}

// httpTarget is the receiver: it keeps the entries of every body it
// answered 2xx, refuses (400) the bodies holding an entry for refusedDest
// while refusing, and holds every request unanswered while hanging.
type httpTarget struct {
	srv *httptest.Server

	mu         sync.Mutex
	landedBy   map[string][]Entry
	refusing   bool
	refusedIDs map[string]bool
	hanging    chan struct{} // closed on release; nil when not hanging
	held       int
}

func (h *httpTarget) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	hanging := h.hanging
	if hanging != nil {
		h.held++
	}
	h.mu.Unlock()
	if hanging != nil {
		select {
		case <-hanging:
		case <-r.Context().Done(): // the client gave up
		}
		http.Error(w, "held, then dropped", http.StatusServiceUnavailable)
		return
	}
	entries, err := readBody(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refusing {
		for _, e := range entries {
			if e.Destination == refusedDest {
				for _, e := range entries {
					h.refusedIDs[e.ID] = true
				}
				http.Error(w, "refused", http.StatusBadRequest)
				return
			}
		}
	}
	for _, e := range entries {
		h.landedBy[e.ID] = append(h.landedBy[e.ID], e)
	}
	w.WriteHeader(http.StatusNoContent)
}

// readBody parses an NDJSON body, gzipped or not.
func readBody(r *http.Request) ([]Entry, error) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	var entries []Entry
	lines := bufio.NewScanner(bytes.NewReader(data))
	lines.Buffer(nil, 2*httpMaxBody)
	for lines.Scan() {
		e, err := ParseEnvelope(lines.Bytes())
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, lines.Err()
}

// configure gives a request a minute: only cancellation can end a hung
// one within the suite's bounds.
func (h *httpTarget) configure(cfg *Config) {
	cfg.File = FileConfig{Disabled: true}
	cfg.HTTP = HTTPConfig{URL: h.srv.URL, TimeoutMS: 60_000, MaxBodyBytes: httpMaxBody}
}

func (h *httpTarget) landed(*testing.T) map[string][]Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]Entry, len(h.landedBy))
	for id, copies := range h.landedBy {
		out[id] = append([]Entry(nil), copies...)
	}
	return out
}

// refuseSome refuses every body that holds an entry for refusedDest: with
// payloads of over half a body, each entry is a body of its own.
func (h *httpTarget) refuseSome(*testing.T) (func(int, *Entry), func([]Entry) map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refusing = true
	shape := func(i int, e *Entry) {
		refuseEveryThird(i, e)
		e.Payload = confPayload(e.ID, httpMaxBody/2)
	}
	return shape, func([]Entry) map[string]bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		out := make(map[string]bool, len(h.refusedIDs))
		for id := range h.refusedIDs {
			out[id] = true
		}
		return out
	}
}

// hang holds every request unanswered until release (or until its client
// gives up), then answers it 503 without keeping its entries.
func (h *httpTarget) hang(t *testing.T) (func() bool, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hanging := make(chan struct{})
	h.hanging = hanging
	var once sync.Once
	release := func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.hanging = nil
			close(hanging)
		})
	}
	t.Cleanup(release)
	return func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.held > 0
	}, release
}
