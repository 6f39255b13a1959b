package dlq

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZeroConfigWritesToDefaultPath(t *testing.T) {
	t.Chdir(t.TempDir())
	o, err := New(Config{Service: "loader"})
	require.NoError(t, err)
	require.NoError(t, o.Send(Entry{Reason: "parse_error", Payload: []byte("x")}))
	flushOK(t, o)
	closeOK(t, o)

	got := readDir(t, filepath.Join("dlq", "loader"))
	require.Len(t, got, 1)
	for id, e := range got {
		assert.Len(t, id, 36, "a UUID text")
		assert.Equal(t, "loader", e.Service, "Service filled from the config")
		assert.WithinDuration(t, time.Now(), e.Timestamp, time.Minute, "Timestamp filled from the clock")
	}
}

func TestSendFlushCloseWritesEveryEntry(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}, BatchSize: 10})
	require.NoError(t, err)
	for i := range 1000 {
		require.NoError(t, o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "%d", i)}))
	}
	flushOK(t, o)
	s := o.Stats()
	assert.Equal(t, uint64(1000), s.Accepted)
	assert.Equal(t, uint64(1000), s.Written, "Flush returned: everything is written")
	assert.Equal(t, 0, s.Pending)
	closeOK(t, o)
	got := byPayload(readDir(t, filepath.Join(dir, "svc")))
	require.Len(t, got, 1000)
	assert.Equal(t, 1000, countLines(t, filepath.Join(dir, "svc")), "no entry written twice")
	requireAccounted(t, o.Stats())
}

func TestSendNeverBlocksWhenQueueIsFull(t *testing.T) {
	dir := t.TempDir()
	o := newOrchestrator(Config{Service: "svc", File: FileConfig{Dir: dir}, QueueCapacity: 4}, nil)
	// No drain runs: the queue fills and stays full.
	for i := range 4 {
		require.NoError(t, o.Send(Entry{Reason: "r", Payload: []byte{byte(i)}}))
	}
	err := o.Send(Entry{Reason: "r"})
	require.ErrorIs(t, err, ErrQueueFull)
	s := o.Stats()
	assert.Equal(t, uint64(4), s.Accepted)
	assert.Equal(t, uint64(1), s.Dropped)
	assert.Equal(t, map[string]uint64{ReasonQueueFull: 1}, s.DroppedBy)
	assert.Equal(t, 4, s.QueueDepth)
	assert.Equal(t, 4, s.QueueCapacity)
}

func TestSendContextWaitsForRoom(t *testing.T) {
	o := newOrchestrator(Config{Service: "svc", QueueCapacity: 1}, nil)
	require.NoError(t, o.Send(Entry{Reason: "first"}))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, o.SendContext(ctx, Entry{Reason: "times out"}), context.DeadlineExceeded)

	result := make(chan error)
	go func() { result <- o.SendContext(context.Background(), Entry{Reason: "second"}) }()
	e := <-o.queue // room appears
	assert.Equal(t, "first", e.Reason)
	require.NoError(t, <-result)
	assert.Equal(t, "second", (<-o.queue).Reason)
	s := o.Stats()
	assert.Equal(t, uint64(2), s.Accepted)
	assert.Equal(t, map[string]uint64{ReasonCanceled: 1}, s.DroppedBy)
}

func TestSendAfterCloseReturnsErrClosed(t *testing.T) {
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: t.TempDir()}})
	require.NoError(t, err)
	closeOK(t, o)
	require.ErrorIs(t, o.Send(Entry{Reason: "late"}), ErrClosed)
	require.ErrorIs(t, o.SendContext(context.Background(), Entry{Reason: "late"}), ErrClosed)
	require.ErrorIs(t, o.Flush(context.Background()), ErrClosed)
	require.NoError(t, o.Close(context.Background()), "Close is idempotent")
	assert.Equal(t, map[string]uint64{ReasonClosed: 2}, o.Stats().DroppedBy)
}

// TestSendRacingCloseLosesNothing: many senders race Close; every entry
// whose Send returned nil is in the file or counted lost.
func TestSendRacingCloseLosesNothing(t *testing.T) {
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			dir := t.TempDir()
			o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}, QueueCapacity: 64, BatchSize: 16})
			require.NoError(t, err)
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				accepted = map[string]bool{}
				refused  atomic.Int64
				start    = make(chan struct{})
			)
			for g := range 16 {
				wg.Go(func() {
					<-start
					for i := 0; ; i++ {
						payload := fmt.Sprintf("g%d-%d", g, i)
						var err error
						if i%2 == 0 {
							err = o.Send(Entry{Reason: "r", Payload: []byte(payload)})
						} else {
							ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
							err = o.SendContext(ctx, Entry{Reason: "r", Payload: []byte(payload)})
							cancel()
						}
						switch {
						case err == nil:
							mu.Lock()
							accepted[payload] = true
							mu.Unlock()
						case errors.Is(err, ErrClosed):
							return
						default:
							refused.Add(1)
						}
					}
				})
			}
			close(start)
			time.Sleep(time.Duration(round+1) * 5 * time.Millisecond)
			closeErr := make(chan error, 2)
			for range 2 { // two Closes at once
				go func() { closeErr <- o.Close(context.Background()) }()
			}
			require.NoError(t, <-closeErr)
			require.NoError(t, <-closeErr)
			wg.Wait()

			got := byPayload(readDir(t, filepath.Join(dir, "svc")))
			s := o.Stats()
			for payload := range accepted {
				_, ok := got[payload]
				require.True(t, ok || s.Lost > 0, "accepted entry %s neither written nor counted lost", payload)
			}
			assert.Equal(t, uint64(len(accepted)), s.Accepted)
			assert.Equal(t, uint64(len(got)), s.Written)
			assert.Zero(t, s.Lost)
			requireAccounted(t, s)
			t.Logf("accepted %d, refused %d, dropped by %v", len(accepted), refused.Load(), s.DroppedBy)
		})
	}
}

func TestDisabledAcceptsAndDiscards(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", Disabled: true, File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	require.NoError(t, o.Send(Entry{Reason: "r"}))
	flushOK(t, o)
	closeOK(t, o)
	s := o.Stats()
	assert.Zero(t, s.Accepted)
	assert.Equal(t, map[string]uint64{ReasonDisabled: 1}, s.DroppedBy)
	_, err = os.Stat(filepath.Join(dir, "svc", filelog.LiveName))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestFlushIntervalWritesPartialBatch(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}, BatchSize: 1000, FlushIntervalMS: 5})
	require.NoError(t, err)
	defer closeOK(t, o)
	require.NoError(t, o.Send(Entry{Reason: "r", Payload: []byte("lonely")}))
	require.Eventually(t, func() bool { return o.Stats().Written == 1 }, 10*time.Second, time.Millisecond,
		"a batch of one is written once the interval passes, without Flush")
}

func TestFlushHonoursContext(t *testing.T) {
	o := newOrchestrator(Config{Service: "svc"}, nil) // no drain: Flush cannot be served
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, o.Flush(ctx), context.DeadlineExceeded)
}

// stalledDrain is an Orchestrator whose drain holds one entry in a write
// (its OnBatch hook waits) while the queue is full: SendContext then finds
// no room (batch size 1) or room but a full queue (batch size 2).
func stalledDrain(t *testing.T, batchSize int, onLoss func(Entry, LossReason, error)) (o *Orchestrator, release func()) {
	stalled, released := make(chan struct{}), make(chan struct{})
	var once sync.Once
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: t.TempDir()}, QueueCapacity: 2, BatchSize: batchSize,
		FlushIntervalMS: 1, OnLoss: onLoss, OnBatch: func(BatchEvent) {
			once.Do(func() {
				close(stalled)
				<-released
			})
		}})
	require.NoError(t, err)
	require.NoError(t, o.Send(Entry{Reason: "r", ID: "held"}))
	<-stalled
	require.NoError(t, o.Send(Entry{Reason: "r", ID: "q1"}))
	require.NoError(t, o.Send(Entry{Reason: "r", ID: "q2"}))
	return o, sync.OnceFunc(func() { close(released) })
}

// TestSendContextAccounting: a SendContext refused because its ctx ended
// is counted once, as dropped "canceled"; one refused because Close began
// is counted once, as "closed"; neither is accepted. Both where it waits
// for room and where it has room but waits for the queue.
func TestSendContextAccounting(t *testing.T) {
	for _, test := range []struct {
		name      string
		batchSize int
	}{
		{"no room", 1},
		{"room, queue full", 2},
	} {
		t.Run(test.name+", ctx ends", func(t *testing.T) {
			o, release := stalledDrain(t, test.batchSize, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			require.ErrorIs(t, o.SendContext(ctx, Entry{Reason: "r", ID: "late"}), context.DeadlineExceeded)
			s := o.Stats()
			assert.Equal(t, map[string]uint64{ReasonCanceled: 1}, s.DroppedBy)
			assert.Equal(t, uint64(1), s.Dropped)
			assert.Equal(t, uint64(3), s.Accepted)
			release()
			closeOK(t, o)
			s = o.Stats()
			assert.Equal(t, map[string]uint64{ReasonCanceled: 1}, s.DroppedBy)
			assert.Equal(t, uint64(3), s.Written)
			requireAccounted(t, s)
		})
		t.Run(test.name+", Close begins", func(t *testing.T) {
			o, release := stalledDrain(t, test.batchSize, nil)
			defer release()
			result := make(chan error, 1)
			go func() { result <- o.SendContext(context.Background(), Entry{Reason: "r", ID: "late"}) }()
			waitFor(t, "SendContext waiting", func() bool {
				return o.admission.state.Load() == 4 && (o.roomFreed.n.Load() > 0 || o.admission.room.Load() == 0)
			})
			closed := make(chan error, 1)
			go func() { closed <- o.Close(context.Background()) }()
			require.ErrorIs(t, <-result, ErrClosed)
			release()
			require.NoError(t, <-closed)
			s := o.Stats()
			assert.Equal(t, map[string]uint64{ReasonClosed: 1}, s.DroppedBy)
			assert.Equal(t, uint64(3), s.Accepted)
			assert.Equal(t, uint64(3), s.Written)
			requireAccounted(t, s)
		})
	}
}

// TestCloseTwice: a second Close returns the first one's result and
// changes no count, whatever its ctx, even when the first gave up a queue
// (left in the channel, counted lost at once, or handed to OnLoss).
func TestCloseTwice(t *testing.T) {
	for _, withOnLoss := range []bool{false, true} {
		t.Run(fmt.Sprintf("OnLoss %v", withOnLoss), func(t *testing.T) {
			var handed atomic.Int64
			var onLoss func(Entry, LossReason, error)
			if withOnLoss {
				onLoss = func(Entry, LossReason, error) { handed.Add(1) }
			}
			o, release := stalledDrain(t, 1, onLoss)
			defer release()
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // the drain is stalled: Close gives up the whole queue
			closed := make(chan error, 1)
			go func() { closed <- o.Close(ctx) }()
			waitFor(t, "Close begun", func() bool { return o.admission.state.Load()&closedBit != 0 })
			release()
			first := <-closed
			require.Error(t, first)
			s := o.Stats()
			// The two queued entries are given up; the released drain may
			// take the first off the queue and write it before it reads
			// Close's ctx (nothing here can wait for that): then one.
			lost := s.LostBy[ReasonShutdown]
			assert.True(t, lost == 2 || lost == 1 && s.Written == 2, "the queued entries given up: %+v", s)
			assert.Equal(t, map[LossReason]uint64{ReasonShutdown: lost}, s.LostBy)
			assert.Zero(t, s.QueueDepth)
			requireAccounted(t, s)
			for _, ctx := range []context.Context{context.Background(), ctx} {
				assert.Equal(t, first, o.Close(ctx), "a second Close returns the first's result")
				assert.Equal(t, s, o.Stats(), "a second Close changes no count")
			}
			if withOnLoss {
				assert.Equal(t, int64(lost), handed.Load())
			}
		})
	}
}

// requireUUIDv7 checks that id is the text of a UUIDv7 (RFC 9562) whose
// time lies within [from, to].
func requireUUIDv7(t *testing.T, id string, from, to time.Time) {
	t.Helper()
	require.Len(t, id, 36, "id %q", id)
	for _, i := range []int{8, 13, 18, 23} {
		require.Equal(t, byte('-'), id[i], "id %q: hyphen at %d", id, i)
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	require.NoError(t, err, "id %q is hex", id)
	require.Equal(t, strings.ToLower(id), id, "id %q is lower case", id)
	assert.Equal(t, byte(0x70), raw[6]&0xf0, "id %q: version 7", id)
	assert.Equal(t, byte(0x80), raw[8]&0xc0, "id %q: variant 10", id)
	ms, err := strconv.ParseInt(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, ms, from.UnixMilli(), "id %q: time not before the Send", id)
	assert.LessOrEqual(t, ms, to.UnixMilli(), "id %q: time not after the Flush", id)
}

func TestIDsAreUUIDv7WithTheEntryTime(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	from := time.Now()
	ps := payloads(200, "id")
	sendAll(t, o, ps)
	flushOK(t, o)
	to := time.Now()
	closeOK(t, o)
	got := readDir(t, filepath.Join(dir, "svc"))
	require.Len(t, got, len(ps), "every entry has an id of its own")
	for id := range got {
		requireUUIDv7(t, id, from, to)
	}
	t.Run("an id the caller set is kept", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.NoError(t, err)
		require.NoError(t, o.Send(Entry{ID: "caller-chosen", Reason: "r"}))
		closeOK(t, o)
		assert.Contains(t, readDir(t, filepath.Join(dir, "svc")), "caller-chosen")
	})
}

// TestMemoryBoundUnderFlushLoopDuringOutage runs the "flush before commit"
// pattern through a total outage: senders keep sending, Flush is called in
// a loop with a short deadline. The entries held in memory never pass
// QueueCapacity + BatchSize; the rest is refused as ErrQueueFull.
func TestMemoryBoundUnderFlushLoopDuringOutage(t *testing.T) {
	const queueCapacity, batchSize = 100, 10
	for _, test := range []struct {
		name string
		mode Mode
	}{
		{"cascade", ModeCascade},
		{"fan_out", ModeFanOut},
	} {
		t.Run(test.name, func(t *testing.T) {
			down := testenv.MountTmpfs(t, 64<<10)
			defer down.Fill()()
			dirs := []string{down.Dir}
			if test.mode == ModeFanOut { // a primary that works, a mirror that is down: the catch-up list grows
				dirs = []string{t.TempDir(), down.Dir}
			}
			o := startWithFileBackends(t, Config{Service: "svc", Mode: test.mode,
				QueueCapacity: queueCapacity, BatchSize: batchSize, FlushIntervalMS: 1,
				Retry:  RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 4},
				Logger: slog.New(slog.DiscardHandler)}, dirs...)
			limit := queueCapacity + batchSize

			var senders sync.WaitGroup
			for g := range 4 {
				senders.Go(func() {
					for i := range 3000 {
						err := o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "g%d-%d", g, i)})
						if err != nil {
							require.ErrorIs(t, err, ErrQueueFull)
						}
					}
				})
			}
			sendersDone := make(chan struct{})
			go func() { senders.Wait(); close(sendersDone) }()
			flushes, maxHeld := 0, 0
			for done := false; !done; {
				select {
				case <-sendersDone:
					done = true
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
				_ = o.Flush(ctx)
				cancel()
				flushes++
				maxHeld = max(maxHeld, o.Stats().Held)
			}
			s := o.Stats()
			t.Logf("%d flushes; peak held %d (drain's view), %d (sampled); accepted %d, refused %d",
				flushes, o.peakHeld.Load(), maxHeld, s.Accepted, s.Dropped)
			assert.LessOrEqual(t, o.peakHeld.Load(), int64(limit), "held entries, as the drain saw them")
			assert.LessOrEqual(t, maxHeld, limit, "Stats.Held")
			assert.NotZero(t, s.DroppedBy[ReasonQueueFull], "the outage became backpressure")

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			_ = o.Close(ctx)
			s = o.Stats()
			requireAccounted(t, s)
			assert.Zero(t, s.Held, "nothing held after Close")
		})
	}
}

func TestSendAllocatesNothing(t *testing.T) {
	if testenv.RaceEnabled {
		t.Skip("the race detector allocates")
	}
	o, stop := sendHarness(t)
	defer stop()
	e := benchEntry
	allocs := testing.AllocsPerRun(10000, func() {
		if err := o.Send(e); err != nil && err != ErrQueueFull {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
	buf := make([]byte, 0, 4096)
	allocs = testing.AllocsPerRun(1000, func() { buf = AppendEnvelope(buf[:0], &e) })
	require.Zero(t, allocs, "encoding into a reused buffer")
}
