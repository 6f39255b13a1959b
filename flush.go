package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// flush is the barrier behind Orchestrator.Flush. It writes what was
// queued before the call, then waits for the retry rounds (the usual
// backoff, cool-downs respected) until every entry taken so far is held
// by a backend and synced, or lost, or ctx ends. Writes run under a
// context that ends with ctx, or when Close's deadline passes.
func (d *drain) flush(ctx context.Context) error {
	fctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.o.base, cancel)
	d.ctx = fctx
	defer func() {
		stop()
		cancel()
		d.ctx = d.o.base // the normal rhythm again
	}()
	// Everything Sent before the Flush call is in the queue now, or already
	// taken off it.
	for n := len(d.o.queue); n > 0; n-- {
		d.add(<-d.o.queue)
		if len(d.pending) >= d.o.batchSize {
			d.writePending()
		}
	}
	d.writePending()
	barrier := d.received
	var syncErr error // the last sync failure not caused by fctx's end
	for {
		d.release()
		count, causes := d.unwritten(barrier)
		if count == 0 {
			err := d.syncAll(fctx)
			if err == nil {
				return d.lossReport(nil)
			}
			if !ended(fctx) || syncErr == nil {
				syncErr = err
			}
			if !d.retryOn { // try the sync again after a backoff
				d.backOff()
				d.armRetry()
			}
		}
		select {
		case <-d.retryTimer.C:
			d.retryOn = false
			d.retryRound()
		case <-fctx.Done():
			cause := ctx.Err()
			if cause == nil { // Close's deadline passed
				cause = ErrClosed
			}
			err := notSynced(syncErr, cause)
			if count > 0 {
				err = notWritten(count, causes, cause)
			}
			return d.lossReport(err)
		case <-d.o.closing:
			return d.lossReport(notWritten(count, causes, ErrClosed))
		}
	}
}

// ended reports whether ctx has ended or its deadline has passed: an I/O
// timeout set from the deadline can come back a moment before ctx itself
// reports it, and is then the deadline's doing, not the backend's.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// unwritten counts the entries up to barrier no backend holds, with the
// first few distinct ones of their last errors.
func (d *drain) unwritten(barrier uint64) (count int, causes []error) {
	for _, r := range d.retry {
		if !r.held && r.seq <= barrier {
			count++
			if len(causes) < 3 && r.lastErr != nil && !sameCause(causes, r.lastErr) {
				causes = append(causes, r.lastErr)
			}
		}
	}
	return count, causes
}

// lossReport adds to err the entries lost since a Flush last reported
// losses, and starts counting again.
func (d *drain) lossReport(err error) error {
	if d.lost == 0 {
		return err
	}
	lost := lostSince(d.lost)
	d.lost = 0
	return joinLine(err, lost)
}

// syncAll makes every backend written since its last sync durable.
func (d *drain) syncAll(ctx context.Context) error {
	var errs []error
	for i := range d.o.backends {
		if !d.dirty[i] {
			continue
		}
		b := &d.o.backends[i]
		if err := b.sync(ctx); err != nil {
			err = &BackendError{Kind: b.kind, Err: fmt.Errorf("sync: %w", err)}
			d.backendFailed(i, err, 0)
			errs = append(errs, err)
			continue
		}
		d.dirty[i] = false
	}
	return errors.Join(errs...)
}
