package dlqkgo

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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

// errTripped ends a poll when the storm brake trips while it waits.
var errTripped = errors.New("dlqkgo: the storm brake tripped")

// poll polls the client, and gives up when the storm brake trips while it
// waits for records: then it reports tripped, having taken none, so that
// Poll pauses at once rather than with the next records. A timer looks at
// the brake every stormLook while the poll waits, and stops with it.
func (c *Consumer) poll(ctx context.Context) (fs kgo.Fetches, tripped bool) {
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := c.watchStorm(func() { cancel(errTripped) })
	defer w.stop()
	if c.opts.MaxPollRecords > 0 {
		fs = c.cl.PollRecords(pctx, c.opts.MaxPollRecords)
	} else {
		fs = c.cl.PollFetches(pctx)
	}
	if fs.NumRecords() == 0 && ctx.Err() == nil && errors.Is(context.Cause(pctx), errTripped) {
		return nil, true
	}
	return fs, false
}

// stormWatch calls trip once the storm brake is tripped, looking every
// stormLook until stopped.
type stormWatch struct {
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func (c *Consumer) watchStorm(trip func()) *stormWatch {
	w := &stormWatch{}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = time.AfterFunc(stormLook, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch {
		case w.stopped:
		case c.o.Storm():
			trip()
		default:
			w.timer.Reset(stormLook)
		}
	})
	return w
}

// stop stops the watch: trip is not called after it returns.
func (w *stormWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}
