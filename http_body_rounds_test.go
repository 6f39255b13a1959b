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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
