package dlq

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCascadeFallsBackWhenFirstBackendIsFull(t *testing.T) {
	full := testenv.MountTmpfs(t, 64<<10)
	free := full.Fill()
	defer free()
	spare := t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc", BatchSize: 32}, full.Dir, spare)

	ps := payloads(200, "e")
	sendAll(t, o, ps)
	flushOK(t, o)
	closeOK(t, o)

	inSpare := byPayload(readDir(t, filepath.Join(spare, "svc")))
	inFull := byPayload(readDir(t, filepath.Join(full.Dir, "svc")))
	requireHolds(t, inSpare, ps)
	assert.Empty(t, inFull, "nothing fit on the full disk")
	s := o.Stats()
	assert.Equal(t, uint64(200), s.Written)
	assert.NotZero(t, s.Backends[0].Errors)
	assert.Contains(t, s.Backends[0].LastError, "no space left on device")
	assert.Equal(t, uint64(200), s.Backends[1].Entries)
	requireAccounted(t, s)
}

func TestCascadeMovesOnlyFailedEntries(t *testing.T) {
	// A disk with room for part of a batch: the entries that fit stay in
	// the first backend, only the rest go to the second, none twice.
	small := testenv.MountTmpfs(t, 16<<10)
	spare := t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc", BatchSize: 256, FlushIntervalMS: 10_000}, small.Dir, spare)

	ps := payloads(256, "p")
	for i := range ps {
		ps[i] += string(make([]byte, 100)) // ~250 bytes a line: 256 lines do not fit in 16 KiB
	}
	sendAll(t, o, ps)
	flushOK(t, o)
	closeOK(t, o)

	first := byPayload(readDir(t, filepath.Join(small.Dir, "svc")))
	second := byPayload(readDir(t, filepath.Join(spare, "svc")))
	assert.NotEmpty(t, first, "some entries fit on the small disk")
	assert.NotEmpty(t, second, "the rest fell through")
	for p := range first {
		assert.NotContains(t, second, p, "an entry the first backend held was written again")
	}
	assert.Equal(t, 256, len(first)+len(second))
	s := o.Stats()
	assert.Equal(t, uint64(256), s.Written)
	assert.Equal(t, uint64(len(first)), s.Backends[0].Entries)
	assert.Equal(t, uint64(len(second)), s.Backends[1].Entries)
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

func TestCloseDeadlineCountsUnwrittenAsLost(t *testing.T) {
	disk := testenv.MountTmpfs(t, 64<<10)
	defer disk.Fill()()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, QueueCapacity: 8, BatchSize: 4,
		Retry: RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 5}})
	require.NoError(t, err)
	// Fill until the drain retries what it holds (and so takes no more) and
	// Send finds no room: a state, whatever the flush interval and the
	// encoding ahead did with the first entries.
	accepted := 0
	require.Eventually(t, func() bool {
		var err error
		for err = o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "c-%d", accepted)}); err == nil; {
			accepted++
			err = o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "c-%d", accepted)})
		}
		s := o.Stats()
		return s.Retried > 0 && errors.Is(err, ErrQueueFull) && s.Held == s.QueueCapacity+s.BatchSize
	}, 30*time.Second, time.Millisecond, "the drain retries and every unit of room is held")
	require.GreaterOrEqual(t, accepted, 9, "the queue and at least one entry in the drain")

	waiting := make(chan error)
	go func() { waiting <- o.SendContext(context.Background(), Entry{Reason: "blocked"}) }()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = o.Close(ctx)
	require.Error(t, err)
	assert.ErrorContains(t, err, fmt.Sprintf("%d entries lost", accepted))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, <-waiting, ErrClosed, "a SendContext waiting for room is woken by Close")
	s := o.Stats()
	assert.Equal(t, map[LossReason]uint64{ReasonShutdown: uint64(accepted)}, s.LostBy)
	assert.Equal(t, uint64(1), s.DroppedBy[ReasonClosed])
	requireAccounted(t, s)
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

func TestFanOutCatchesUpAMirrorThatWasDown(t *testing.T) {
	mirror := testenv.MountTmpfs(t, 64<<10)
	free := mirror.Fill()
	primary := t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc", Mode: ModeFanOut, BatchSize: 16,
		Retry: RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20}}, primary, mirror.Dir)

	ps := payloads(100, "f")
	sendAll(t, o, ps)
	flushOK(t, o) // durable in the primary: enough for Flush
	s := o.Stats()
	assert.Equal(t, uint64(100), s.Written)
	assert.Equal(t, uint64(100), s.Backends[0].Entries)
	assert.Zero(t, s.Backends[1].Entries)

	free()
	require.Eventually(t, func() bool { return o.Stats().Backends[1].Entries == 100 }, 10*time.Second, time.Millisecond,
		"the mirror catches up once it has room")
	closeOK(t, o)
	requireHolds(t, byPayload(readDir(t, filepath.Join(primary, "svc"))), ps)
	requireHolds(t, byPayload(readDir(t, filepath.Join(mirror.Dir, "svc"))), ps)
	s = o.Stats()
	assert.Equal(t, uint64(100), s.Written, "an entry counts written once")
	assert.Zero(t, s.Backends[1].Missed)
	requireAccounted(t, s)
}

func TestFanOutMirrorGivesUpAfterMaxAttempts(t *testing.T) {
	mirror := testenv.MountTmpfs(t, 64<<10)
	defer mirror.Fill()()
	primary := t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc", Mode: ModeFanOut,
		Retry: RetryConfig{MaxAttempts: 2, InitialBackoffMS: 1, MaxBackoffMS: 2}}, primary, mirror.Dir)
	sendAll(t, o, payloads(10, "m"))
	require.Eventually(t, func() bool { return o.Stats().Backends[1].Missed == 10 }, 10*time.Second, time.Millisecond)
	closeOK(t, o)
	s := o.Stats()
	assert.Equal(t, uint64(10), s.Written)
	assert.Zero(t, s.Lost, "missed by a mirror is not lost")
	requireAccounted(t, s)
}

func TestCascadeOrderIsConfigurable(t *testing.T) {
	// The Config's order decides which backend is first; here the two file
	// backends stand for two kinds, and the second is given first.
	a, b := t.TempDir(), t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc"}, b, a)
	sendAll(t, o, payloads(5, "o"))
	closeOK(t, o)
	assert.Len(t, readDir(t, filepath.Join(b, "svc")), 5)
	assert.Empty(t, readDir(t, filepath.Join(a, "svc")))
}
