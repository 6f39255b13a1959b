package dlqkgo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkgo"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestNewChecksTheClient: a client the Consumer cannot commit for safely
// is refused with ErrClientOptions, before any record is read.
func TestNewChecksTheClient(t *testing.T) {
	b := startBroker(t, 1)
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: t.TempDir()}})
	for _, test := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"not a group consumer", []kgo.Opt{kgo.ConsumeTopics(topic)}},
		{"autocommitting", []kgo.Opt{kgo.ConsumerGroup("g"), kgo.ConsumeTopics(topic)}},
		{"autocommitting marks", []kgo.Opt{kgo.ConsumerGroup("g"), kgo.ConsumeTopics(topic), kgo.AutoCommitMarks()}},
	} {
		t.Run(test.name, func(t *testing.T) {
			cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr)}, test.opts...)...)
			require.NoError(t, err)
			defer cl.Close()
			_, err = dlqkgo.New(cl, o, dlqkgo.Options{})
			require.ErrorIs(t, err, dlqkgo.ErrClientOptions)
		})
	}
	t.Run("no orchestrator", func(t *testing.T) {
		_, err := dlqkgo.New(newClient(t, b.Addr, "g"), nil, dlqkgo.Options{})
		require.ErrorIs(t, err, dlqkgo.ErrClientOptions)
	})
}

// failEvery fails the records whose number is k modulo m.
func failEvery(t testing.TB, m, k int) func(*kgo.Record) error {
	return func(rec *kgo.Record) error {
		if seq(t, rec)%m == k {
			return errParse
		}
		return nil
	}
}

// failing returns the places of the records of a topic of n records over
// partitions that fail.
func failing(t testing.TB, partitions, n int, handle func(*kgo.Record) error) map[place]int {
	out := map[place]int{}
	for i := range n {
		p := int32(i % partitions)
		if handle(&kgo.Record{Topic: topic, Partition: p, Value: []byte(itoa(i))}) != nil {
			out[place{p, int64(i / partitions)}] = 1
		}
	}
	return out
}

// TestConsumerCommitsEveryRecordOnceItsDeadLetterIsDurable: the loop of the
// package doc over a topic of three partitions ends with every record's
// offset committed, each failed record in the DLQ once and every other
// one processed once.
func TestConsumerCommitsEveryRecordOnceItsDeadLetterIsDurable(t *testing.T) {
	const partitions, n = 3, 3000
	b := startBroker(t, partitions)
	produce(t, b.Addr, partitions, 0, n)
	dir := t.TempDir()
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: dir}})
	handle := failEvery(t, 7, 0)
	l := &loop{c: newConsumer(t, newClient(t, b.Addr, "g"), o, dlqkgo.Options{MaxPollRecords: 500}), handle: handle, tally: newTally()}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	require.NoError(t, l.run(ctx, func(err error) bool { return err == nil && l.tally.handled(partitions, n) }))

	assert.Equal(t, endOffsets(partitions, n), committed(t, b.Addr, "g", partitions))
	want := failing(t, partitions, n, handle)
	assert.Equal(t, want, deadLetters(t, dir))
	assert.Equal(t, want, l.tally.deadLettered)
	assert.Len(t, l.tally.processed, n-len(want))
	for pl, k := range l.tally.processed {
		assert.Equal(t, 1, k, "%v processed once", pl)
	}
	assert.Empty(t, l.tally.notDone)
}

// TestConsumerReadsARefusedRecordAgain: with the DLQ's disk full and its
// queue of one entry taken, DeadLetter cannot hand a record over before
// its ctx ends. That record is not done: Records hands out nothing after
// it in its partition, the commit stops before the first dead letter that
// is not durable, and Poll reads the partition again from the refused
// record. Once the disk has room, the same process handles every record
// once, none skipped, and commits to the end: no restart needed.
func TestConsumerReadsARefusedRecordAgain(t *testing.T) {
	const partitions, n = 3, 600
	b := startBroker(t, partitions)
	produce(t, b.Addr, partitions, 0, n)
	disk := testenv.MountTmpfs(t, 64<<10)
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: disk.Dir}, QueueCapacity: 1, BatchSize: 1,
		Retry: dlq.RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20}})
	free := disk.Fill()
	handle := failEvery(t, 5, 2)
	l := &loop{c: newConsumer(t, newClient(t, b.Addr, "g"), o, dlqkgo.Options{MaxPollRecords: 100, FlushTimeout: 50 * time.Millisecond}),
		handle: handle, sendTimeout: 50 * time.Millisecond, tally: newTally()}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// Full disk: run until every partition had a record refused and the
	// Commits after them failed.
	refusedIn := func() map[int32]bool {
		l.tally.mu.Lock()
		defer l.tally.mu.Unlock()
		in := map[int32]bool{}
		for pl := range l.tally.notDone {
			in[pl.partition] = true
		}
		return in
	}
	var commitErrs []error
	require.NoError(t, l.run(ctx, func(err error) bool {
		commitErrs = append(commitErrs, err)
		return len(commitErrs) >= 3 && (len(refusedIn()) == partitions || l.tally.handled(partitions, n))
	}))
	require.Len(t, refusedIn(), partitions, "a record refused in every partition")
	for _, err := range commitErrs {
		require.ErrorIs(t, err, dlq.ErrNotWritten, "the disk is full")
	}
	want := failing(t, partitions, n, handle)
	firstFail := map[int32]int64{}
	for pl := range want {
		if f, ok := firstFail[pl.partition]; !ok || pl.offset < f {
			firstFail[pl.partition] = pl.offset
		}
	}
	for p, off := range committed(t, b.Addr, "g", partitions) {
		assert.Equal(t, firstFail[p], max(off, 0), "partition %d: committed up to its first failed record, whose dead letter is not durable", p)
	}
	assert.Empty(t, l.tally.ahead, "no record handed out after one not done in its partition")
	assert.Empty(t, deadLetters(t, disk.Dir), "the disk is full")

	// Room again: the same loop goes on to the end.
	free()
	require.NoError(t, l.run(ctx, func(err error) bool { return err == nil && l.tally.reachedEnd(partitions, n) }))
	assert.Equal(t, endOffsets(partitions, n), committed(t, b.Addr, "g", partitions))
	assert.Equal(t, want, deadLetters(t, disk.Dir), "every failed record in the DLQ once")
	assert.Equal(t, want, l.tally.deadLettered)
	for pl, k := range l.tally.processed {
		assert.Equal(t, 1, k, "%v processed once", pl)
	}
	assert.Len(t, l.tally.processed, n-len(want), "none skipped")
	assert.Empty(t, l.tally.ahead)
	var notDone int
	for _, k := range l.tally.notDone {
		notDone += k
	}
	t.Logf("%d DeadLetter calls refused, each record read again until handed over; %d records polled for %d", notDone, l.tally.polled, n)
	require.NoError(t, o.Flush(ctx))
}

// TestConsumerIgnoresARecordItDidNotPoll: Done and DeadLetter on a record
// this Consumer's Poll did not return (a record of another client: of
// another group, far ahead, or of a topic it does not consume) commit
// nothing. Before, Done on offset 90 after a Poll of 0..9 committed 91:
// 80 records neither processed nor in the DLQ; and a foreign topic's
// record failed every later Commit.
func TestConsumerIgnoresARecordItDidNotPoll(t *testing.T) {
	const partitions, n = 1, 100
	b := startBroker(t, partitions)
	produce(t, b.Addr, partitions, 0, n)
	dir := t.TempDir()
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: dir}})
	c := newConsumer(t, newClient(t, b.Addr, "g"), o, dlqkgo.Options{MaxPollRecords: 10})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	polled := 0
	for polled == 0 {
		for rec := range c.Records(c.Poll(ctx)) {
			c.Done(rec)
			polled++
		}
		require.NoError(t, ctx.Err(), "no record polled")
	}
	require.LessOrEqual(t, polled, 10)

	ahead := &kgo.Record{Topic: topic, Partition: 0, Offset: 90}
	c.Done(ahead)
	require.ErrorIs(t, c.DeadLetter(ctx, ahead, errors.New("boom")), dlqkgo.ErrNotPolled)
	foreign := &kgo.Record{Topic: "other", Partition: 7, Offset: 5}
	c.Done(foreign)
	require.ErrorIs(t, c.DeadLetter(ctx, foreign, errors.New("boom")), dlqkgo.ErrNotPolled)
	require.NoError(t, c.Commit(ctx))
	assert.Equal(t, map[int32]int64{0: int64(polled)}, committed(t, b.Addr, "g", partitions),
		"committed only what Poll returned and Done marked")
	assert.Empty(t, deadLetters(t, dir), "nothing sent for a record not polled")
	require.NoError(t, c.Commit(ctx), "a foreign record does not fail later Commits")
}
