package dlqkafkago

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/segmentio/kafka-go"
)

// ErrNotDone is matched by DeadLetter's error when the message's dead
// letter was not accepted (the storm brake refused it, the queue had no
// room before ctx ended, the DLQ is closed). The message is not done: the
// Consumer commits nothing at or after it in its partition, holds its dead
// letter and offers it again in Fetch. The error also matches the cause
// (dlq.ErrStorm, ctx's error, dlq.ErrClosed).
var ErrNotDone = errors.New("dlqkafkago: message not done")

// ErrReaderConfig is wrapped by New's error when the Reader cannot commit
// (no ReaderConfig.GroupID) or a part is missing.
var ErrReaderConfig = errors.New("dlqkafkago: reader config")

// Options configures a Consumer. The zero value works.
type Options struct {
	// Classify returns the Reason of a message's dead letter from the
	// error it failed with. Defaults to DefaultReason for every error.
	Classify func(error) string
	// Entry builds a message's dead letter, for a program that adds
	// Metadata or Attempts. Defaults to Entry(msg, err, Classify). A
	// program that starts from Entry adds its keys to Entry's Metadata
	// (nil when the message has no timestamp) rather than replacing it,
	// so as to keep MetadataTimestamp.
	Entry func(msg kafka.Message, err error) dlq.Entry
	// Backoff is how long Fetch first waits while the storm brake is
	// tripped; each wait doubles it up to MaxBackoff. Defaults to 50 ms.
	Backoff time.Duration
	// MaxBackoff is the longest wait of Fetch while the storm brake is
	// tripped: how late, at most, Fetch sees it clear. Defaults to 1 s.
	MaxBackoff time.Duration
}

const (
	defaultBackoff    = 50 * time.Millisecond
	defaultMaxBackoff = time.Second
)

func (c Options) backoff() time.Duration {
	if c.Backoff > 0 {
		return c.Backoff
	}
	return defaultBackoff
}

func (c Options) maxBackoff() time.Duration {
	if c.MaxBackoff > 0 {
		return max(c.MaxBackoff, c.backoff())
	}
	return max(defaultMaxBackoff, c.backoff())
}

// Consumer keeps a kafka-go consumer group Reader and a dlq Orchestrator in
// step: messages come from Fetch, and each ends in Done or DeadLetter;
// Commit commits, for each partition, the offsets up to the first message
// that is neither done nor dead-lettered durably.
//
// Its methods are safe from any goroutine: messages may be processed
// concurrently and finished in any order.
type Consumer struct {
	r        *kafka.Reader
	o        *dlq.Orchestrator
	opts     Options
	ledger   *ledger
	commitMu sync.Mutex // one Commit at a time
	lostSeen uint64     // o's Stats.Lost at the last look, under commitMu

	fetched, ok, deadLetters, refused, stormWaits, commits atomic.Uint64
}

// New returns a Consumer over r, a Reader of a consumer group
// (ReaderConfig.GroupID set), dead-lettering into o. r and o stay the
// caller's to close, after a last Commit.
func New(r *kafka.Reader, o *dlq.Orchestrator, opts Options) (*Consumer, error) {
	switch {
	case r == nil || o == nil:
		return nil, fmt.Errorf("%w: New needs a Reader and an Orchestrator", ErrReaderConfig)
	case r.Config().GroupID == "":
		return nil, fmt.Errorf("%w: the Reader has no GroupID: only a consumer group commits offsets", ErrReaderConfig)
	}
	return &Consumer{r: r, o: o, opts: opts, ledger: newLedger(), lostSeen: o.Stats().Lost}, nil
}

// Fetch returns the next message, which must end in Done or DeadLetter.
//
// While the storm brake is tripped, Fetch waits, with backoff, fetching
// nothing: kafka-go's Reader cannot pause its partitions, so the loop
// stops asking. Once the brake has cleared, Fetch first offers the DLQ the
// dead letters it refused (DeadLetter returned ErrStorm), oldest first,
// and fetches only when the DLQ has taken them all. It returns ctx's error
// when ctx ends first, and the Orchestrator's error (such as ErrClosed)
// when it refuses a held dead letter for another reason.
func (c *Consumer) Fetch(ctx context.Context) (kafka.Message, error) {
	if err := c.settle(ctx); err != nil {
		return kafka.Message{}, err
	}
	msg, err := c.r.FetchMessage(ctx)
	if err != nil {
		return msg, err
	}
	c.ledger.fetch(msg)
	c.fetched.Add(1)
	return msg, nil
}

// Done marks msg processed: it counts as an Ok for the storm brake, and
// Commit may move past it.
func (c *Consumer) Done(msg kafka.Message) {
	c.o.Ok()
	c.ok.Add(1)
	c.ledger.done(msg)
}

// DeadLetter hands msg, which failed with err, to the DLQ (Options.Entry
// builds the entry), waiting for room in its queue until ctx ends
// (SendContext). On nil the message is done: a Commit moves past it once
// its dead letter is durable.
//
// Otherwise the error matches ErrNotDone and the cause (dlq.ErrStorm while
// the storm brake is tripped): msg is not done, Commit stays before it,
// and the Consumer holds its dead letter and offers it again in Fetch,
// once the brake has cleared. Go on to Fetch, which waits out the storm;
// do not call Done for msg.
func (c *Consumer) DeadLetter(ctx context.Context, msg kafka.Message, err error) error {
	var e dlq.Entry
	if c.opts.Entry != nil {
		e = c.opts.Entry(msg, err)
	} else {
		e = Entry(msg, err, c.opts.Classify)
	}
	if serr := c.o.SendContext(ctx, e); serr != nil {
		if c.ledger.hold(msg, &e) {
			c.refused.Add(1)
		}
		return fmt.Errorf("%w: %s/%d@%d, held to be offered again: %w", ErrNotDone, msg.Topic, msg.Partition, msg.Offset, serr)
	}
	c.deadLetters.Add(1)
	c.ledger.accept(placeOf(msg), &e)
	return nil
}

// Stats are a Consumer's counts since New, cumulative.
type Stats struct {
	// Fetched is the messages Fetch returned.
	Fetched uint64
	// Done is the Done calls.
	Done uint64
	// DeadLetters is the dead letters the DLQ accepted, offered again
	// after a refusal or a loss included.
	DeadLetters uint64
	// Refused is the dead letters the DLQ refused (ErrStorm, ctx ended)
	// and the Consumer held.
	Refused uint64
	// Held is the dead letters held now, waiting to be offered again.
	Held int
	// StormWaits is the waits of Fetch while the storm brake was tripped
	// (or the DLQ refused a held dead letter).
	StormWaits uint64
	// Commits is the offset commits made.
	Commits uint64
}

// Stats returns the Consumer's counts.
func (c *Consumer) Stats() Stats {
	return Stats{
		Fetched:     c.fetched.Load(),
		Done:        c.ok.Load(),
		DeadLetters: c.deadLetters.Load(),
		Refused:     c.refused.Load(),
		Held:        c.ledger.heldCount(),
		StormWaits:  c.stormWaits.Load(),
		Commits:     c.commits.Load(),
	}
}
