package dlqkafkago

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dlqkit/dlq"
)

// settle waits while the storm brake is tripped and offers the held dead
// letters again once it is not, until none is held and the brake is
// still off: a held dead letter may trip it again.
func (c *Consumer) settle(ctx context.Context) error {
	wait := c.opts.backoff()
	for {
		if !c.o.Storm() {
			err := c.offerHeld(ctx)
			if err != nil && !errors.Is(err, dlq.ErrStorm) {
				return err
			}
			if err == nil && !c.o.Storm() {
				return nil
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
		wait = min(2*wait, c.opts.maxBackoff())
	}
}

// offerHeld sends the held dead letters, oldest first, until one is
// refused or the brake trips.
func (c *Consumer) offerHeld(ctx context.Context) error {
	for {
		at, e, ok := c.ledger.nextHeld()
		if !ok {
			return nil
		}
		if c.o.Storm() { // the last one tripped it again: no use asking
			return dlq.ErrStorm
		}
		if err := c.o.SendContext(ctx, e); err != nil {
			return fmt.Errorf("dlqkafkago: held dead letter of %s/%d@%d: %w", at.tp.topic, at.tp.partition, at.offset, err)
		}
		c.deadLetters.Add(1)
		c.ledger.accept(at, &e)
	}
}
