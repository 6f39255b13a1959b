package dlqkgo

import (
	"context"
	"errors"
	"fmt"

	"github.com/dlqkit/dlq"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Commit makes the DLQ's dead letters durable (Orchestrator.Flush, for at
// most Options.FlushTimeout), then commits the offsets of the records done
// so far, as far as the commit rule allows: a partition's offset never
// passes a record whose dead letter may not be durable, nor a record that
// is not done.
//
// When the Flush fails, Commit still commits each partition up to its first
// record whose dead letter may not be durable, and returns an error that
// matches the Flush's (dlq.ErrNotWritten with ctx's error, dlq.ErrClosed);
// a later Commit commits the rest once a Flush succeeds. When dead letters
// were lost (dlq.ErrLost, or Stats.Lost grew: Retry.MaxAttempts spent, an
// entry too large for every backend), Commit cannot know whose they were:
// it commits each partition up to its first record whose dead letter was
// not known durable, the next Poll reads the partitions again from there,
// and those failures are dead-lettered again. Its error then matches
// dlq.ErrLost.
//
// An error from the broker is returned as well, and matches kerr's errors;
// the offsets are committed by a later Commit.
func (c *Consumer) Commit(ctx context.Context) error {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	snap := c.ledger.snapshot()
	fctx, cancel := context.WithTimeout(ctx, c.opts.FlushTimeout)
	ferr := c.o.Flush(fctx)
	cancel()
	lost := errors.Is(ferr, dlq.ErrLost)
	if n := c.o.Stats().Lost; n != c.lostSeen {
		lost, c.lostSeen = true, n
	}
	offsets := c.ledger.settle(snap, ferr == nil, lost)
	cerr := c.commit(ctx, offsets)
	if cerr == nil {
		c.ledger.committed(offsets)
	} else {
		cerr = fmt.Errorf("dlqkgo: commit: %w", cerr)
	}
	switch {
	case lost && ferr == nil:
		ferr = fmt.Errorf("dlqkgo: %w since the last commit: the records after the last durable dead letter are read again", dlq.ErrLost)
	case lost:
		ferr = fmt.Errorf("dlqkgo: the records after the last durable dead letter are read again: %w", ferr)
	case ferr != nil:
		ferr = fmt.Errorf("dlqkgo: committed only up to the first record whose dead letter may not be durable: %w", ferr)
	}
	return errors.Join(ferr, cerr)
}

// commit commits offsets and returns the first error of the request or of
// a partition in its response.
func (c *Consumer) commit(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	var err error
	c.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, rerr error) {
		if rerr != nil {
			err = rerr
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil && err == nil {
					err = fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, perr)
				}
			}
		}
	})
	return err
}
