package dlq

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatsByReason(t *testing.T) {
	t.Run("counts each reason", func(t *testing.T) {
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: t.TempDir()}})
		require.NoError(t, err)
		for i := range 30 {
			reason := []string{"parse_error", "parse_error", "timeout"}[i%3]
			require.NoError(t, o.Send(Entry{Reason: reason, Payload: []byte("x")}))
		}
		require.NoError(t, o.Send(Entry{Payload: []byte("no reason")}))
		flushOK(t, o)
		closeOK(t, o)
		assert.Equal(t, map[string]uint64{"parse_error": 20, "timeout": 10, "": 1}, o.Stats().ByReason)
	})
	t.Run("at most 100 distinct, then other", func(t *testing.T) {
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: t.TempDir()}})
		require.NoError(t, err)
		for i := range 150 {
			require.NoError(t, o.Send(Entry{Reason: fmt.Sprintf("r%03d", i), Payload: []byte("x")}))
		}
		require.NoError(t, o.Send(Entry{Reason: "r000", Payload: []byte("x")}), "a reason already counted")
		require.NoError(t, o.Send(Entry{Reason: "r149", Payload: []byte("x")}), "a reason past the cap")
		flushOK(t, o)
		closeOK(t, o)
		got := o.Stats().ByReason
		assert.Len(t, got, maxReasons+1)
		assert.Equal(t, uint64(2), got["r000"])
		assert.Equal(t, uint64(1), got["r099"])
		assert.NotContains(t, got, "r100")
		assert.Equal(t, uint64(51), got[ReasonOther])
		var sum uint64
		for _, n := range got {
			sum += n
		}
		assert.Equal(t, o.Stats().Accepted, sum, "every accepted entry counted once")
	})
	t.Run("snapshots while the drain counts", func(t *testing.T) {
		var rc reasonCounts
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range 5000 {
				rc.add(fmt.Sprintf("r%d", i%120))
			}
		})
		for range 100 {
			_ = rc.snapshot()
		}
		wg.Wait()
		got := rc.snapshot()
		assert.Len(t, got, maxReasons+1)
		assert.Equal(t, uint64(41*20), got[ReasonOther], "r100 to r119 in each of 41 full rounds of 120")
		assert.Equal(t, uint64(42), got["r0"])
	})
}

// batchLog collects the events OnBatch sees.
type batchLog struct {
	mu     sync.Mutex
	events []BatchEvent
}

func (l *batchLog) add(ev BatchEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

func (l *batchLog) all() []BatchEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]BatchEvent(nil), l.events...)
}

func TestBackendOutageObserved(t *testing.T) {
	// A file backend on a full tmpfs: entries stay pending and age, the
	// backend cools down, OnBatch sees the failed writes; once the tmpfs is
	// enlarged all of it clears.
	disk := testenv.MountTmpfs(t, 64<<10)
	free := disk.Fill()
	defer free()
	var log batchLog
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, BatchSize: 8,
		Retry:   RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20},
		OnBatch: log.add, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)

	before := time.Now()
	for i := range 5 {
		require.NoError(t, o.Send(Entry{Reason: "parse_error", Payload: fmt.Appendf(nil, "e%d", i)}))
	}
	require.Eventually(t, func() bool { return o.Stats().Retried > 3 }, 10*time.Second, time.Millisecond)

	t.Run("while the disk is full", func(t *testing.T) {
		s := o.Stats()
		assert.Equal(t, 5, s.Pending)
		assert.True(t, s.Backends[0].CoolingDown)
		assert.Positive(t, s.OldestPendingAge)
		assert.LessOrEqual(t, s.OldestPendingAge, time.Since(before), "taken after the first Send")
		later := o.Stats()
		assert.GreaterOrEqual(t, later.OldestPendingAge, s.OldestPendingAge, "the oldest entry only ages")
		events := log.all()
		require.NotEmpty(t, events)
		ev := events[0]
		assert.Equal(t, KindFile, ev.Kind)
		assert.Equal(t, 5, ev.Entries)
		assert.Equal(t, 5, ev.Failed)
		assert.ErrorContains(t, ev.Err, "no space left on device")
		assert.GreaterOrEqual(t, ev.Duration, time.Duration(0))
	})

	disk.Resize(1 << 20)
	flushOK(t, o)

	t.Run("after the disk has room", func(t *testing.T) {
		s := o.Stats()
		assert.Zero(t, s.Pending)
		assert.Zero(t, s.OldestPendingAge)
		assert.False(t, s.Backends[0].CoolingDown)
		assert.Equal(t, map[string]uint64{"parse_error": 5}, s.ByReason)
		events := log.all()
		last := events[len(events)-1]
		assert.Equal(t, BatchEvent{Kind: KindFile, Entries: 5, Duration: last.Duration}, last)
		var batches, failed int
		for _, ev := range events {
			batches++
			failed += ev.Failed
		}
		assert.Equal(t, int(s.Backends[0].Batches), batches, "one event per write call")
		assert.Equal(t, int(s.Backends[0].Errors), failed, "the failures match the backend's errors")
	})
	closeOK(t, o)
}

func TestOldestPendingAgeOfAWaitingBatch(t *testing.T) {
	// A batch that waits for its flush interval is pending, and aged.
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: t.TempDir()}, FlushIntervalMS: 60_000})
	require.NoError(t, err)
	require.NoError(t, o.Send(Entry{Reason: "r", Payload: []byte("x")}))
	require.Eventually(t, func() bool { return o.Stats().OldestPendingAge > 0 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, 1, o.Stats().Pending)
	flushOK(t, o)
	assert.Zero(t, o.Stats().OldestPendingAge)
	closeOK(t, o)
}

func TestNoteOldestPicksTheOldestUnheldEntry(t *testing.T) {
	t0 := time.Unix(1764200000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, test := range []struct {
		name    string
		retry   []*record
		pending []record
		want    time.Time
	}{
		{name: "nothing held back"},
		{name: "a batch waiting", pending: []record{{since: at(5)}, {since: at(5)}}, want: at(5)},
		{name: "a retry before the batch",
			retry:   []*record{{since: at(1)}, {since: at(2)}},
			pending: []record{{since: at(5)}}, want: at(1)},
		{name: "held retries are written, not pending",
			retry:   []*record{{since: at(1), held: true}, {since: at(2)}},
			pending: []record{{since: at(5)}}, want: at(2)},
		{name: "only held retries",
			retry:   []*record{{since: at(1), held: true}},
			pending: []record{{since: at(5)}}, want: at(5)},
		{name: "only held retries, no batch", retry: []*record{{since: at(1), held: true}}},
	} {
		t.Run(test.name, func(t *testing.T) {
			d := &drain{o: newOrchestrator(Config{Service: "svc"}, nil), retry: test.retry, pending: test.pending}
			d.publishOldest(at(-100)) // a stale value that must be replaced
			d.noteOldest()
			want := int64(0)
			if !test.want.IsZero() {
				want = test.want.UnixNano()
			}
			assert.Equal(t, want, d.o.drained.oldestPending.Load())
		})
	}
}
