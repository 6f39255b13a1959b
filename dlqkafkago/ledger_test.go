package dlqkafkago

import (
	"testing"

	"github.com/dlqkit/dlq"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
)

// TestLedgerForgetsWhatTheReaderReadsAgain: after a rebalance kafka-go's
// Reader restarts a partition at its committed offset and hands out again
// what was fetched but not committed. The ledger forgets its records from
// there (a held dead letter included, its message comes again), and the
// commit follows the messages as they now come.
func TestLedgerForgetsWhatTheReaderReadsAgain(t *testing.T) {
	msg := func(p int, off int64) kafka.Message { return kafka.Message{Topic: "events", Partition: p, Offset: off} }
	l := newLedger()
	for off := range int64(6) {
		l.fetch(msg(0, off))
	}
	l.fetch(msg(1, 0))
	l.done(msg(0, 0))
	l.done(msg(0, 1))
	l.hold(msg(0, 3), &dlq.Entry{Reason: "r"})
	l.done(msg(0, 4))
	l.done(msg(1, 0))
	assert.ElementsMatch(t, []kafka.Message{msg(0, 1), msg(1, 0)}, l.ready())
	assert.Equal(t, 1, l.heldCount())

	// The rebalance: partition 0 again from 2, the commit not yet made.
	for off := int64(2); off < 8; off++ {
		l.fetch(msg(0, off))
	}
	assert.Zero(t, l.heldCount(), "the held dead letter's message comes again")
	l.done(msg(0, 2))
	l.done(msg(0, 3))
	assert.ElementsMatch(t, []kafka.Message{msg(0, 3), msg(1, 0)}, l.ready(),
		"4, done before the rebalance, is not done as it comes again")
	l.committed(l.ready())
	l.done(msg(0, 4))
	l.done(msg(0, 5))
	assert.Equal(t, []kafka.Message{msg(0, 5)}, l.ready())

	// A partition read again from before the last commit: nothing is
	// committed twice or backwards.
	l.committed(l.ready())
	l.fetch(msg(0, 0))
	l.done(msg(0, 0))
	assert.Empty(t, l.ready())
}
