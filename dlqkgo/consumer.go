package dlqkgo

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrNotDone is matched by DeadLetter's error when the record's dead
// letter was not accepted (the storm brake refused it, the queue had no
// room before ctx ended, the DLQ is closed) or its partition is to be read
// again from an earlier record. The record is not done: the Consumer
// commits nothing at or after it, and the next Poll reads its partition
// again from it. The error also matches the cause (dlq.ErrStorm, ctx's
// error, dlq.ErrClosed).
var ErrNotDone = errors.New("dlqkgo: record not done")

// ErrClientOptions is wrapped by New's error when the client was not built
// as the Consumer needs: a consumer group (kgo.ConsumerGroup) with
// autocommitting disabled (kgo.DisableAutoCommit).
var ErrClientOptions = errors.New("dlqkgo: client options")

// ErrNotPolled is DeadLetter's error for a record this Consumer's Poll did
// not return (another client's, or one ahead of what was polled): nothing
// is sent and nothing is committed. Done ignores such a record.
var ErrNotPolled = errors.New("dlqkgo: record not returned by this Consumer's Poll")

// Options configures a Consumer. The zero value works.
type Options struct {
	// Classify returns the Reason of a record's dead letter from the error
	// it failed with. Defaults to DefaultReason for every error.
	Classify func(error) string
	// Entry builds a record's dead letter, for a program that adds
	// Metadata or Attempts. Defaults to Entry(rec, err, Classify). A
	// program that starts from Entry adds its keys to Entry's Metadata
	// (nil when the record has no timestamp) rather than replacing it,
	// so as to keep MetadataTimestamp.
	Entry func(rec *kgo.Record, err error) dlq.Entry
	// MaxPollRecords bounds how many records one Poll returns, which bounds
	// the work between two Commits. 0 returns what the client has buffered
	// (kgo's PollFetches). Defaults to 0.
	MaxPollRecords int
	// FlushTimeout is how long Commit waits for the DLQ to make its dead
	// letters durable before it commits only the records before the first
	// whose dead letter may not be. Commit's ctx bounds it too. Defaults
	// to 10 seconds.
	FlushTimeout time.Duration
}

// defaultFlushTimeout is Options.FlushTimeout's default.
const defaultFlushTimeout = 10 * time.Second

// stormLook is how often Poll looks whether a tripped storm brake has
// cleared.
const stormLook = 50 * time.Millisecond

// Consumer keeps a franz-go consumer's commits in step with the DLQ. Poll,
// Records and Commit are called from the goroutine that polls; Done and
// DeadLetter from any goroutine, each partition's records in offset order,
// and before the next Poll. Do not copy a Consumer.
type Consumer struct {
	cl     *kgo.Client
	o      *dlq.Orchestrator
	opts   Options
	ledger *ledger

	commitMu sync.Mutex // serializes Commit
	lostSeen uint64     // o.Stats().Lost at the last look; commitMu

	paused []string // topics Poll paused for the storm brake; the polling goroutine's
}

// New returns a Consumer over cl, whose failed records go to o. cl must be
// a group consumer (kgo.ConsumerGroup) with kgo.DisableAutoCommit: the
// Consumer commits, and only what the commit rule allows (an autocommit
// would commit records whose dead letters are not durable, and with
// kgo.AutoCommitMarks the client commits the offset of every SetOffsets,
// which Poll uses to read a partition again). kgo.BlockRebalanceOnPoll is
// recommended: Poll allows the rebalances, between two batches.
func New(cl *kgo.Client, o *dlq.Orchestrator, opts Options) (*Consumer, error) {
	if cl == nil || o == nil {
		return nil, fmt.Errorf("%w: New needs a client and an orchestrator", ErrClientOptions)
	}
	if group, _ := cl.OptValue(kgo.ConsumerGroup).(string); group == "" {
		return nil, fmt.Errorf("%w: the client is not a group consumer (kgo.ConsumerGroup)", ErrClientOptions)
	}
	if off, _ := cl.OptValue(kgo.DisableAutoCommit).(bool); !off {
		return nil, fmt.Errorf("%w: the client autocommits; build it with kgo.DisableAutoCommit, the Consumer commits", ErrClientOptions)
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = defaultFlushTimeout
	}
	return &Consumer{cl: cl, o: o, opts: opts, ledger: newLedger(), lostSeen: o.Stats().Lost}, nil
}

// Poll returns the next records, as the client's PollFetches (or
// PollRecords with Options.MaxPollRecords) does. Before it polls it sets
// each partition that has a record not done back to that record, so that
// it is read again; then it allows a rebalance (kgo.BlockRebalanceOnPoll).
// While the storm brake is tripped, and as soon as it trips while Poll
// waits for records, it pauses fetching every topic the client consumes
// and waits until the brake clears or ctx ends (then the fetches hold
// ctx's error), and resumes them.
func (c *Consumer) Poll(ctx context.Context) kgo.Fetches {
	if set := c.ledger.rewinds(); set != nil {
		c.cl.SetOffsets(set)
	}
	c.cl.AllowRebalance()
	for {
		if err := c.brake(ctx); err != nil {
			return kgo.NewErrFetch(err)
		}
		if fs, tripped := c.poll(ctx); !tripped {
			c.ledger.poll(fs)
			return fs
		}
	}
}

// Records iterates the records of fs in order, leaving out those of a
// partition that is to be read again (at or after a record not done, which
// may happen during the iteration): processing them now would process them
// twice.
func (c *Consumer) Records(fs kgo.Fetches) iter.Seq[*kgo.Record] {
	return func(yield func(*kgo.Record) bool) {
		for _, f := range fs {
			for _, t := range f.Topics {
				for _, p := range t.Partitions {
					for _, rec := range p.Records {
						if c.ledger.skipped(rec) {
							continue
						}
						if !yield(rec) {
							return
						}
					}
				}
			}
		}
	}
}

// Done records that rec was processed: it counts one success for the storm
// brake (Orchestrator.Ok) and lets the next Commit commit rec. A record
// Poll did not return changes nothing: committing it could skip records
// never handed out.
func (c *Consumer) Done(rec *kgo.Record) {
	if !c.ledger.handedOut(rec) {
		return
	}
	c.o.Ok()
	c.ledger.done(rec, false)
}

// DeadLetter hands rec, which failed with err, to the DLQ, waiting for
// room in its queue until ctx ends (Orchestrator.SendContext). On nil the
// record is done: the next Commit commits it once its dead letter is
// durable. Otherwise the error matches ErrNotDone and the cause: the
// record is not done, nothing at or after it in its partition is committed
// or handed out by Records, and the next Poll reads the partition again
// from it. A record Poll did not return is not sent: the error matches
// ErrNotPolled.
func (c *Consumer) DeadLetter(ctx context.Context, rec *kgo.Record, err error) error {
	if !c.ledger.handedOut(rec) {
		return fmt.Errorf("%w: %s/%d@%d", ErrNotPolled, rec.Topic, rec.Partition, rec.Offset)
	}
	if c.ledger.skipped(rec) {
		return fmt.Errorf("%w: %s/%d@%d: its partition is read again from an earlier record", ErrNotDone, rec.Topic, rec.Partition, rec.Offset)
	}
	var e dlq.Entry
	if c.opts.Entry != nil {
		e = c.opts.Entry(rec, err)
	} else {
		e = Entry(rec, err, c.opts.Classify)
	}
	if serr := c.o.SendContext(ctx, e); serr != nil {
		c.ledger.refused(rec)
		return fmt.Errorf("%w: %s/%d@%d is read again: %w", ErrNotDone, rec.Topic, rec.Partition, rec.Offset, serr)
	}
	c.ledger.done(rec, true)
	return nil
}
