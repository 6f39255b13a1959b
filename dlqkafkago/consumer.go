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

// Config configures a Consumer. The zero value works.
type Config struct {
	// Classify returns the Reason of a dead letter from the error the
	// message failed with. Defaults to one that returns DefaultReason.
	Classify func(error) string
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

func (c Config) backoff() time.Duration {
	if c.Backoff > 0 {
		return c.Backoff
	}
	return defaultBackoff
}

func (c Config) maxBackoff() time.Duration {
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
// concurrently and finished in any order. Do not change a Config after
// New.
type Consumer struct {
	r        *kafka.Reader
	o        *dlq.Orchestrator
	cfg      Config
	ledger   *ledger
	commitMu sync.Mutex // one Commit at a time
	lostSeen uint64     // o's Stats.Lost at the last look, under commitMu

	fetched, ok, deadLetters, refused, stormWaits, commits atomic.Uint64
}

// New returns a Consumer over r, a Reader of a consumer group
// (ReaderConfig.GroupID set), dead-lettering into o. r and o stay the
// caller's to close, after a last Commit.
func New(r *kafka.Reader, o *dlq.Orchestrator, cfg Config) (*Consumer, error) {
	switch {
	case r == nil:
		return nil, errors.New("dlqkafkago: no Reader")
	case o == nil:
		return nil, errors.New("dlqkafkago: no Orchestrator")
	case r.Config().GroupID == "":
		return nil, errors.New("dlqkafkago: the Reader has no GroupID: only a consumer group commits offsets")
	}
	return &Consumer{r: r, o: o, cfg: cfg, ledger: newLedger(), lostSeen: o.Stats().Lost}, nil
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

// DeadLetter hands msg, which failed with err, to the DLQ as Entry builds
// it, waiting for room in its queue (SendContext). Once the DLQ has it,
// Commit may move past msg after a successful Flush.
//
// When the DLQ refuses it (ErrStorm while the storm brake is tripped, or
// ctx ended while the queue was full), DeadLetter returns that error, and
// msg is not done: Commit stays before it, and the Consumer holds the dead
// letter and offers it again in Fetch once the brake clears. Go on to
// Fetch, which waits out the storm; do not call Done for msg.
func (c *Consumer) DeadLetter(ctx context.Context, msg kafka.Message, err error) error {
	e := Entry(msg, err, c.cfg.Classify)
	if serr := c.o.SendContext(ctx, e); serr != nil {
		if c.ledger.hold(msg, &e) {
			c.refused.Add(1)
		}
		return fmt.Errorf("dlqkafkago: dead letter of %s/%d at offset %d: %w", msg.Topic, msg.Partition, msg.Offset, serr)
	}
	c.deadLetters.Add(1)
	c.ledger.accept(placeOf(msg), &e)
	return nil
}

// settle waits while the storm brake is tripped and offers the held dead
// letters again once it is not, until none is held.
func (c *Consumer) settle(ctx context.Context) error {
	wait := c.cfg.backoff()
	for {
		if !c.o.Storm() {
			err := c.offerHeld(ctx)
			if !errors.Is(err, dlq.ErrStorm) {
				return err
			}
		}
		c.stormWaits.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, c.cfg.maxBackoff())
	}
}

// offerHeld sends the held dead letters, oldest first, until one is
// refused.
func (c *Consumer) offerHeld(ctx context.Context) error {
	for {
		at, e, ok := c.ledger.nextHeld()
		if !ok {
			return nil
		}
		if err := c.o.SendContext(ctx, e); err != nil {
			return fmt.Errorf("dlqkafkago: dead letter of %s/%d at offset %d held: %w", at.tp.topic, at.tp.partition, at.offset, err)
		}
		c.deadLetters.Add(1)
		c.ledger.accept(at, &e)
	}
}

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
