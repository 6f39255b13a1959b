//go:build dlq_http || dlq_all

package dlq

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHTTPBodiesBuiltAhead holds the first POST while three batches queue
// behind it, so that each next batch's bodies are built and gzipped on the
// encode lane while the one before is posted. The receiver must get what
// the write would have built itself: every entry once, in order, bodies
// within max_body_bytes, each under the key of its own entries.
func TestHTTPBodiesBuiltAhead(t *testing.T) {
	const batch, batches = 4, 4
	entered, hold := make(chan struct{}), make(chan struct{})
	var (
		mu     sync.Mutex
		posts  int
		got    []string
		badKey []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts++
		first := posts == 1
		mu.Unlock()
		if first {
			close(entered)
			<-hold
		}
		zr, err := gzip.NewReader(r.Body)
		if !assert.NoError(t, err, "Content-Encoding %q", r.Header.Get("Content-Encoding")) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(zr)
		require.NoError(t, err)
		mu.Lock()
		defer mu.Unlock()
		sum := sha256.New()
		sc := bufio.NewScanner(bytes.NewReader(body))
		n := 0
		for sc.Scan() {
			e, err := ParseEnvelope(sc.Bytes())
			if !assert.NoError(t, err, "line %q", sc.Text()) {
				continue
			}
			n++
			got = append(got, string(e.Payload))
			sum.Write([]byte(e.ID))
			sum.Write([]byte{0})
		}
		assert.LessOrEqual(t, n, 2, "a body holds at most two of these lines under max_body_bytes")
		if key := hex.EncodeToString(sum.Sum(nil)[:16]); r.Header.Get("Idempotency-Key") != key {
			badKey = append(badKey, r.Header.Get("Idempotency-Key"))
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	o, err := New(Config{Service: "ahead", BatchSize: batch, QueueCapacity: 64, FlushIntervalMS: 3_600_000,
		File: FileConfig{Disabled: true}, HTTP: HTTPConfig{URL: srv.URL, Gzip: true, MaxBodyBytes: 700}})
	require.NoError(t, err)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			payload := append(fmt.Appendf(nil, "entry-%02d-", i), bytes.Repeat([]byte{'x'}, 150)...)
			require.NoError(t, o.SendContext(context.Background(), Entry{Reason: "r", Payload: payload}))
		}
	}
	send(0, batch)
	<-entered
	send(batch, batches*batch) // full batches wait, each taken and built ahead in turn
	close(hold)
	// No Flush until the batches went by themselves: a Flush writes what it
	// finds as it is, without working ahead.
	require.Eventually(t, func() bool { return o.Stats().Written == batches*batch }, time.Minute, time.Millisecond,
		"the batches taken ahead were not written") // a guard against hanging, not a timing
	flushOK(t, o)
	aheadPosts := o.backends[0].http.aheadPosts // the drain is idle after Flush
	closeOK(t, o)

	mu.Lock()
	defer mu.Unlock()
	var want []string
	for i := range batches * batch {
		want = append(want, fmt.Sprintf("entry-%02d-%s", i, bytes.Repeat([]byte{'x'}, 150)))
	}
	assert.Equal(t, want, got, "every entry once, in the order sent")
	assert.Empty(t, badKey, "Idempotency-Key of a body is the digest of its entries' ids")
	assert.Positive(t, aheadPosts, "some bodies were posted as built ahead")
}

// TestEncodeLaneRetryKeepsLinesEncodedAhead: a retry round runs while the
// pending batch holds lines encoded ahead; the retry's encoding must not
// overwrite them.
func TestEncodeLaneRetryKeepsLinesEncodedAhead(t *testing.T) {
	const batch = 4
	entered, hold, retried := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	calls := 0
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls++
		call := calls
		mu.Unlock()
		switch call {
		case 1: // the first batch: held while more entries queue, then failed (400: the backend does not retry it itself)
			close(entered)
			<-hold
			w.WriteHeader(http.StatusBadRequest)
			return
		case 3: // the second batch fails while the third waits, encoded ahead
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			e, err := ParseEnvelope(sc.Bytes())
			if !assert.NoError(t, err, "line %q", sc.Text()) {
				continue
			}
			got = append(got, string(e.Payload))
		}
		if call == 4 { // the second batch, retried while the third waits
			close(retried)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	o, err := New(Config{Service: "lane", BatchSize: batch, QueueCapacity: 32, FlushIntervalMS: 3_600_000,
		Retry: RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 5},
		File:  FileConfig{Disabled: true}, HTTP: HTTPConfig{URL: srv.URL}})
	require.NoError(t, err)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			require.NoError(t, o.SendContext(context.Background(), Entry{Reason: "r", Payload: fmt.Appendf(nil, "entry-%02d", i)}))
		}
	}
	send(0, batch)
	<-entered
	send(batch, 2*batch+2) // a full batch, and two that are taken ahead behind it
	close(hold)
	<-retried // the retry round ran with the third batch encoded ahead
	flushOK(t, o)
	closeOK(t, o)

	var want []string
	for i := range 2*batch + 2 {
		want = append(want, fmt.Sprintf("entry-%02d", i))
	}
	mu.Lock()
	defer mu.Unlock()
	sort.Strings(got)
	assert.Equal(t, want, got, "each entry received once, with its own line")
}
