package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// shutdown drains the queue, retries until ctx ends, syncs and closes the
// backends, and accounts for what is left. It keeps the normal rhythm's
// backpressure: while some entry is held by no backend it takes no new one
// off the queue, so that a backend that is down costs a batch, not an
// encoding of the whole queue. No write starts after ctx ends, and the one
// in flight then is cancelled; abandon then counts what is left lost in
// time that does not grow with the queue.
func (d *drain) shutdown(ctx context.Context) error {
	d.ctx = ctx
	for ctx.Err() == nil {
		if !d.backpressure() {
			d.takeQueued(d.o.batchSize - len(d.pending))
		}
		if len(d.pending) > 0 {
			d.writePending()
			d.release()
			continue
		}
		if len(d.retry) == 0 {
			break // the queue is empty and everything taken is written
		}
		select {
		case <-d.retryTimer.C:
			d.retryOn = false
			d.retryRound()
			d.release()
		case <-ctx.Done():
		}
	}
	var errs []error
	if err := d.syncAll(ctx); err != nil {
		errs = append(errs, err)
	}
	lost, missed := d.abandon(ctx)
	d.noteOldest()
	d.release()
	d.warn.summarize()
	if lost > 0 {
		errs = append(errs, fmt.Errorf("dlq: close: %d entries lost: %w", lost, ctx.Err()))
	}
	if missed > 0 {
		errs = append(errs, fmt.Errorf("dlq: close: %d entries missing from some fan-out backend: %w", missed, ctx.Err()))
	}
	for i := range d.o.backends {
		if err := d.o.backends[i].close(ctx); err != nil {
			errs = append(errs, &BackendError{Kind: d.o.backends[i].kind, Err: fmt.Errorf("close: %w", err)})
		}
	}
	return errors.Join(errs...)
}

// abandon gives up every entry Close's ctx left unwritten: those waiting
// for a retry or in the pending batch are counted lost (reason shutdown),
// or missed by the fan-out backends that still lack them; those still in
// the queue are counted lost all at once, neither encoded nor taken off the
// queue, unless OnLoss wants each. Each is logged in one line, not one per
// entry. It returns how many entries were lost and missed.
func (d *drain) abandon(ctx context.Context) (lost, missed int) {
	gone := make([]*record, 0, len(d.retry)+len(d.pending))
	for _, r := range d.retry {
		if r.held {
			missed++
			for i := range d.o.backends {
				if r.need&(1<<i) != 0 {
					d.o.backendCounters[i].missed.Add(1)
				}
			}
			continue
		}
		gone = append(gone, r)
	}
	for i := range d.pending {
		gone = append(gone, &d.pending[i])
	}
	queued := len(d.o.queue)
	lost = len(gone) + queued
	if lost == 0 && missed == 0 {
		return 0, 0
	}
	cause := ctx.Err()
	d.o.drained.shutdown.Add(uint64(lost))
	d.lost += lost
	if lost > 0 {
		d.warn.logf("lost "+string(ReasonShutdown), slog.LevelError, "dlq: entries lost at close",
			"entries", lost, "queued", queued, "error", cause)
	}
	if missed > 0 {
		d.warn.logf("missed", slog.LevelWarn, "dlq: fan-out backends gave up on entries at close",
			"entries", missed, "error", cause)
	}
	if onLoss := d.o.cfg.OnLoss; onLoss != nil {
		for _, r := range gone {
			lastErr := r.lastErr
			if lastErr == nil {
				lastErr = cause
			}
			onLoss(r.entry, ReasonShutdown, fmt.Errorf("dlq: entry %s lost (%s) after %d attempts: %w",
				r.entry.ID, ReasonShutdown, r.tries, lastErr))
		}
		err := fmt.Errorf("dlq: entry lost (%s) before its first attempt: %w", ReasonShutdown, cause)
		for range queued {
			e := <-d.o.queue
			d.received++
			if e.ID == "" {
				e.ID = d.ids.Next(e.Timestamp)
			}
			d.o.drained.byReason.add(e.Reason)
			onLoss(e, ReasonShutdown, err)
		}
	} else {
		d.o.drained.abandoned.Store(int64(queued))
	}
	clear(d.retry)
	d.retry, d.unheld = nil, 0
	clear(d.pending)
	d.pending = d.pending[:0]
	d.o.giveRoom(queued)
	return lost, missed
}
