package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fullQueue is how many entries the shutdown tests leave queued at Close.
const fullQueue = 1_000_000

// shutdownDeadline is the deadline the shutdown tests give Close, and
// shutdownLiveness the bound within which Close must have returned: far
// longer, so that a loaded machine cannot fail the test, while a Close that
// encodes a million entries after its deadline (about 80 s) does.
const (
	shutdownDeadline = time.Second
	shutdownLiveness = 15 * time.Second
)

// fillQueue sends n small entries, each with an id of its own, and returns
// the ids.
func fillQueue(t *testing.T, o *Orchestrator, n int) map[string]bool {
	t.Helper()
	ids := make(map[string]bool, n)
	payload := []byte("x")
	for i := range n {
		id := fmt.Sprintf("q-%07d", i)
		require.NoError(t, o.Send(Entry{ID: id, Reason: "r", Payload: payload}), "entry %d", i)
		ids[id] = true
	}
	return ids
}

// waitFor waits until cond holds, and fails with what otherwise.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			require.FailNow(t, "timed out waiting: "+what)
		case <-time.After(time.Millisecond):
		}
	}
}

// closeFullQueue closes o, whose only backends cannot write, with a full
// queue of accepted entries and a short deadline. Every accepted entry is
// then counted lost with reason shutdown, none is pending, held or queued,
// and the drain encoded at most encodedAtMost entries: not the queue it
// gave up. It returns Close's error and logs its wall time.
func closeFullQueue(t *testing.T, o *Orchestrator, accepted int, encodedAtMost uint64) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownDeadline)
	defer cancel()
	result := make(chan error, 1)
	start := time.Now()
	go func() { result <- o.Close(ctx) }()
	var err error
	select {
	case err = <-result:
	case <-time.After(shutdownLiveness):
		require.FailNow(t, "Close did not return", "still closing %s after its %s deadline", shutdownLiveness, shutdownDeadline)
	}
	took := time.Since(start)
	t.Logf("Close with %d entries queued took %s (deadline %s); the drain encoded %d entries", accepted, took, shutdownDeadline, o.encoded)
	require.Error(t, err)
	assert.ErrorContains(t, err, fmt.Sprintf("%d entries lost", accepted))
	s := o.Stats()
	assert.Equal(t, uint64(accepted), s.Accepted)
	assert.Zero(t, s.Written)
	assert.Equal(t, map[LossReason]uint64{ReasonShutdown: uint64(accepted)}, s.LostBy)
	assert.Zero(t, s.Pending)
	assert.Zero(t, s.Held, "nothing held after Close")
	assert.Zero(t, s.QueueDepth, "the queue Close gave up is not shown as waiting")
	requireAccounted(t, s)
	assert.LessOrEqual(t, o.encoded, encodedAtMost, "Close encoded the queue it gave up")
	return err
}

// TestShutdownFullQueueOnAFullDisk: with a million entries queued behind a
// file backend on a full tmpfs, Close keeps its deadline: it tries a batch
// at a time (backpressure, as in the normal rhythm) instead of encoding the
// whole queue into the retry list and rescanning the list for each batch,
// and counts what is left lost at its deadline without encoding it.
func TestShutdownFullQueueOnAFullDisk(t *testing.T) {
	for _, withOnLoss := range []bool{false, true} {
		t.Run(fmt.Sprintf("OnLoss %v", withOnLoss), func(t *testing.T) {
			disk := testenv.MountTmpfs(t, 64<<10)
			defer disk.Fill()()
			queued := fullQueue
			handed := map[string]int{}
			cfg := Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, QueueCapacity: fullQueue,
				Logger: slog.New(slog.DiscardHandler)}
			if withOnLoss {
				// Each entry is taken off the queue for OnLoss: a tenth of
				// the queue keeps the test short under -race.
				queued = fullQueue / 10
				cfg.OnLoss = func(e Entry, reason LossReason, err error) {
					if reason == ReasonShutdown && err != nil {
						handed[e.ID]++
					}
				}
			}
			o, err := New(cfg)
			require.NoError(t, err)
			require.NoError(t, o.Send(Entry{ID: "first", Reason: "r", Payload: []byte("x")}))
			waitFor(t, "the file backend failing the first entry", func() bool { return o.Stats().Backends[0].Errors > 0 })
			ids := fillQueue(t, o, queued-1)
			ids["first"] = true
			// A retry round every backoff until the deadline: a few hundred
			// entries each, never the queue.
			_ = closeFullQueue(t, o, queued, fullQueue/100)
			if withOnLoss {
				// Read after Close returned: the drain, which calls OnLoss, is gone.
				require.Len(t, handed, len(ids), "OnLoss got every accepted entry")
				for id, n := range handed {
					if !assert.True(t, ids[id], "OnLoss got %s, never accepted", id) || !assert.Equal(t, 1, n, "OnLoss got %s %d times", id, n) {
						break
					}
				}
			}
		})
	}
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
