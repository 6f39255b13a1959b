package dlq

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplayLockRefusesASecondReplay: while a replay runs, another on its
// checkpoint, or on its ledger under another checkpoint, is refused before
// it sends anything, naming the holder; once the first ended, a rerun is
// let in and, with OnlyPending, sends nothing again. Before, both ran:
// two `dlq replay --only-pending` on one checkpoint sent 501 of 2000
// entries twice, and one of them failed renaming the other's
// checkpoint.tmp.
func TestReplayLockRefusesASecondReplay(t *testing.T) {
	const n = 300
	src := writeNumbered(t, t.TempDir(), n)
	arrived, hold := make(chan struct{}), make(chan struct{})
	var (
		mu  sync.Mutex
		got = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[string(body)]++
		first := len(got) == 1 && got[string(body)] == 1
		mu.Unlock()
		if first { // the first replay waits here, in the middle of its run
			close(arrived)
			<-hold
		}
	}))
	t.Cleanup(srv.Close)
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release) // before srv.Close, which waits for the held request
	dir := t.TempDir()
	opts := ReplayOptions{Checkpoint: filepath.Join(dir, "replay.cp"), OnlyPending: true}
	first := make(chan error, 1)
	go func() {
		_, err := Replay(t.Context(), src, srv.URL, opts)
		first <- err
	}()
	select {
	case <-arrived:
	case err := <-first:
		t.Fatalf("the first replay ended before its first request: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the first replay's first request never came")
	}

	sameLedger := opts
	sameLedger.Checkpoint, sameLedger.Ledger = filepath.Join(dir, "other.cp"), opts.Checkpoint+".ledger"
	for name, second := range map[string]ReplayOptions{"the same checkpoint": opts, "the same ledger": sameLedger} {
		res, err := Replay(t.Context(), src, srv.URL, second)
		require.Error(t, err, "%s: a second replay ran beside the first", name)
		assert.ErrorContains(t, err, "is in use by another replay")
		assert.ErrorContains(t, err, fmt.Sprintf("pid %d", os.Getpid()), "%s: the holder named", name)
		assert.Zero(t, res, name)
	}
	mu.Lock()
	assert.Len(t, got, 1, "the refused replays sent nothing")
	mu.Unlock()

	release()
	require.NoError(t, <-first)
	res, err := Replay(t.Context(), src, srv.URL, sameLedger)
	require.NoError(t, err, "the lock ended with the first replay")
	assert.Equal(t, uint64(n), res.AlreadyReplayed)
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, got, n)
	for id, c := range got {
		assert.Equal(t, 1, c, "entry %s sent %d times", id, c)
	}
}
