//go:build dlq_http || dlq_all

package dlq

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
