package dlq

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFlushWaitsUntilDurable: with the disk full, Flush does not return an
// error at once; it keeps retrying, and returns nil once the disk has room
// and every entry accepted before it is written.
func TestFlushWaitsUntilDurable(t *testing.T) {
	disk := testenv.MountTmpfs(t, 64<<10)
	free := disk.Fill()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, BatchSize: 16,
		Retry: RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ps := payloads(40, "w")
	sendAll(t, o, ps)

	var freed atomic.Bool
	result := make(chan error, 1)
	go func() { result <- o.Flush(context.Background()) }()
	require.Eventually(t, func() bool { return o.Stats().Retried > 3 }, 10*time.Second, time.Millisecond,
		"the drain retries while Flush waits")
	freed.Store(true)
	free()
	require.NoError(t, <-result)
	require.True(t, freed.Load(), "Flush returned only after the disk had room")
	s := o.Stats()
	assert.Equal(t, uint64(40), s.Written)
	assert.Zero(t, s.Pending)
	closeOK(t, o)
	requireHolds(t, byPayload(readDir(t, filepath.Join(disk.Dir, "svc"))), ps)
}

// TestFlushReportsLosses: entries lost since the previous Flush make Flush
// return ErrLost with the count, whatever the reason; the next Flush,
// with no new loss, returns nil.
func TestFlushReportsLosses(t *testing.T) {
	t.Run("max attempts on a full disk", func(t *testing.T) {
		disk := testenv.MountTmpfs(t, 64<<10)
		defer disk.Fill()()
		var lost atomic.Int64
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, BatchSize: 16,
			Retry:  RetryConfig{MaxAttempts: 2, InitialBackoffMS: 1, MaxBackoffMS: 2},
			Logger: slog.New(slog.DiscardHandler),
			OnLoss: func(_ Entry, reason LossReason, err error) {
				if reason == ReasonAllFailed && err != nil {
					lost.Add(1)
				}
			}})
		require.NoError(t, err)
		sendAll(t, o, payloads(100, "l"))
		err = o.Flush(context.Background())
		require.ErrorIs(t, err, ErrLost)
		assert.ErrorContains(t, err, "100 entries")
		assert.NotErrorIs(t, err, ErrNotWritten, "nothing is left to write")
		assert.Equal(t, int64(100), lost.Load(), "OnLoss got every one, with its reason")
		flushOK(t, o)
		closeOK(t, o)
		assert.Equal(t, map[LossReason]uint64{ReasonAllFailed: 100}, o.Stats().LostBy)
	})
	t.Run("an entry too large for every backend", func(t *testing.T) {
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: t.TempDir(), Rotation: RotateSize, MaxSizeMB: 1},
			Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		require.NoError(t, o.Send(Entry{Reason: "huge", Payload: make([]byte, 2<<20)}))
		require.NoError(t, o.Send(Entry{Reason: "small"}))
		err = o.Flush(context.Background())
		require.ErrorIs(t, err, ErrLost)
		assert.ErrorContains(t, err, "1 entries")
		flushOK(t, o)
		closeOK(t, o)
	})
}

// TestFlushDeadlineDuringOutage: when ctx ends first, Flush's error
// matches ErrNotWritten and ctx's error, and the drain goes on: once the
// disk has room the entries are written without another Flush.
func TestFlushDeadlineDuringOutage(t *testing.T) {
	disk := testenv.MountTmpfs(t, 64<<10)
	free := disk.Fill()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, BatchSize: 16,
		Retry: RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	sendAll(t, o, payloads(20, "d"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = o.Flush(ctx)
	require.ErrorIs(t, err, ErrNotWritten)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "20 entries")
	free()
	require.Eventually(t, func() bool { return o.Stats().Written == 20 }, 10*time.Second, time.Millisecond,
		"the drain retries on its own after an abandoned Flush")
	closeOK(t, o)
}
