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
