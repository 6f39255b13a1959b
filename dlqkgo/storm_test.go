package dlqkgo_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requests counts the Fetch requests for topic and the Heartbeat requests
// a broker answers.
type requests struct {
	fetches, heartbeats atomic.Int64
}

func countRequests(b interface {
	Observe(int16, func(kmsg.Request))
}) *requests {
	r := &requests{}
	b.Observe(kmsg.Fetch.Int16(), func(req kmsg.Request) {
		for _, t := range req.(*kmsg.FetchRequest).Topics {
			if t.Topic == topic || t.Topic == "" { // v13+ names topics by id
				r.fetches.Add(1)
				return
			}
		}
	})
	b.Observe(kmsg.Heartbeat.Int16(), func(kmsg.Request) { r.heartbeats.Add(1) })
	return r
}

// waitFor waits until cond is true, or fails the test with msg when ctx
// ends first.
func waitFor(ctx context.Context, t *testing.T, msg string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", msg, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// background runs l until stop returns true or the returned end is called;
// end stops it and returns what run returned. The test's end ends it too,
// before the client closes: a Poll after CloseAllowingRebalance allowed
// the rebalance would block the client's leave.
func background(t *testing.T, ctx context.Context, l *loop) (done <-chan struct{}, end func() error) {
	ctx, cancel := context.WithCancel(ctx)
	var err error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		err = l.run(ctx, func(error) bool { return false })
	}()
	end = func() error {
		cancel()
		<-finished
		return err
	}
	t.Cleanup(func() { _ = end() })
	return finished, end
}

// paused reports whether cl has topic paused.
func paused(cl *kgo.Client) bool { return slices.Contains(cl.PauseFetchTopics(), topic) }

// TestStormBadDeploy: a topic of 50,000 records, and a consumer whose
// handler fails every record from the 10,000th on (a bad deploy), with the
// storm brake at max_ratio 0.5 and min_events 100.
//
//   - The brake trips, and the DLQ holds no more than the window's worth
//     of dead letters the brake tripped on, far fewer than the 40,000
//     failing records.
//   - While it is tripped the consumer fetches nothing: no Fetch request
//     for the topic reaches the broker and Poll hands out no record while
//     ten heartbeats go by.
//   - It commits nothing past the first failure it could not dead-letter,
//     in each partition.
//   - After a restart with the handler fixed, every record from the
//     10,000th on is in the DLQ or processed from the source, counted by
//     offset: none lost, none skipped, none processed twice.
func TestStormBadDeploy(t *testing.T) {
	const partitions, n, from = 3, 50000, 10000
	b := startBroker(t, partitions)
	produce(t, b.Addr, partitions, 0, n)
	reqs := countRequests(b)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	// The bad deploy.
	var trip sync.Once
	var event dlq.StormEvent
	tripped := make(chan struct{})
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: dir},
		Storm: dlq.StormConfig{MaxRatio: 0.5, MinEvents: 100},
		OnStorm: func(ev dlq.StormEvent) {
			if ev.Tripped {
				trip.Do(func() { event = ev; close(tripped) })
			}
		}})
	cl := newClient(t, b.Addr, "g", kgo.HeartbeatInterval(100*time.Millisecond))
	// Processing costs some 10 µs a record (1 ms every 100): the brake
	// looks every 100 ms, and at kfake's pace without it the consumer could
	// read the whole topic between two looks.
	bad := func(rec *kgo.Record) error {
		i := seq(t, rec)
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
		if i >= from {
			return errParse
		}
		return nil
	}
	// Commits every ten Polls of 500 records: the loop spends its time
	// handling records, not in Commit's Flush, as a consumer whose
	// processing costs more than an fsync does.
	l := &loop{c: newConsumer(t, cl, o, dlqkgo.Options{MaxPollRecords: 500}), handle: bad, tally: newTally(), commitEvery: 10}
	loopDone, endLoop := background(t, ctx, l)
	select {
	case <-tripped:
	case <-loopDone:
		t.Fatalf("the loop ended before the brake tripped: %v", endLoop())
	case <-ctx.Done():
		t.Fatal("the brake did not trip")
	}
	soon, cancelSoon := context.WithTimeout(ctx, time.Minute)
	defer cancelSoon()
	waitFor(soon, t, "the consumer did not pause", func() bool { return paused(cl) })
	l.tally.mu.Lock()
	polledAtPause := l.tally.polled
	l.tally.mu.Unlock()
	fetchesAtPause, beats := reqs.fetches.Load(), reqs.heartbeats.Load()
	waitFor(soon, t, "no heartbeats", func() bool { return reqs.heartbeats.Load() >= beats+10 })
	fetchedPaused := reqs.fetches.Load() - fetchesAtPause
	assert.Zero(t, fetchedPaused, "Fetch requests for the topic while paused")
	l.tally.mu.Lock()
	assert.Equal(t, polledAtPause, l.tally.polled, "records handed out while paused")
	l.tally.mu.Unlock()
	require.True(t, o.Storm(), "the brake was tripped all along (cool-down 30 s)")
	require.True(t, paused(cl))

	// SIGTERM: the loop ends, a last Commit, the client and the DLQ close.
	require.ErrorIs(t, endLoop(), context.Canceled)
	require.NoError(t, l.c.Commit(ctx))
	cl.CloseAllowingRebalance()
	require.NoError(t, o.Close(ctx))

	// Each partition's first record not done: the first whose dead letter
	// the brake refused, or else the first the loop never handled.
	dead := deadLetters(t, dir)
	firstNotDone := map[int32]int64{}
	for p := range int32(partitions) {
		off := int64(0)
		for l.tally.processed[place{p, off}]+l.tally.deadLettered[place{p, off}] > 0 {
			off++
		}
		firstNotDone[p] = off
	}
	refused := 0
	for pl, k := range l.tally.notDone {
		refused += k
		firstNotDone[pl.partition] = min(firstNotDone[pl.partition], pl.offset)
	}
	got := committed(t, b.Addr, "g", partitions)
	past := int64(0)
	for p, f := range firstNotDone {
		past += max(0, got[p]-f)
		assert.LessOrEqual(t, got[p], f, "partition %d: committed past its first record not done", p)
	}
	for p := range int32(partitions) {
		for off := range got[p] {
			pl := place{p, off}
			assert.True(t, l.tally.processed[pl] == 1 || dead[pl] == 1, "%v committed: processed or in the DLQ, once", pl)
		}
	}
	assert.Less(t, len(dead), n-from, "the DLQ did not take the bad deploy's every record")
	assert.LessOrEqual(t, uint64(len(dead)), event.DeadLetters+event.Ok, "no more dead letters than the window's events")
	assert.Greater(t, event.Ratio, 0.5)

	// The fix, and a restart.
	start := time.Now()
	o2 := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: dir}, Storm: dlq.StormConfig{MaxRatio: 0.5, MinEvents: 100}})
	fixed := &loop{c: newConsumer(t, newClient(t, b.Addr, "g"), o2, dlqkgo.Options{MaxPollRecords: 1000}),
		handle: func(*kgo.Record) error { return nil }, tally: newTally(), pollTimeout: 300 * time.Millisecond}
	var firstAt time.Duration
	require.NoError(t, fixed.run(ctx, func(error) bool {
		fixed.tally.mu.Lock()
		defer fixed.tally.mu.Unlock()
		if firstAt == 0 && len(fixed.tally.processed) > 0 {
			firstAt = time.Since(start)
		}
		return len(fixed.tally.processed) == n-int(max(got[0], 0)+max(got[1], 0)+max(got[2], 0)) || fixed.tally.idle >= 10
	}))
	all := time.Since(start)
	assert.Equal(t, endOffsets(partitions, n), committed(t, b.Addr, "g", partitions))
	lost, twice := 0, 0
	for i := from; i < n; i++ {
		pl := place{int32(i % partitions), int64(i / partitions)}
		switch k := dead[pl] + fixed.tally.processed[pl]; {
		case k == 0:
			lost++
		case k > 1:
			twice++
		}
	}
	assert.Zero(t, lost, "records from the 10,000th on neither in the DLQ nor processed")
	assert.Zero(t, twice, "records both dead-lettered and processed, or processed twice")
	for pl := range fixed.tally.processed {
		assert.GreaterOrEqual(t, pl.offset, got[pl.partition], "%v: processed again though committed", pl)
	}
	t.Logf("dead letters before the trip: %d (the event's window: %d dead letters, %d ok, ratio %.3f); records committed past the first failure: %d; "+
		"%d dead letters refused; after the restart, first record processed in %v, all %d in %v; Fetch requests while paused: %d over %d heartbeats",
		len(dead), event.DeadLetters, event.Ok, event.Ratio, past, refused, firstAt.Round(time.Millisecond),
		len(fixed.tally.processed), all.Round(time.Millisecond), fetchedPaused, 10)
}

// TestStormPausesAndResumes: the brake trips on a bad deploy, which is
// rolled back at once; the consumer waits out the cool-down paused, then
// resumes on its own and reads the refused records again. Every record
// ends processed or dead-lettered once, none skipped, and the offsets are
// committed to the end: no restart.
func TestStormPausesAndResumes(t *testing.T) {
	const partitions, n, from = 1, 5000, 1000
	// The deploy is rolled back as soon as the handler sees the brake
	// tripped: the record it sees it on fails once more, and its dead
	// letter is refused, to be read again after the cool-down. The brake
	// trips on a run of 50 dead letters at the Send that makes it, so the
	// trip lands inside a batch and the next record sees it (the ratio,
	// looked at every 100 ms, could trip it between two batches, paused
	// before the next: then the first dead letter after the clear trips it
	// again, the run going on).
	b := startBroker(t, partitions)
	produce(t, b.Addr, partitions, 0, n)
	dir := t.TempDir()
	var broken atomic.Bool
	broken.Store(true)
	var trips, clears atomic.Int32
	var rolledBackAt atomic.Int64
	var cl *kgo.Client
	pausedWhileTripped := make(chan bool, 1)
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: dir},
		Storm: dlq.StormConfig{MaxRatio: 0.5, MinEvents: 100, MaxConsecutive: 50, CoolDownMS: 1000},
		OnStorm: func(ev dlq.StormEvent) {
			if ev.Tripped {
				trips.Add(1)
				return
			}
			clears.Add(1)
			select {
			case pausedWhileTripped <- paused(cl):
			default:
			}
		}})
	cl = newClient(t, b.Addr, "g")
	l := &loop{c: newConsumer(t, cl, o, dlqkgo.Options{MaxPollRecords: 100}), tally: newTally(),
		handle: func(rec *kgo.Record) error {
			i := seq(t, rec)
			if !broken.Load() || i < from {
				return nil
			}
			if o.Storm() {
				rolledBackAt.Store(int64(i))
				broken.Store(false) // the rollback
			}
			return errParse
		}}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	require.NoError(t, l.run(ctx, func(err error) bool { return err == nil && l.tally.reachedEnd(partitions, n) }))

	require.Positive(t, trips.Load())
	require.Positive(t, clears.Load())
	require.False(t, broken.Load(), "the handler never saw the brake tripped")
	require.Positive(t, l.tally.notDone[place{0, rolledBackAt.Load()}], "the dead letter of the record the rollback came on was refused")
	assert.True(t, <-pausedWhileTripped, "the consumer was paused when the brake cleared")
	assert.False(t, paused(cl), "and resumed after")
	assert.NotEmpty(t, l.tally.notDone, "the brake refused dead letters")
	assert.Equal(t, endOffsets(partitions, n), committed(t, b.Addr, "g", partitions))
	dead := deadLetters(t, dir)
	assert.Equal(t, l.tally.deadLettered, dead)
	for i := range n {
		pl := place{int32(i % partitions), int64(i / partitions)}
		assert.Equal(t, 1, l.tally.processed[pl]+dead[pl], "%v handled once", pl)
	}
	assert.Empty(t, l.tally.ahead)
	t.Logf("%d dead letters, %d refused and read again after the cool-down; %d trips", len(dead), len(l.tally.notDone), trips.Load())
}

// TestStormPausesAWaitingPoll: the consumer has read everything and waits
// in Poll when the brake trips (a run of dead letters sent elsewhere, with
// max_consecutive). Poll pauses at once: the records produced while the
// brake is tripped are not fetched, and come once it clears.
func TestStormPausesAWaitingPoll(t *testing.T) {
	const partitions, n = 1, 10
	b := startBroker(t, partitions)
	produce(t, b.Addr, partitions, 0, n)
	reqs := countRequests(b)
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: t.TempDir()},
		Storm: dlq.StormConfig{MaxConsecutive: 5, CoolDownMS: 3000}})
	cl := newClient(t, b.Addr, "g", kgo.HeartbeatInterval(100*time.Millisecond))
	l := &loop{c: newConsumer(t, cl, o, dlqkgo.Options{}), handle: func(*kgo.Record) error { return nil }, tally: newTally()}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, endLoop := background(t, ctx, l)
	waitFor(ctx, t, "the first records", func() bool { return l.tally.handled(partitions, n) })

	for range 5 {
		_ = o.Send(dlq.Entry{Reason: "elsewhere"})
	}
	require.True(t, o.Storm(), "the fifth dead letter in a row trips the brake")
	waitFor(ctx, t, "the waiting Poll did not pause", func() bool { return paused(cl) })
	fetches, beats := reqs.fetches.Load(), reqs.heartbeats.Load()
	produce(t, b.Addr, partitions, n, 2*n)
	waitFor(ctx, t, "no heartbeats", func() bool { return reqs.heartbeats.Load() >= beats+10 })
	require.True(t, o.Storm(), "still tripped: the cool-down is 3 s")
	assert.Equal(t, fetches, reqs.fetches.Load(), "Fetch requests while paused")
	l.tally.mu.Lock()
	assert.Equal(t, n, l.tally.polled, "records polled while paused")
	l.tally.mu.Unlock()

	waitFor(ctx, t, "the records after the clear", func() bool { return l.tally.handled(partitions, 2*n) })
	assert.False(t, paused(cl))
	require.ErrorIs(t, endLoop(), context.Canceled)
}
