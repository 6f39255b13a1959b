package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// deliver makes one write attempt for each of recs: in cascade order, each
// entry until a backend holds it; in fan-out, to every backend that still
// lacks it. Backends in their cool-down are passed over, and once d.ctx
// has ended no backend is tried. It reports whether any backend was tried
// and whether any entry made progress.
func (d *drain) deliver(recs []*record) (attempted, progress bool) {
	d.round++
	d.lane.encode(recs)
	for _, r := range recs {
		r.oversize = true
	}
	if d.o.cfg.Mode == ModeFanOut {
		attempted, progress = d.fanOut(recs)
	} else {
		attempted, progress = d.cascade(recs)
	}
	if d.newlyHeld > 0 { // one atomic add per delivery, not per entry
		d.o.drained.written.Add(d.newlyHeld)
		d.newlyHeld = 0
	}
	for _, r := range recs {
		r.line = nil
	}
	return attempted, progress
}

// skip reports whether backend i is to be passed over now, and if so
// records it on recs.
func (d *drain) skip(i int, recs []*record) bool {
	var why error
	switch {
	case d.ctx.Err() != nil:
		why = fmt.Errorf("not tried: %w", context.Cause(d.ctx))
	case !d.available(i):
		why = fmt.Errorf("%w (until %s)", errCoolingDown, d.health[i].until.Format(time.RFC3339Nano))
	default:
		return false
	}
	for _, r := range recs {
		d.passOver(i, r, why)
	}
	return true
}

// cascade hands the entries nobody holds to each backend in turn.
func (d *drain) cascade(recs []*record) (attempted, progress bool) {
	remaining := make([]*record, 0, len(recs))
	for _, r := range recs {
		if !r.held {
			remaining = append(remaining, r)
		}
	}
	for i := range d.o.backends {
		if len(remaining) == 0 {
			break
		}
		if d.skip(i, remaining) {
			continue
		}
		attempted = true
		bt := d.writeTo(i, remaining)
		next := remaining[:0]
		for j, r := range bt.recs {
			if bt.errs[j] == nil {
				d.markHeld(r)
				progress = true
			} else {
				next = append(next, r)
			}
		}
		remaining = next
	}
	return attempted, progress
}

// fanOut hands each backend the entries that still lack it.
func (d *drain) fanOut(recs []*record) (attempted, progress bool) {
	sub := make([]*record, 0, len(recs))
	for i := range d.o.backends {
		bit := uint64(1) << i
		sub = sub[:0]
		for _, r := range recs {
			if r.need&bit != 0 {
				sub = append(sub, r)
			}
		}
		if len(sub) == 0 || d.skip(i, sub) {
			continue
		}
		attempted = true
		bt := d.writeTo(i, sub)
		for j, r := range bt.recs {
			switch err := bt.errs[j]; {
			case err == nil:
				r.need &^= bit
				d.markHeld(r)
				progress = true
			case errors.Is(err, ErrOversize) && r.held:
				r.need &^= bit // it will never fit there
				d.o.backendCounters[i].missed.Add(1)
			}
		}
	}
	return attempted, progress
}

// markHeld marks r as held by a backend, counting it written the first
// time (in Stats when the delivery ends).
func (d *drain) markHeld(r *record) {
	if !r.held {
		r.held = true
		d.newlyHeld++
	}
}

// writeTo writes recs to backend i and returns the batch with its per-entry
// results, which it also records on each failed entry. It counts one
// attempt for each entry, once per delivery.
func (d *drain) writeTo(i int, recs []*record) *batch {
	bt := &d.bt
	bt.recs = recs
	bt.ahead = d.slot
	bt.lines = bt.lines[:0]
	retried := 0
	for _, r := range recs {
		bt.lines = append(bt.lines, r.line)
		if r.round != d.round {
			r.round = d.round
			r.tries++
			if r.tries > 1 {
				retried++
			}
		}
	}
	d.o.drained.retried.Add(uint64(retried))
	bt.errs = slices.Grow(bt.errs[:0], len(recs))[:len(recs)]
	clear(bt.errs)
	b := &d.o.backends[i]
	start := d.batchStart()
	err := b.write(d.ctx, bt)
	c := &d.o.backendCounters[i]
	c.batches.Add(1)
	failed, unavailable := 0, 0
	for j, r := range recs {
		e := bt.errs[j]
		if e == nil {
			d.dirty[i] = true
			continue
		}
		failed++
		r.lastErr = &BackendError{Kind: b.kind, Entries: 1, Err: e}
		if !errors.Is(e, ErrOversize) {
			r.oversize = false
			unavailable++
		}
	}
	c.entries.Add(uint64(len(recs) - failed))
	d.noteResult(i, len(recs)-failed, unavailable)
	if failed > 0 {
		if err == nil {
			err = fmt.Errorf("%d of %d entries failed: %w", failed, len(recs), firstError(bt.errs))
		}
		d.backendFailed(i, &BackendError{Kind: b.kind, Entries: failed, Err: err}, failed)
	}
	d.batchDone(i, start, len(recs), failed, err)
	return bt
}

func firstError(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
