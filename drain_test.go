package dlq

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func TestRetryUntilDiskHasRoomAgain(t *testing.T) {
	disk := testenv.MountTmpfs(t, 64<<10)
	free := disk.Fill()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, BatchSize: 16,
		Retry: RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20}})
	require.NoError(t, err)

	ps := payloads(100, "d")
	go sendAll(t, o, ps) // SendContext: waits while the drain retries

	require.Eventually(t, func() bool { return o.Stats().Retried > 3 }, 10*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = o.Flush(ctx) // waits while the disk is full, until ctx ends
	require.ErrorIs(t, err, ErrNotWritten, "Flush reports that the disk is full")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "no space left on device")

	free()
	require.Eventually(t, func() bool { return o.Stats().Accepted == 100 }, 10*time.Second, time.Millisecond)
	flushOK(t, o)
	closeOK(t, o)
	requireHolds(t, byPayload(readDir(t, filepath.Join(disk.Dir, "svc"))), ps)
	s := o.Stats()
	assert.Equal(t, uint64(100), s.Written)
	assert.Zero(t, s.Lost)
	assert.NotZero(t, s.Retried)
	requireAccounted(t, s)
}

func TestResizedDiskTakesRetriedEntries(t *testing.T) {
	disk := testenv.MountTmpfs(t, 8<<10)
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, BatchSize: 64,
		Retry: RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20}})
	require.NoError(t, err)
	ps := payloads(400, "grow")
	go sendAll(t, o, ps)
	require.Eventually(t, func() bool { return o.Stats().Retried > 0 }, 10*time.Second, time.Millisecond)
	disk.Resize(1 << 20)
	require.Eventually(t, func() bool { return o.Stats().Accepted == 400 }, 10*time.Second, time.Millisecond)
	flushOK(t, o)
	closeOK(t, o)
	requireHolds(t, byPayload(readDir(t, filepath.Join(disk.Dir, "svc"))), ps)
	requireAccounted(t, o.Stats())
}

func TestMaxAttemptsLosesWithReasonAndOnLoss(t *testing.T) {
	disk := testenv.MountTmpfs(t, 64<<10)
	defer disk.Fill()()
	var (
		mu     sync.Mutex
		lostTo []error
	)
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, BatchSize: 8,
		Retry: RetryConfig{MaxAttempts: 3, InitialBackoffMS: 1, MaxBackoffMS: 2},
		OnLoss: func(e Entry, reason LossReason, err error) {
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, ReasonAllFailed, reason)
			lostTo = append(lostTo, err)
		}})
	require.NoError(t, err)
	sendAll(t, o, payloads(20, "l"))
	require.Eventually(t, func() bool { return o.Stats().Lost == 20 }, 10*time.Second, time.Millisecond)
	closeOK(t, o)
	s := o.Stats()
	assert.Equal(t, map[LossReason]uint64{ReasonAllFailed: 20}, s.LostBy)
	assert.Equal(t, uint64(20*2), s.Retried, "two retries after the first attempt")
	requireAccounted(t, s)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, lostTo, 20)
	var be *BackendError
	require.ErrorAs(t, lostTo[0], &be)
	assert.Equal(t, KindFile, be.Kind)
	assert.ErrorContains(t, lostTo[0], "no space left on device")
}

func TestOversizeEntryIsLostNotRetried(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1}})
	require.NoError(t, err)
	require.NoError(t, o.Send(Entry{Reason: "huge", Payload: make([]byte, 2<<20)}))
	require.NoError(t, o.Send(Entry{Reason: "small", Payload: []byte("ok")}))
	err = o.Flush(context.Background())
	require.ErrorIs(t, err, ErrLost, "Flush reports the loss")
	assert.ErrorContains(t, err, "1 entries")
	flushOK(t, o) // reported once
	closeOK(t, o)
	s := o.Stats()
	assert.Equal(t, map[LossReason]uint64{ReasonOversize: 1}, s.LostBy)
	assert.Equal(t, uint64(1), s.Written)
	assert.Contains(t, byPayload(readDir(t, filepath.Join(dir, "svc"))), "ok")
	requireAccounted(t, s)
}

// TestFanOutCoolDown: a fan-out mirror that failed a whole batch is passed
// over for a cool-down (here a minute: longer than the test) instead of
// being written to, and failing, on every batch. Flush respects the
// cool-down too: the primary holds every entry, so Flush is satisfied
// without the mirror, and a Close whose deadline ends inside the cool-down
// counts what the mirror lacks as missed. (A mirror whose cool-down ends in
// time catches up: TestFanOutMirrorBackWithinAttemptsCatchesUp.)
func TestFanOutCoolDown(t *testing.T) {
	mirror := testenv.MountTmpfs(t, 64<<10)
	free := mirror.Fill()
	primary := t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc", Mode: ModeFanOut, BatchSize: 10, FlushIntervalMS: 1,
		Logger: quiet, Retry: RetryConfig{InitialBackoffMS: 60000, MaxBackoffMS: 60000}}, primary, mirror.Dir)

	var ps []string
	for round := range 5 {
		batch := payloads(10, string(rune('a'+round)))
		ps = append(ps, batch...)
		sendAll(t, o, batch)
		require.Eventually(t, func() bool { return o.Stats().Written == uint64(len(ps)) }, 30*time.Second, time.Millisecond)
	}
	s := o.Stats()
	assert.Equal(t, uint64(5), s.Backends[0].Batches, "the primary writes every batch")
	assert.Equal(t, uint64(1), s.Backends[1].Batches, "the mirror is tried once, then passed over")
	assert.Equal(t, uint64(10), s.Backends[1].Errors)

	free()
	flushOK(t, o)
	s = o.Stats()
	assert.Equal(t, uint64(1), s.Backends[1].Batches, "Flush does not try the mirror in its cool-down")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := o.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "50 entries missing from some fan-out backend")
	s = o.Stats()
	assert.Equal(t, uint64(50), s.Backends[1].Missed, "what the mirror lacks at Close is counted missed")
	assert.Zero(t, s.Lost, "the primary holds every entry")
	requireHolds(t, byPayload(readDir(t, filepath.Join(primary, "svc"))), ps)
}

// TestRetryRoundBackoffDoublesWithJitter checks the drain's own retry
// backoff, the one that paces retry rounds when some backend is not in its
// cool-down (a batch that only partly failed): it starts at
// initial_backoff_ms, doubles after each round that tried a backend and
// made no progress, stops at max_backoff_ms, and each wait is drawn from
// the upper half of it. TestRetryBackoffDoublesWithJitter watches the
// cool-down of a backend that failed whole batches, which paces the rounds
// instead when every backend is cooling down.
func TestRetryRoundBackoffDoublesWithJitter(t *testing.T) {
	d := &drain{o: &Orchestrator{cfg: Config{Retry: RetryConfig{InitialBackoffMS: 100, MaxBackoffMS: 1000}}}}
	ms := time.Millisecond
	var got []time.Duration
	for range 6 {
		d.backOff()
		got = append(got, d.backoff)
	}
	assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms}, got,
		"the backoff after each round without progress")

	draws := map[time.Duration]bool{}
	for range 64 {
		w := d.jittered()
		assert.GreaterOrEqual(t, w, 500*ms, "a wait is at least half the backoff")
		assert.LessOrEqual(t, w, 1000*ms, "a wait is at most the backoff")
		draws[w] = true
	}
	// 64 draws from 500,000,001 values all equal: probability ~0.
	assert.Greater(t, len(draws), 1, "the waits are jittered, not all the same")

	d.backoff = 0 // progress resets it: the next wait is the initial backoff again
	w := d.jittered()
	assert.True(t, w >= 50*ms && w <= 100*ms, "after progress the wait is drawn from the initial backoff, got %s", w)
}
