package dlq

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/testenv"
)

// errorLog collects what OnError is handed.
type errorLog struct {
	mu    sync.Mutex
	errs  []error
	times []time.Time
}

func (l *errorLog) onError(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
	l.times = append(l.times, time.Now())
}

func (l *errorLog) snapshot() ([]error, []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...), append([]time.Time(nil), l.times...)
}

// TestOnErrorOnEveryFailure: OnError hears of every backend failure, the
// ones a fallback or a retry then mended included: the entries its
// BackendErrors name add up to the backends' error counts.
func TestOnErrorOnEveryFailure(t *testing.T) {
	first, second := testenv.MountTmpfs(t, 64<<10), testenv.MountTmpfs(t, 64<<10)
	freeFirst, freeSecond := first.Fill(), second.Fill()
	defer freeFirst()
	var l errorLog
	o := startWithFileBackends(t, Config{Service: "svc", BatchSize: 10, OnError: l.onError,
		Retry: RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 5}}, first.Dir, second.Dir)
	sendAll(t, o, payloads(25, "e")) // batches of 10, 10 and 5
	require.Eventually(t, func() bool { return o.Stats().Retried >= 25 }, 30*time.Second, time.Millisecond,
		"every backend failed and the entries are retried")
	freeSecond()
	flushOK(t, o)
	closeOK(t, o)

	errs, _ := l.snapshot()
	require.NotEmpty(t, errs)
	var named uint64
	for _, err := range errs {
		var be *BackendError
		require.ErrorAs(t, err, &be, "OnError gets a *BackendError: %v", err)
		assert.Equal(t, KindFile, be.Kind)
		assert.ErrorContains(t, err, "no space left on device")
		named += uint64(be.Entries)
	}
	s := o.Stats()
	assert.Equal(t, s.Backends[0].Errors+s.Backends[1].Errors, named,
		"the failures OnError heard of are the ones the stats count")
	assert.Equal(t, uint64(25), s.Backends[1].Entries)
	assert.Zero(t, s.Lost)
	requireAccounted(t, s)
}

// TestRetryBackoffDoublesWithJitter watches the write attempts of a Close
// that retries an entry no backend takes (Close tries every backend each
// round, cool-downs aside): the waits between attempts double from
// Retry.InitialBackoffMS up to Retry.MaxBackoffMS, each drawn from the
// upper half of the current backoff. Only lower bounds are checked for the
// doubling (a busy machine makes waits longer, never shorter); the jitter
// is checked by one wait at the cap falling clearly short of the cap.
func TestRetryBackoffDoublesWithJitter(t *testing.T) {
	const initial, maxBackoff = 20 * time.Millisecond, 160 * time.Millisecond
	disk := testenv.MountTmpfs(t, 64<<10)
	free := disk.Fill() // freed below; the tmpfs goes at the end anyway
	var l errorLog
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, FlushIntervalMS: 1, OnError: l.onError,
		Logger: quiet, Retry: RetryConfig{InitialBackoffMS: int(initial / time.Millisecond), MaxBackoffMS: int(maxBackoff / time.Millisecond)}})
	require.NoError(t, err)
	require.NoError(t, o.Send(Entry{Reason: "r", Payload: []byte("stuck")}))
	closed := make(chan error, 1)
	go func() { closed <- o.Close(t.Context()) }()

	const attempts = 15
	require.Eventually(t, func() bool { errs, _ := l.snapshot(); return len(errs) >= attempts },
		time.Minute, time.Millisecond, "Close retries")
	free()
	require.NoError(t, <-closed, "Close writes the entry once the disk has room")

	_, times := l.snapshot()
	waits := make([]time.Duration, 0, attempts-1)
	for i := 1; i < attempts; i++ {
		waits = append(waits, times[i].Sub(times[i-1]))
	}
	backoff := initial
	for i, w := range waits {
		assert.GreaterOrEqual(t, w, backoff/2, "wait %d: at least half the backoff (%s); waits %v", i, backoff, waits)
		if i > 0 { // the first retry waits the initial backoff, then it doubles
			backoff = min(2*backoff, maxBackoff)
		}
	}
	atCap := waits[len(waits)-8:] // the backoff reached the cap after 4 doublings
	shortest := atCap[0]
	for _, w := range atCap {
		shortest = min(shortest, w)
		assert.Less(t, w, 2*maxBackoff, "the backoff is bounded by the cap; waits %v", waits)
	}
	assert.Less(t, shortest, maxBackoff*85/100,
		"jitter: some wait at the cap falls in its lower part (8 draws from [cap/2, cap] all above 85%% has probability 7e-5); waits %v", waits)
}
