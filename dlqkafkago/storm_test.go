package dlqkafkago_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkafkago"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// loop is a consumer's main loop as a user writes it, run in a goroutine,
// with what a test checks kept by offset (one partition).
type loop struct {
	c           *dlqkafkago.Consumer
	handle      func(kafka.Message) error
	commitEvery int

	mu        sync.Mutex
	processed []int64 // Done, in order
	dead      []int64 // dead letters the DLQ accepted, in order
	refused   []int64 // DeadLetter's ErrStorm, in order
	fetched   int
	err       error // how the loop ended
	ended     chan struct{}
}

func startLoop(ctx context.Context, c *dlqkafkago.Consumer, commitEvery int, handle func(kafka.Message) error) *loop {
	l := &loop{c: c, handle: handle, commitEvery: commitEvery, ended: make(chan struct{})}
	go func() {
		defer close(l.ended)
		err := l.run(ctx)
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
	}()
	return l
}

func (l *loop) run(ctx context.Context) error {
	for n := 1; ; n++ {
		msg, err := l.c.Fetch(ctx)
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.fetched++
		l.mu.Unlock()
		if herr := l.handle(msg); herr != nil {
			err := l.c.DeadLetter(ctx, msg, herr)
			l.mu.Lock()
			switch {
			case err == nil:
				l.dead = append(l.dead, msg.Offset)
			case errors.Is(err, dlq.ErrStorm):
				l.refused = append(l.refused, msg.Offset)
			}
			l.mu.Unlock()
			if err != nil && !errors.Is(err, dlq.ErrStorm) {
				return err
			}
		} else {
			l.c.Done(msg)
			l.mu.Lock()
			l.processed = append(l.processed, msg.Offset)
			l.mu.Unlock()
		}
		if n%l.commitEvery == 0 {
			if err := l.c.Commit(ctx); err != nil {
				return err
			}
		}
	}
}

// requireRunning fails the test if the loop has ended.
func (l *loop) requireRunning(t testing.TB) {
	t.Helper()
	select {
	case <-l.ended:
		processed, dead, refused, fetched := l.snapshot()
		t.Fatalf("the loop ended: %v (%d fetched, %d processed, %d dead letters, %d refused)", l.err, fetched, len(processed), len(dead), len(refused))
	default:
	}
}

// snapshot returns copies of what the loop saw so far.
func (l *loop) snapshot() (processed, dead, refused []int64, fetched int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.processed...), append([]int64(nil), l.dead...), append([]int64(nil), l.refused...), l.fetched
}

// waitFor polls cond until it holds, failing the test with what when ctx
// ends first.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting: %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// badDeployRecords and badDeployFrom: the topic and where the bad deploy
// starts failing every message.
const (
	badDeployRecords = 50_000
	badDeployFrom    = 10_000
)

// TestStormBadDeploy is the bad deploy: from record 10,000 on the handler
// fails everything. The brake trips within a window's worth of dead
// letters; from the first dead letter it refuses, Fetch hands out nothing
// and nothing is committed past it; after a restart with a fixed handler
// every record from 10,000 on is in the DLQ or processed from the topic.
func TestStormBadDeploy(t *testing.T) {
	b := kafkatest.StartInProcess(t)
	produce(t, b, "events", 1, badDeployRecords, numbered)
	var brokerFetches atomic.Int64
	b.Observe(kmsg.Fetch.Int16(), func(kmsg.Request) { brokerFetches.Add(1) })
	dir := t.TempDir()
	storm := dlq.StormConfig{MaxRatio: 0.5, MinEvents: 100, CoolDownMS: 600_000}
	var trips []dlq.StormEvent
	var tripsMu sync.Mutex
	cfg := dlq.Config{Storm: storm, OnStorm: func(ev dlq.StormEvent) {
		tripsMu.Lock()
		defer tripsMu.Unlock()
		trips = append(trips, ev)
	}}
	ctx := deadline(t, 5*time.Minute)

	// The bad deploy.
	o := newDLQ(t, dir, cfg)
	r := newReader(t, b, "events", "g")
	c, err := dlqkafkago.New(r, o, dlqkafkago.Options{})
	require.NoError(t, err)
	bad := func(m kafka.Message) error {
		if m.Offset >= badDeployFrom {
			return fmt.Errorf("schema v7 at offset %d: unknown field \"tier\"", m.Offset)
		}
		return nil
	}
	badCtx, stopBad := context.WithCancel(ctx)
	l := startLoop(badCtx, c, 500, bad)
	waitFor(ctx, t, "the brake tripped and Fetch waiting", func() bool {
		l.requireRunning(t)
		if _, _, _, fetched := l.snapshot(); fetched == badDeployRecords {
			t.Fatalf("the loop read the whole topic: the brake did not stop it (%+v)", c.Stats())
		}
		return c.Stats().StormWaits > 0
	})
	_, dead, refused, fetched := l.snapshot()
	waits, fetches := c.Stats().StormWaits, brokerFetches.Load()
	waitFor(ctx, t, "Fetch backing off", func() bool { return c.Stats().StormWaits >= waits+5 })
	_, deadLater, refusedLater, fetchedLater := l.snapshot()
	fetchesLater, waitsLater := brokerFetches.Load(), c.Stats().StormWaits
	stopBad()
	<-l.ended
	require.ErrorIs(t, l.err, context.Canceled)
	// SIGTERM: a last Commit, then Close.
	require.NoError(t, c.Commit(ctx))
	require.NoError(t, r.Close())
	require.NoError(t, o.Close(ctx))
	atStop := committed(t, b, "g", "events", 1)[0]

	require.True(t, o.Storm(), "the brake is still tripped")
	tripsMu.Lock()
	require.NotEmpty(t, trips, "OnStorm told of the trip")
	trip := trips[0]
	tripsMu.Unlock()
	assert.True(t, trip.Tripped)
	assert.Equal(t, []dlq.StormCount{{Key: dlqkafkago.DefaultReason, Count: trip.TopReasons[0].Count}}, trip.TopReasons)
	// The first failure the DLQ does not hold: the brake tripped before
	// the loop offered it, or it refused it (then it is held).
	firstNotDead := int64(badDeployFrom + len(dead))
	assert.Greater(t, trip.Ratio, storm.MaxRatio)
	assert.LessOrEqual(t, uint64(len(dead)), trip.DeadLetters+trip.Ok, "no more than a window's worth of dead letters before the trip")
	assert.Less(t, len(dead), badDeployRecords-badDeployFrom, "the DLQ did not take the rest of the topic")
	assert.Equal(t, dead, deadLater, "no dead letter while the brake was tripped")
	assert.Equal(t, fetched, fetchedLater, "Fetch handed out nothing while the brake was tripped")
	assert.Equal(t, int(firstNotDead)+len(refused), fetched, "fetched: the records before the first failure not dead-lettered, and it if it was refused")
	assert.Equal(t, refused, refusedLater)
	if len(refused) > 0 {
		assert.Equal(t, []int64{firstNotDead}, refused, "the one refused dead letter is the first failure not dead-lettered")
	}
	assert.Equal(t, len(refused), c.Stats().Held, "a refused dead letter is held")
	assert.Equal(t, uint64(len(refused)), o.Stats().DroppedBy[dlq.ReasonStorm])
	assert.Equal(t, firstNotDead, atStop, "committed up to the first failure not dead-lettered, not past it")

	// The fix, and a restart.
	start := time.Now()
	o = newDLQ(t, dir, cfg)
	r = newReader(t, b, "events", "g")
	c, err = dlqkafkago.New(r, o, dlqkafkago.Options{})
	require.NoError(t, err)
	var firstAt time.Time
	l = startLoop(ctx, c, 500, func(m kafka.Message) error {
		if firstAt.IsZero() {
			firstAt = time.Now()
		}
		return nil
	})
	waitFor(ctx, t, "the fixed consumer reaching the end of the topic", func() bool {
		processed, _, _, _ := l.snapshot()
		return len(processed) > 0 && processed[len(processed)-1] == badDeployRecords-1
	})
	caughtUp := time.Since(start)
	require.NoError(t, c.Commit(ctx))
	fixed, fixedDead, _, _ := l.snapshot()
	require.Empty(t, fixedDead)
	assert.Equal(t, []int64{badDeployRecords}, committed(t, b, "g", "events", 1))

	// Count by offset: every record from 10,000 on is in the DLQ or was
	// processed from the topic after the restart, starting exactly where
	// the bad deploy's commit stopped.
	inDLQ, dups := readDLQ(t, dir)
	assert.Zero(t, dups)
	require.Equal(t, atStop, fixed[0], "the restart reads on from the commit")
	after := map[int64]bool{}
	for _, off := range fixed {
		after[off] = true
	}
	missing := 0
	for off := int64(badDeployFrom); off < badDeployRecords; off++ {
		if _, ok := inDLQ[off]; !ok && !after[off] {
			missing++
		}
	}
	assert.Zero(t, missing, "records from %d on neither in the DLQ nor processed after the restart", badDeployFrom)
	assert.Len(t, inDLQ, len(dead), "the DLQ holds the dead letters accepted, no more")
	t.Logf("bad deploy: %d dead letters before the trip (window at trip: %d dead letters, %d ok, ratio %.3f); "+
		"%d fetched while tripped, %d committed past the first failure not dead-lettered (offset %d, refused: %v); "+
		"broker fetch requests during %d storm waits: %d; restart: first record processed %s after start, "+
		"%d records read after the restart, to the end, in %s",
		len(dead), trip.DeadLetters, trip.Ok, trip.Ratio, fetchedLater-fetched, max(0, atStop-firstNotDead), firstNotDead, len(refused) > 0,
		waitsLater-waits, fetchesLater-fetches, firstAt.Sub(start).Round(time.Millisecond), len(fixed), caughtUp.Round(time.Millisecond))
}

// TestStormHeldDeadLetterIsOfferedAgainWhenTheBrakeClears: messages
// fetched before the brake tripped and dead-lettered after are refused;
// the Consumer holds them and Fetch offers them again, one clear of the
// brake at a time (each trips it again), before it fetches anything: so
// no message needs reading again, and the commit never passes a held one.
func TestStormHeldDeadLetterIsOfferedAgainWhenTheBrakeClears(t *testing.T) {
	const records = 6
	b := kafkatest.StartInProcess(t)
	produce(t, b, "events", 1, records+1, numbered)
	dir := t.TempDir()
	var clears atomic.Int64
	o := newDLQ(t, dir, dlq.Config{Storm: dlq.StormConfig{MaxConsecutive: 3, CoolDownMS: 50},
		OnStorm: func(ev dlq.StormEvent) {
			if !ev.Tripped {
				clears.Add(1)
			}
		}})
	r := newReader(t, b, "events", "g")
	c, err := dlqkafkago.New(r, o, dlqkafkago.Options{Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	require.NoError(t, err)
	ctx := deadline(t, 2*time.Minute)

	// A batch fetched while all is well, then every message fails: the
	// third dead letter trips the brake, the next three are refused.
	var msgs []kafka.Message
	for range records {
		m, err := c.Fetch(ctx)
		require.NoError(t, err)
		msgs = append(msgs, m)
	}
	for i, m := range msgs {
		err := c.DeadLetter(ctx, m, errors.New("bad record"))
		if i < 3 {
			require.NoError(t, err, "dead letter %d", i)
		} else {
			require.ErrorIs(t, err, dlq.ErrStorm, "dead letter %d", i)
			require.ErrorIs(t, err, dlqkafkago.ErrNotDone, "dead letter %d", i)
		}
	}
	require.True(t, o.Storm())
	require.Equal(t, 3, c.Stats().Held)
	require.NoError(t, c.Commit(ctx))
	assert.Equal(t, []int64{3}, committed(t, b, "g", "events", 1), "the commit stops at the first held dead letter")

	// Fetch offers the held ones again, each after a clear, then fetches.
	m, err := c.Fetch(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(records), m.Offset, "the next message, none read again")
	assert.GreaterOrEqual(t, clears.Load(), int64(3), "each held dead letter went in after a clear")
	s := c.Stats()
	assert.Zero(t, s.Held)
	assert.Equal(t, uint64(records), s.DeadLetters)
	assert.Equal(t, uint64(3), s.Refused)
	assert.Equal(t, uint64(3), o.Stats().DroppedBy[dlq.ReasonStorm])
	assert.False(t, o.Storm(), "Fetch fetched once the brake was off")
	c.Done(m)
	require.NoError(t, c.Commit(ctx))
	assert.Equal(t, []int64{records + 1}, committed(t, b, "g", "events", 1))
	inDLQ, dups := readDLQ(t, dir)
	assert.Len(t, inDLQ, records)
	assert.Zero(t, dups)
}
