package dlqkafkago

import (
	"context"
	"errors"
	"fmt"

	"github.com/dlqkit/dlq"
	"github.com/segmentio/kafka-go"
)

// Commit commits, for each partition, the offset after the longest run of
// messages from the last commit on that are done or dead-lettered
// durably, never past a message whose dead letter the DLQ does not yet
// hold durably (Kafka Connect's rule, KAFKA-10658).
//
// It first commits what needs no Flush. Then, when dead letters were
// accepted since, it flushes the DLQ and commits what that made durable.
// A Flush that fails (ctx ended, a full disk, a backend down) leaves the
// offsets at the first of those dead letters and Commit returns its error,
// matching dlq.ErrNotWritten. When the DLQ reports an entry lost
// (dlq.ErrLost, or Stats.Lost grew, since another Flush may have taken
// the report), the Consumer cannot tell whose: it holds again every dead
// letter not yet known durable, and Fetch offers them again.
//
// With ReaderConfig.CommitInterval 0 the offsets are committed when
// Commit returns nil; otherwise kafka-go commits them on its interval.
func (c *Consumer) Commit(ctx context.Context) error {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	msgs := c.ledger.ready()
	if !c.ledger.awaitsFlush() {
		return c.commit(ctx, msgs)
	}
	if err := c.commit(ctx, msgs); err != nil {
		return err
	}
	n := c.ledger.beginFlush()
	err := c.o.Flush(ctx)
	if lost := c.o.Stats().Lost; lost > c.lostSeen || errors.Is(err, dlq.ErrLost) {
		c.ledger.lost()
		if !errors.Is(err, dlq.ErrLost) {
			err = fmt.Errorf("%w: Stats.Lost went from %d to %d", dlq.ErrLost, c.lostSeen, lost)
		}
		c.lostSeen = lost
		return fmt.Errorf("dlqkafkago: flush: the dead letters not known durable are held again: %w", err)
	}
	if err != nil {
		return fmt.Errorf("dlqkafkago: flush: %w", err)
	}
	c.ledger.flushed(n)
	return c.commit(ctx, c.ledger.ready())
}

func (c *Consumer) commit(ctx context.Context, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := c.r.CommitMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("dlqkafkago: commit: %w", err)
	}
	c.ledger.committed(msgs)
	c.commits.Add(1)
	return nil
}
