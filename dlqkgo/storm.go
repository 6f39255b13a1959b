package dlqkgo

import (
	"context"
	"slices"
	"time"
)

// brake pauses fetching while the storm brake is tripped: it pauses every
// topic the client consumes (one matched by a regex while it waits too),
// looks every stormLook whether the brake has cleared, and resumes what
// it paused once it has. It returns ctx's error if ctx ends first; the
// topics stay paused until a Poll sees the brake clear.
//
// Topics, not partitions: kgo tells a group consumer's partitions only to
// an OnPartitionsAssigned hook, and a paused topic covers every partition
// assigned during the storm too. A topic the program had paused itself is
// left to it.
func (c *Consumer) brake(ctx context.Context) error {
	if !c.o.Storm() {
		c.resume()
		return nil
	}
	tick := time.NewTicker(stormLook)
	defer tick.Stop()
	for {
		c.pause()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if !c.o.Storm() {
			c.resume()
			return nil
		}
	}
}

// pause pauses the consumed topics that are not paused already.
func (c *Consumer) pause() {
	paused := c.cl.PauseFetchTopics()
	var more []string
	for _, t := range c.cl.GetConsumeTopics() {
		if !slices.Contains(paused, t) {
			more = append(more, t)
		}
	}
	if len(more) > 0 {
		c.cl.PauseFetchTopics(more...)
		c.paused = append(c.paused, more...)
	}
}

// resume resumes the topics pause paused.
func (c *Consumer) resume() {
	if len(c.paused) > 0 {
		c.cl.ResumeFetchTopics(c.paused...)
		c.paused = nil
	}
}
