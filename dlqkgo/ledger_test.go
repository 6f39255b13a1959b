package dlqkgo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The commit rule step by step, on records as the client hands them out.
// The tests against a broker (commit_test.go, storm_test.go) check it end
// to end; these name each step.

func rec(partition int32, offset int64) *kgo.Record {
	return &kgo.Record{Topic: "t", Partition: partition, Offset: offset, LeaderEpoch: 3}
}

type offsets = map[string]map[int32]kgo.EpochOffset

func commitAt(partitionOffsets ...int64) offsets {
	out := offsets{"t": {}}
	for i := 0; i < len(partitionOffsets); i += 2 {
		out["t"][int32(partitionOffsets[i])] = kgo.EpochOffset{Epoch: 3, Offset: partitionOffsets[i+1]}
	}
	return out
}

// commit runs one commit whose Flush ended as flushed and lost say, and
// records what it returns as committed.
func commit(l *ledger, flushed, lost bool) offsets {
	got := l.settle(l.snapshot(), flushed, lost)
	l.committed(got)
	return got
}

func TestLedgerCommitsWhatIsDoneOnceTheFlushSucceeds(t *testing.T) {
	l := newLedger()
	l.done(rec(0, 0), false)
	l.done(rec(0, 1), true)
	l.done(rec(0, 2), false)
	l.done(rec(1, 5), true)
	assert.Equal(t, commitAt(0, 3, 1, 6), commit(l, true, false))
	assert.Nil(t, commit(l, true, false), "nothing new: nothing committed")
	l.done(rec(0, 3), false)
	assert.Equal(t, commitAt(0, 4), commit(l, true, false))
}

func TestLedgerFailedFlushStopsAtTheFirstDeadLetter(t *testing.T) {
	l := newLedger()
	l.done(rec(0, 0), false)
	l.done(rec(0, 1), false)
	l.done(rec(0, 2), true) // not durable
	l.done(rec(0, 3), false)
	l.done(rec(0, 4), true)
	l.done(rec(1, 0), false) // a partition without dead letters
	l.done(rec(1, 1), false)
	assert.Equal(t, commitAt(0, 2, 1, 2), commit(l, false, false))

	l.done(rec(0, 5), false)
	assert.Nil(t, commit(l, false, false), "the dead letter at 2 is still not known durable")
	assert.Equal(t, commitAt(0, 6), commit(l, true, false), "a Flush covers every dead letter before it")
}

func TestLedgerDeadLetterDuringTheFlushIsNotCovered(t *testing.T) {
	l := newLedger()
	l.done(rec(0, 0), false)
	snap := l.snapshot()
	l.done(rec(0, 1), true) // Sent while the Flush runs
	got := l.settle(snap, true, false)
	assert.Equal(t, commitAt(0, 1), got)
	l.committed(got)
	l.done(rec(0, 2), false)
	assert.Nil(t, commit(l, false, false), "the dead letter at 1 came after the successful Flush began")
	assert.Equal(t, commitAt(0, 3), commit(l, true, false))
}

func TestLedgerRefusedRecordStopsItsPartitionUntilReadAgain(t *testing.T) {
	l := newLedger()
	l.done(rec(0, 0), false)
	l.refused(rec(0, 1))
	for _, r := range []*kgo.Record{rec(0, 1), rec(0, 2), rec(0, 9)} {
		assert.True(t, l.skipped(r), "%d is read again", r.Offset)
	}
	assert.False(t, l.skipped(rec(0, 0)))
	assert.False(t, l.skipped(rec(1, 2)), "other partitions go on")
	l.done(rec(0, 2), false) // a record handed out anyway changes nothing
	l.done(rec(0, 3), true)
	l.refused(rec(0, 4)) // a later refusal does not move the rewind on
	assert.Equal(t, commitAt(0, 1), commit(l, true, false))

	assert.Equal(t, offsets{"t": {0: {Epoch: 3, Offset: 1}}}, l.rewinds())
	assert.Nil(t, l.rewinds(), "a rewind is handed out once")
	assert.False(t, l.skipped(rec(0, 1)), "read again: handed out")
	l.done(rec(0, 1), true)
	l.done(rec(0, 2), false)
	assert.Equal(t, commitAt(0, 3), commit(l, true, false))
}

func TestLedgerLossReadsAgainFromTheFirstDeadLetterNotKnownDurable(t *testing.T) {
	l := newLedger()
	l.done(rec(0, 0), true)
	l.done(rec(0, 1), false)
	assert.Equal(t, commitAt(0, 2), commit(l, true, false))
	l.done(rec(0, 2), false)
	l.done(rec(0, 3), true) // lost, or not: a Flush cannot say whose
	l.done(rec(0, 4), false)
	l.done(rec(1, 0), false) // no dead letter: nothing of it can be lost
	snap := l.snapshot()
	l.done(rec(0, 5), true) // after the snapshot: read again too
	got := l.settle(snap, true, true)
	assert.Equal(t, commitAt(0, 3, 1, 1), got)
	l.committed(got)
	assert.Equal(t, offsets{"t": {0: {Epoch: 3, Offset: 3}}}, l.rewinds())
	l.done(rec(0, 3), true) // read again, dead-lettered again
	l.done(rec(0, 4), false)
	l.done(rec(0, 5), true)
	assert.Equal(t, commitAt(0, 6), commit(l, true, false))

	t.Run("the dead letter after the snapshot alone", func(t *testing.T) {
		l := newLedger()
		l.done(rec(0, 0), false)
		snap := l.snapshot()
		l.done(rec(0, 1), true)
		assert.Equal(t, commitAt(0, 1), l.settle(snap, true, true))
		assert.Equal(t, offsets{"t": {0: {Epoch: 3, Offset: 1}}}, l.rewinds())
	})
}
